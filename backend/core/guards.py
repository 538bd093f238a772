"""ASGI middleware that refuses requests before they reach a route.

Pure ASGI rather than ``BaseHTTPMiddleware`` so they add no task per request and
leave WebSockets to the mounted Flet app untouched unless said otherwise.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAUNCH_SECRET_HEADER = "x-aegis-launch-secret"  # noqa: S105 (a header name, not a secret)


async def send_json_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await send_json_error(send, 413, f"Request body is larger than {self.max_bytes} bytes.")
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await send_json_error(
                    send, 413, f"Request body is larger than {self.max_bytes} bytes."
                )


class _BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parsing re-raises it as a 413 instead of
    swallowing it into a 400 "error parsing the body"; plain ASGI apps leave it to us."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=f"Request body is larger than {max_bytes} bytes.")


def request_origin(scope: Scope, headers: Headers) -> str:
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return f"{scheme}://{headers.get('host', '')}"


class CrossSiteGuard:
    """403 for a state-changing request sent by another site.

    SameSite=Lax still lets same-site (other subdomain) pages and top-level POSTs
    through in some browsers, so the Origin and Fetch Metadata headers are checked too.
    Requests without a cookie are checked as well: a foreign page must not be able to
    sign a browser into the attacker's account (login CSRF) either. Clients that are not
    browsers send no Origin and pass. WebSocket upgrades to the dashboard are checked
    the same way (no cross-site WebSocket hijacking).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            if _is_cross_site(scope, headers):
                await send_json_error(send, 403, "Cross-site request refused.")
                return
        elif scope["type"] == "websocket":
            headers = Headers(scope=scope)
            if _is_cross_site(scope, headers):
                await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


def _is_cross_site(scope: Scope, headers: Headers) -> bool:
    origin = headers.get("origin")
    if origin is not None and origin != "null":
        return origin.rstrip("/") != request_origin(scope, headers)
    if origin == "null":
        return True
    return headers.get("sec-fetch-site") == "cross-site"


class LoopbackOnlyGuard:
    """The desktop backend's door: only its own window gets in.

    Every request must carry the per-launch secret, and the Host header must name the
    loopback address and port we listen on, which defeats DNS rebinding.
    """

    def __init__(self, app: ASGIApp, secret: str, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self._secret = secret.encode()
        self._allowed_hosts = frozenset(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host_ok = headers.get("host", "") in self._allowed_hosts
        given = headers.get(LAUNCH_SECRET_HEADER, "").encode()
        secret_ok = hmac.compare_digest(given, self._secret)
        if host_ok and secret_ok:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            detail = "Unknown host." if not host_ok else "Missing or wrong launch secret."
            await send_json_error(send, 403, detail)
