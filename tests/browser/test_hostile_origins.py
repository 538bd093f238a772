"""A real ``aegis serve`` against hostile pages and hostile Host headers.

* Login CSRF through the cookie hand-off: the attacker mints a code from their own
  session and a page on another origin sends the victim's tab to it. Real Chromium, so
  the fetch metadata is what a browser really sends; and over plain http to a name
  (as to a LAN address), where Chromium sends none and the Referer decides.
* DNS rebinding: a Host (and an Origin agreeing with it) of the attacker's naming, on
  HTTP and on the WebSocket upgrade, over real sockets to a real uvicorn.
* Framing: a page on another origin cannot show the dashboard in an iframe.
* The hand-off code never reaches the server's log (uvicorn's real access log).

The product's own hand-off (same-origin navigation from the dashboard) is proved by
every sign-in in ``test_web_flows.py`` (``submit_and_reload`` asserts the tab went
through it, and ``test_reload_keeps_the_user_signed_in`` that the cookie stuck), and
here by ``test_our_own_page_still_hands_the_cookie_over``.
"""

from __future__ import annotations

import base64
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import msgpack
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.browser.conftest import (
    CHROMIUM_ARGS,
    EMAIL,
    PASSWORD,
    AegisServer,
    free_port,
    new_context,
)
from tests.conftest import require_executable
from tests.waiting import wait_until

HANDOFF = "/api/v1/auth/handoff/"
ATTACKER_EMAIL = "mallory@example.com"
REBOUND_HOST = "evil.example"


# --- the attacker's side ----------------------------------------------------------------


def sign_in_cookies(server: AegisServer, email: str) -> httpx.Cookies:
    response = httpx.post(
        server.url("/api/v1/auth/login"), json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.cookies


def create_attacker_account(server: AegisServer) -> None:
    """Mallory is an ordinary (viewer) user of the same server."""
    response = httpx.post(
        server.url("/api/v1/users"),
        json={"email": ATTACKER_EMAIL, "full_name": "Mallory", "password": PASSWORD},
        cookies=sign_in_cookies(server, EMAIL),
    )
    assert response.status_code == 201, response.text


def mint_handoff_code(server: AegisServer, cookies: httpx.Cookies) -> str:
    response = httpx.post(server.url("/api/v1/auth/handoff"), cookies=cookies)
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


@dataclass
class AttackerSite:
    """A tiny web server on its own loopback port: another origin than ``aegis serve``."""

    port: int
    pages: dict[str, str]

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def attacker_site() -> Iterator[AttackerSite]:
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output to what matters

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="attacker-site", daemon=True)
    thread.start()
    try:
        yield AttackerSite(int(httpd.server_address[1]), pages)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def browser_cookie(context: BrowserContext, base_url: str) -> str | None:
    for cookie in context.cookies(base_url):
        if cookie["name"] == "aegis_session":
            return cookie["value"]
    return None


def session_cookie_in(context: BrowserContext, server: AegisServer) -> str | None:
    return browser_cookie(context, server.base_url)


def browser_executable() -> str:
    return require_executable("chromium", "the browser tests drive Debian's Chromium")


def signed_in_as(server: AegisServer, token: str | None) -> str | None:
    if token is None:
        return None
    response = httpx.get(server.url("/api/v1/auth/me"), cookies={"aegis_session": token})
    return str(response.json()["email"]) if response.status_code == 200 else None


@pytest.fixture
def victim(browser: Browser, server: AegisServer) -> Iterator[tuple[BrowserContext, str]]:
    """Ada, the first admin, signed in in her browser (the cookie the server gave her)."""
    server.register()
    create_attacker_account(server)
    context = new_context(browser)
    token = server.login_token()
    context.add_cookies(
        [{"name": "aegis_session", "value": token, "url": server.base_url, "httpOnly": True}]
    )
    yield context, token
    context.close()


# --- login CSRF -------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(
    "attacker_host",
    ["localhost", "127.0.0.1"],
    ids=["cross-site", "same-site-other-port"],
)
def test_a_hand_off_opened_from_another_origin_leaves_the_victim_signed_in_as_herself(
    server: AegisServer,
    victim: tuple[BrowserContext, str],
    attacker_site: AttackerSite,
    attacker_host: str,
) -> None:
    context, victim_token = victim
    code = mint_handoff_code(server, sign_in_cookies(server, ATTACKER_EMAIL))
    handoff_url = server.url(f"{HANDOFF}{code}?next={quote('/dashboard/', safe='')}")
    attacker_site.pages["/"] = f"<script>location.href = {handoff_url!r};</script>"

    page = context.new_page()
    seen: list[Request] = []
    page.on("request", lambda r: seen.append(r) if HANDOFF in r.url else None)
    page.goto(attacker_site.url(attacker_host, "/"))
    page.wait_for_url(f"{server.base_url}/dashboard/**")

    # The attack really happened as a browser does it...
    assert seen, "the attacker's page did not navigate to the hand-off"
    expected_site = "cross-site" if attacker_host == "localhost" else "same-site"
    assert seen[0].all_headers().get("sec-fetch-site") == expected_site
    # ...and the victim is still herself.
    assert session_cookie_in(context, server) == victim_token
    assert signed_in_as(server, session_cookie_in(context, server)) == EMAIL
    page.close()


@pytest.mark.browser
def test_our_own_page_still_hands_the_cookie_over(
    server: AegisServer, victim: tuple[BrowserContext, str]
) -> None:
    """The control for the test above: the same code, the same navigation, started from
    a page of our own origin (as the dashboard does after a sign-in) sets the cookie."""
    context, _ = victim
    code = mint_handoff_code(server, sign_in_cookies(server, ATTACKER_EMAIL))
    page = context.new_page()
    page.goto(server.url("/api/v1/health"))
    page.evaluate("url => { location.href = url; }", server.url(f"{HANDOFF}{code}"))
    page.wait_for_url(f"{server.base_url}/dashboard/**")
    assert signed_in_as(server, session_cookie_in(context, server)) == ATTACKER_EMAIL
    page.close()


# --- plain http to a name: no fetch metadata, the Referer decides ------------------------

PLAIN_NAME = "aegis-lan.test"  # resolved to 127.0.0.1 by this test's own Chromium


@dataclass
class NamedServer:
    """``aegis serve`` as a browser reaches it by a plain http name (like a LAN address).

    Chromium sends fetch metadata only to trustworthy origins (https, loopback), so
    there the Referer is the only evidence of where a navigation came from. The name
    resolves to loopback inside this browser only (``--host-resolver-rules``), and the
    server is told to answer to it through ``AEGIS_ALLOWED_HOSTS``.
    """

    server: AegisServer
    browser: Browser

    @property
    def base_url(self) -> str:
        return f"http://{PLAIN_NAME}:{self.server.port}"


@pytest.fixture
def named_server(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[NamedServer]:
    data_dir = tmp_path / "named-data"
    data_dir.mkdir()
    aegis = AegisServer(data_dir, tmp_path / "named-serve.log", free_port())
    own = f"{PLAIN_NAME}:{aegis.port},127.0.0.1:{aegis.port}"
    monkeypatch.setenv("AEGIS_ALLOWED_HOSTS", own)  # read by the server it starts
    aegis.start()
    resolver = f"--host-resolver-rules=MAP {PLAIN_NAME} 127.0.0.1"
    named_browser = browser.browser_type.launch(
        executable_path=browser_executable(), args=[*CHROMIUM_ARGS, resolver]
    )
    try:
        yield NamedServer(aegis, named_browser)
    finally:
        named_browser.close()
        try:
            aegis.stop()
        finally:
            call = getattr(request.node, "report_call", None)
            if call is None or call.failed:
                print(f"===== aegis serve log ({aegis.log_path}) =====\n{aegis.log()}")


@pytest.fixture
def named_victim(named_server: NamedServer) -> Iterator[tuple[BrowserContext, str]]:
    server = named_server.server
    server.register()
    create_attacker_account(server)
    context = new_context(named_server.browser)
    token = server.login_token()
    context.add_cookies(
        [{"name": "aegis_session", "value": token, "url": named_server.base_url, "httpOnly": True}]
    )
    yield context, token
    context.close()


@pytest.mark.browser
def test_over_plain_http_our_own_page_hands_over_by_its_referer(
    named_server: NamedServer, named_victim: tuple[BrowserContext, str]
) -> None:
    server, base = named_server.server, named_server.base_url
    context, _ = named_victim
    code = mint_handoff_code(server, sign_in_cookies(server, ATTACKER_EMAIL))
    page = context.new_page()
    page.goto(f"{base}/api/v1/health")
    with page.expect_request(f"**{HANDOFF}**") as handoff:
        page.evaluate("url => { location.href = url; }", f"{base}{HANDOFF}{code}")
    page.wait_for_url(f"{base}/dashboard/**")
    headers = handoff.value.all_headers()
    assert "sec-fetch-site" not in headers, "this test is about browsers sending none"
    assert headers["referer"] == f"{base}/api/v1/health"
    assert signed_in_as(server, browser_cookie(context, base)) == ATTACKER_EMAIL
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("hide_referer", [False, True], ids=["referer", "no-referrer"])
def test_over_plain_http_a_foreign_page_cannot_hand_over(
    named_server: NamedServer,
    named_victim: tuple[BrowserContext, str],
    attacker_site: AttackerSite,
    hide_referer: bool,
) -> None:
    """The attacker's page leaves its own Referer, or suppresses it: no cookie either way."""
    server, base = named_server.server, named_server.base_url
    context, victim_token = named_victim
    code = mint_handoff_code(server, sign_in_cookies(server, ATTACKER_EMAIL))
    meta = '<meta name="referrer" content="no-referrer">' if hide_referer else ""
    target = f"{base}{HANDOFF}{code}"
    attacker_site.pages["/"] = f"{meta}<script>location.href = {target!r};</script>"
    page = context.new_page()
    with page.expect_request(f"**{HANDOFF}**") as handoff:
        page.goto(attacker_site.url("localhost", "/"))
    page.wait_for_url(f"{base}/dashboard/**")
    headers = handoff.value.all_headers()
    assert "sec-fetch-site" not in headers
    assert ("referer" in headers) is not hide_referer, headers.get("referer")
    assert browser_cookie(context, base) == victim_token
    page.close()


# --- framing ----------------------------------------------------------------------------


@pytest.mark.browser
def test_another_origin_cannot_frame_the_dashboard(
    server: AegisServer, page: Page, attacker_site: AttackerSite
) -> None:
    attacker_site.pages["/frame"] = f'<iframe src="{server.url("/dashboard/")}"></iframe>'
    with page.expect_response(server.url("/dashboard/")) as framed:
        page.goto(attacker_site.url("localhost", "/frame"))
    assert framed.value.status == 200
    [frame] = [f for f in page.frames if f != page.main_frame]
    # Chromium swaps a refused frame's document for its error page; without the
    # headers the frame stays on the dashboard and loads it.
    frame.wait_for_url("chrome-error://chromewebdata/", timeout=15_000)


# --- DNS rebinding, over real sockets -----------------------------------------------------

REGISTER_CLIENT = 1  # Flet 0.82.2's wire protocol: msgpack [action, body], no type byte


def register_frame() -> bytes:
    page = {"route": "/", "width": 800, "height": 600, "web": True, "platform": "linux"}
    body = {"session_id": None, "page_name": "", "page": page}
    frame: bytes = msgpack.packb([REGISTER_CLIENT, body])
    return frame


def raw_websocket_upgrade(port: int, host: str, origin: str) -> str:
    """The status line uvicorn answers a WebSocket upgrade with (``HTTP/1.1 101 ...``)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /dashboard/ws HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n"
        "\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n", 1)[0].decode()


def test_a_rebinding_host_is_refused_on_http_and_on_the_websocket(server: AegisServer) -> None:
    rebound = f"{REBOUND_HOST}:{server.port}"
    origin = f"http://{rebound}"
    health = httpx.get(server.url("/api/v1/health"), headers={"host": rebound})
    assert health.status_code == 400
    assert rebound in health.json()["detail"]
    assert raw_websocket_upgrade(server.port, rebound, origin).startswith("HTTP/1.1 400 ")
    # The control: the server's own name and origin still open the WebSocket. (It
    # registers before closing: a socket closed before that keeps `aegis serve` from
    # stopping, a Flet-side problem that is not this test's subject.)
    own = f"127.0.0.1:{server.port}"
    with connect(f"ws://{own}/dashboard/ws", origin=Origin(f"http://{own}")) as ws:
        assert ws.response is not None and ws.response.status_code == 101
        ws.send(register_frame())
        assert msgpack.unpackb(ws.recv(timeout=10))[0] == REGISTER_CLIENT


def test_a_rebinding_page_cannot_register_the_first_admin(server: AegisServer) -> None:
    rebound = f"{REBOUND_HOST}:{server.port}"
    response = httpx.post(
        server.url("/api/v1/auth/register"),
        json={"email": ATTACKER_EMAIL, "password": PASSWORD, "full_name": "Mallory"},
        headers={"host": rebound, "origin": f"http://{rebound}", "sec-fetch-site": "same-origin"},
    )
    assert response.status_code == 400
    assert "aegis_session" not in response.cookies
    status = httpx.get(server.url("/api/v1/auth/registration")).json()
    assert status["first_account"] is True, "the rebinding page created an account"


def test_a_foreign_origin_with_our_host_is_refused(server: AegisServer) -> None:
    response = httpx.post(
        server.url("/api/v1/auth/register"),
        json={"email": ATTACKER_EMAIL, "password": PASSWORD, "full_name": "Mallory"},
        headers={"origin": f"http://localhost:{server.port + 1}"},
    )
    assert response.status_code == 403
    own = f"127.0.0.1:{server.port}"
    foreign_ws = raw_websocket_upgrade(server.port, own, "http://evil.example")
    assert not foreign_ws.startswith("HTTP/1.1 101 "), foreign_ws


def test_the_in_process_host_is_not_accepted_from_the_network(server: AegisServer) -> None:
    response = httpx.get(server.url("/api/v1/health"), headers={"host": "aegis.internal"})
    assert response.status_code == 400


def test_every_loopback_name_of_the_bound_port_is_accepted(server: AegisServer) -> None:
    for host in ("127.0.0.1", "localhost", "[::1]"):
        response = httpx.get(
            server.url("/api/v1/health"), headers={"host": f"{host}:{server.port}"}
        )
        assert response.status_code == 200, (host, response.text)


# --- the access log -----------------------------------------------------------------------


def test_the_hand_off_code_never_reaches_the_log(server: AegisServer) -> None:
    server.register()
    code = mint_handoff_code(server, sign_in_cookies(server, EMAIL))
    response = httpx.get(
        server.url(f"{HANDOFF}{code}"),
        headers={"sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and "aegis_session" in response.cookies
    log_file = server.data_dir / "logs" / "aegis-serve.log"
    redacted = f'"GET {HANDOFF}<redacted> HTTP/1.1" 303'
    wait_until(
        lambda: redacted in server.log() and redacted in log_file.read_text(),
        10,
        what="the redeem's access-log line, redacted, in the console and the log file",
    )
    assert code not in server.log()  # the console (stdout and stderr)
    assert code not in log_file.read_text()  # the rotating log file
