"""Unit tests: password hashing and the ASGI guards.

(The sign-in throttle and the hand-off codes live in the database now:
tests/backend/test_throttle.py and tests/backend/test_handoff_store.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.guards import (
    LAUNCH_SECRET_HEADER,
    BodySizeLimit,
    CrossSiteGuard,
    LoopbackOnlyGuard,
)
from backend.core.hosts import HostAllowlist
from backend.core.security import (
    hash_password,
    hash_token,
    new_session_token,
    tokens_equal,
    verify_password,
)

# --- passwords and tokens --------------------------------------------------------------


def test_password_hashing() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("anything", None)
    assert not verify_password("anything", "not-a-hash")
    assert hash_password("same") != hash_password("same")  # salted


def test_session_tokens() -> None:
    tokens = {new_session_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 43 for t in tokens)  # 32 bytes, base64url without padding
    token = tokens.pop()
    assert len(hash_token(token)) == 64
    assert tokens_equal(token, token)
    assert not tokens_equal(token, token[:-1] + ("A" if token[-1] != "A" else "B"))


# --- LoopbackOnlyGuard -----------------------------------------------------------------


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


def tiny_app() -> Starlette:
    return Starlette(routes=[Route("/", hello, methods=["GET", "POST"])])


def client_for(app: ASGIApp, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


SECRET = "launch-secret-123"
HOST = "127.0.0.1:8765"


@pytest.fixture
def loopback_app() -> LoopbackOnlyGuard:
    return LoopbackOnlyGuard(tiny_app(), secret=SECRET, allowed_hosts=[HOST])


async def test_loopback_guard_lets_its_window_in(loopback_app: LoopbackOnlyGuard) -> None:
    async with client_for(loopback_app, f"http://{HOST}") as client:
        response = await client.get("/", headers={LAUNCH_SECRET_HEADER: SECRET})
    assert response.status_code == 200
    assert response.text == "hello"


@pytest.mark.parametrize(
    ("base_url", "headers", "detail"),
    [
        (f"http://{HOST}", {}, "Missing or wrong launch secret."),
        (f"http://{HOST}", {LAUNCH_SECRET_HEADER: ""}, "Missing or wrong launch secret."),
        (f"http://{HOST}", {LAUNCH_SECRET_HEADER: SECRET + "x"}, "Missing or wrong launch secret."),
        (f"http://{HOST}", {LAUNCH_SECRET_HEADER: SECRET[:-1]}, "Missing or wrong launch secret."),
        ("http://evil.example:8765", {LAUNCH_SECRET_HEADER: SECRET}, "Unknown host."),
        ("http://127.0.0.1:9999", {LAUNCH_SECRET_HEADER: SECRET}, "Unknown host."),
        ("http://localhost:8765", {LAUNCH_SECRET_HEADER: SECRET}, "Unknown host."),
        ("http://evil.example", {}, "Unknown host."),
    ],
    ids=[
        "no-secret",
        "empty-secret",
        "longer-secret",
        "shorter-secret",
        "rebound-host",
        "other-port",
        "unlisted-name",
        "nothing-right",
    ],
)
async def test_loopback_guard_refuses(
    loopback_app: LoopbackOnlyGuard, base_url: str, headers: dict[str, str], detail: str
) -> None:
    async with client_for(loopback_app, base_url) as client:
        response = await client.post("/", headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": detail}
    assert "hello" not in response.text


async def run_websocket(app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    """Drive one WebSocket connect through ``app``; return what it sent."""
    scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8765),
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    sent: list[Message] = []
    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.disconnect", "code": 1000},
    ]

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def accepting_ws_app(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})


async def test_loopback_guard_websocket() -> None:
    guard = LoopbackOnlyGuard(accepting_ws_app, secret=SECRET, allowed_hosts=[HOST])
    good = [(b"host", HOST.encode()), (LAUNCH_SECRET_HEADER.encode(), SECRET.encode())]
    assert (await run_websocket(guard, good))[0] == {"type": "websocket.accept"}
    no_secret = [(b"host", HOST.encode())]
    assert await run_websocket(guard, no_secret) == [{"type": "websocket.close", "code": 1008}]
    wrong_host = [(b"host", b"evil.example"), (LAUNCH_SECRET_HEADER.encode(), SECRET.encode())]
    assert await run_websocket(guard, wrong_host) == [{"type": "websocket.close", "code": 1008}]


# --- CrossSiteGuard and BodySizeLimit on a plain ASGI app -------------------------------


async def test_cross_site_guard_websocket() -> None:
    guard = CrossSiteGuard(accepting_ws_app, HostAllowlist.of(["127.0.0.1:8765"]))
    same = [(b"host", b"127.0.0.1:8765"), (b"origin", b"http://127.0.0.1:8765")]
    assert (await run_websocket(guard, same))[0] == {"type": "websocket.accept"}
    foreign = [(b"host", b"127.0.0.1:8765"), (b"origin", b"https://evil.example")]
    assert await run_websocket(guard, foreign) == [{"type": "websocket.close", "code": 1008}]
    # WebSockets are checked with or without a cookie.
    null = [(b"host", b"127.0.0.1:8765"), (b"origin", b"null")]
    assert await run_websocket(guard, null) == [{"type": "websocket.close", "code": 1008}]


async def test_cross_site_guard_checks_requests_with_and_without_cookie() -> None:
    guard = CrossSiteGuard(tiny_app(), HostAllowlist.of(["testserver"]))
    async with client_for(guard, "http://testserver") as client:
        response = await client.post("/", headers={"origin": "https://evil.example"})
        assert response.status_code == 403
        response = await client.post("/", headers={"origin": "http://testserver"})
        assert response.status_code == 200
        response = await client.post("/")  # not a browser: no Origin at all
        assert response.status_code == 200
        response = await client.post(
            "/",
            headers={"origin": "https://evil.example", "cookie": "aegis_session=abc"},
        )
        assert response.status_code == 403


async def echo_length(request: Request) -> Response:
    return PlainTextResponse(str(len(await request.body())))


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_body_size_limit_on_a_plain_app(streamed: bool) -> None:
    app = BodySizeLimit(Starlette(routes=[Route("/", echo_length, methods=["POST"])]), 1024)

    def body(size: int) -> bytes | AsyncIterator[bytes]:
        if not streamed:
            return b"x" * size

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, size, 300):
                yield b"x" * min(300, size - start)

        return chunks()

    async with client_for(app, "http://testserver") as client:
        ok = await client.post("/", content=body(1024))
        assert ok.status_code == 200
        assert ok.text == "1024"
        big = await client.post("/", content=body(1025))
        assert big.status_code == 413
        # Announced: the middleware answers in JSON. Streamed: the app's own
        # HTTPException handler renders it (plain text in bare Starlette).
        assert "Request body is larger than 1024 bytes." in big.text
        assert big.text != "1025"
