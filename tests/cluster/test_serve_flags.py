"""``aegis serve``'s flags for running behind a balancer, and the drain, in-process.

These need no cluster; the real processes behind HAProxy are in the other modules.
"""

from __future__ import annotations

import argparse
import re
import signal

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from aegis_app.cli import DEFAULT_KEEP_ALIVE_SECONDS, LOOPBACK_PROXY, build_parser
from aegis_app.launch.serving import Drain, DrainGate, DrainingServer
from deploy.balancer import PLACEHOLDER, TEMPLATE, Backend, render_config


def serve_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_forwarded_allow_ips_takes_addresses_and_networks() -> None:
    args = serve_args("--forwarded-allow-ips", "10.0.0.5, 10.0.1.0/24,::1")
    assert args.forwarded_allow_ips == ("10.0.0.5", "10.0.1.0/24", "::1")
    assert serve_args().forwarded_allow_ips == ()  # no proxy: X-Forwarded-* ignored
    assert serve_args("--proxy-headers").forwarded_allow_ips == LOOPBACK_PROXY


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("*", "anyone could claim any address"),
        ("balancer.local", "'balancer.local' is not an IP address or network"),
        ("10.0.0.5/24", "'10.0.0.5/24' is not an IP address or network"),  # host bits set
        ("10.0.0.5,", None),  # a trailing comma is fine
        (" , ", "give at least one address"),
    ],
)
def test_forwarded_allow_ips_refuses_what_would_trust_anyone(
    value: str, words: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if words is None:
        assert serve_args("--forwarded-allow-ips", value).forwarded_allow_ips == ("10.0.0.5",)
        return
    with pytest.raises(SystemExit) as refused:
        serve_args("--forwarded-allow-ips", value)
    assert refused.value.code == 2
    assert words in capsys.readouterr().err


def test_proxy_headers_and_forwarded_allow_ips_are_one_choice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        serve_args("--proxy-headers", "--forwarded-allow-ips", "10.0.0.5")
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--timeout-keep-alive", "--timeout-graceful-shutdown"])
def test_timeouts_are_whole_seconds(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        serve_args(flag, "0")
    assert "'0' is not a whole number of seconds, 1 or more" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        serve_args("--drain-seconds", "-1")
    assert "'-1' is not a number of seconds from 0 to 3600" in capsys.readouterr().err


def seconds(directive: str) -> float:
    """A ``timeout <directive> <n>s`` of deploy/haproxy.cfg, in seconds."""
    match = re.search(rf"^\s*timeout {directive} (\d+)(s|m|h)$", TEMPLATE.read_text(), re.M)
    assert match, directive
    return int(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2]]


def test_uvicorn_keeps_connections_longer_than_haproxy_and_any_poller() -> None:
    # HAProxy closes an idle client connection after http-keep-alive; the idle server
    # connections it keeps never outlive that. uvicorn must wait longer still, so that
    # it never closes a connection HAProxy is about to send a request on.
    assert seconds("http-keep-alive") > 5  # the dashboard polls every 5 s
    assert seconds("http-keep-alive") < DEFAULT_KEEP_ALIVE_SECONDS
    assert serve_args().timeout_keep_alive == DEFAULT_KEEP_ALIVE_SECONDS
    assert seconds("tunnel") >= 60  # WebSockets idle between uvicorn's 20 s pings


def test_the_haproxy_template_is_filled_completely() -> None:
    config = render_config(
        bind="127.0.0.1:8080",
        public_host="127.0.0.1:8080",
        source="127.0.0.2",
        stats_socket=TEMPLATE.parent / "admin.sock",
        servers=[Backend("a", "127.0.0.1", 8001), Backend("b", "127.0.0.1", 8002)],
    )
    assert not PLACEHOLDER.search(config)
    assert "    server b 127.0.0.1:8002 cookie b check" in config
    assert "hdr Host 127.0.0.1:8080" in config


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"connection", b"keep-alive")],
        }
    )
    await send({"type": "http.response.body", "body": b"answered"})


async def get(drain: Drain, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=DrainGate(app, drain))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get(path)


async def test_until_sigterm_the_gate_changes_nothing() -> None:
    for path in ("/api/v1/health", "/api/v1/users"):
        response = await get(Drain(3), path)
        assert response.text == "answered"
        assert response.headers["connection"] == "keep-alive"


async def test_while_draining_health_says_so_and_connections_close() -> None:
    drain = Drain(3)
    drain.start()
    health = await get(drain, "/api/v1/health")
    assert health.status_code == 503
    assert health.headers["x-aegis-draining"] == "1"  # what HAProxy's check looks for
    assert health.json()["status"] == "draining"
    other = await get(drain, "/api/v1/users")
    assert other.text == "answered"  # still served
    assert other.headers.get_list("connection") == ["close"]


def test_sigterm_drains_first_sigint_and_a_second_sigterm_do_not() -> None:
    def server(seconds: float) -> DrainingServer:
        return DrainingServer(uvicorn.Config(app), Drain(seconds))

    draining = server(3)
    draining.handle_exit(signal.SIGTERM, None)
    assert draining.drain.active and not draining.should_exit
    draining.handle_exit(signal.SIGTERM, None)  # asked again: stop now
    assert draining.should_exit

    interrupted = server(3)
    interrupted.handle_exit(signal.SIGINT, None)  # Ctrl+C in a terminal
    assert interrupted.should_exit and not interrupted.drain.active

    no_balancer = server(0)
    no_balancer.handle_exit(signal.SIGTERM, None)
    assert no_balancer.should_exit and not no_balancer.drain.active
