"""ASGI middleware that refuses requests before they reach a route.

Pure ASGI rather than ``BaseHTTPMiddleware`` so they add no task per request and
leave WebSockets to the mounted Flet app untouched unless said otherwise.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.hosts import HostAllowlist, http_scheme

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAUNCH_SECRET_HEADER = "x-aegis-launch-secret"  # noqa: S105 (a header name, not a secret)
DESKTOP_CLIENT_STATE = "aegis_desktop_client"
"""Key in the ASGI scope's ``state``: set only by ``LoopbackOnlyGuard`` once the launch
secret matched, so only the desktop window's own requests carry it."""


def json_error_messages(kind: str, status: int, detail: str) -> tuple[Message, Message]:
    """The start and body messages of a ``{"detail": ...}`` answer; ``kind`` is
    ``http.response`` or, refusing a WebSocket upgrade, ``websocket.http.response``."""
    body = json.dumps({"detail": detail}).encode()
    start: Message = {
        "type": f"{kind}.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, {"type": f"{kind}.body", "body": body}


async def send_json_error(send: Send, status: int, detail: str) -> None:
    for message in json_error_messages("http.response", status, detail):
        await send(message)


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


class CrossSiteGuard:
    """403 for a state-changing request sent by another site.

    SameSite=Lax still lets same-site (other subdomain) pages and top-level POSTs
    through in some browsers, so the Origin and Fetch Metadata headers are checked too.
    Requests without a cookie are checked as well: a foreign page must not be able to
    sign a browser into the attacker's account (login CSRF) either. Clients that are not
    browsers send no Origin and pass. WebSocket upgrades to the dashboard are checked
    the same way (no cross-site WebSocket hijacking).

    The Origin is compared with the allowed hosts, never with the request's own Host:
    a DNS-rebinding page sends a Host and an Origin that agree, both its own.
    """

    def __init__(self, app: ASGIApp, allowlist: HostAllowlist) -> None:
        self.app = app
        self.allowlist = allowlist

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            if self._is_cross_site(scope):
                await send_json_error(send, 403, "Cross-site request refused.")
                return
        elif scope["type"] == "websocket" and self._is_cross_site(scope):
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)

    def _is_cross_site(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None:
            if origin == "null":
                return True
            return not self.allowlist.allows_origin(origin, http_scheme(scope.get("scheme", "")))
        return headers.get("sec-fetch-site") == "cross-site"


IN_PROCESS_MARK = "aegis.in_process"


class InProcessMark:
    """Marks every request as made from inside this process (``IN_PROCESS_MARK``).

    In-process clients (the web target's API calls, the latency probe) reach the app
    through this wrapper object, which nothing on the network can reach, so the mark
    cannot be forged by a request. They use a Host of their own (``aegis.internal``)
    that the allowlist must not accept from the network.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, IN_PROCESS_MARK: True}, receive, send)


class HostAllowlistGuard:
    """400 for a Host header the server does not answer to (DNS rebinding), on HTTP and
    on WebSocket upgrades alike; in-process requests (:class:`InProcessMark`) pass."""

    def __init__(self, app: ASGIApp, allowlist: HostAllowlist) -> None:
        self.app = app
        self.allowlist = allowlist

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get(IN_PROCESS_MARK) is True:
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if self.allowlist.allows_host(host):
            await self.app(scope, receive, send)
            return
        shown = "no Host header" if host is None else f"the host {host[:100]!r}"
        detail = (
            f"This server does not answer to {shown}. "
            "Its administrator can add the name to AEGIS_ALLOWED_HOSTS."
        )
        if scope["type"] == "http":
            await send_json_error(send, 400, detail)
        else:
            await refuse_websocket(scope, send, 400, detail)


async def refuse_websocket(scope: Scope, send: Send, status: int, detail: str) -> None:
    """An HTTP error instead of the upgrade where the server supports it (uvicorn does),
    else a close before accepting, which the server turns into a 403."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    for message in json_error_messages("websocket.http.response", status, detail):
        await send(message)


# Framing is never needed (clickjacking); Flet's renderer needs its scripts, so the only
# CSP directive is frame-ancestors. Referrer-Policy same-origin keeps our Referer (the
# hand-off relies on it where fetch metadata is missing) and sends none to other sites.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-frame-options", "DENY"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
)
RESPONSE_STARTS = frozenset({"http.response.start", "websocket.http.response.start"})


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] in RESPONSE_STARTS:
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                policy = headers["content-security-policy"]
                if "frame-ancestors" not in policy:  # a response's own CSP, kept and completed
                    headers["content-security-policy"] = f"{policy}; frame-ancestors 'none'"
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
            scope.setdefault("state", {})[DESKTOP_CLIENT_STATE] = True
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            detail = "Unknown host." if not host_ok else "Missing or wrong launch secret."
            await send_json_error(send, 403, detail)


def from_desktop_app(scope: Scope) -> bool:
    """Whether the request came through the desktop backend's guard with the secret.

    uvicorn gives every request its own copy of ``state``, so the mark cannot leak from
    one request to the next; no header or user agent can set it.
    """
    return bool(scope.get("state", {}).get(DESKTOP_CLIENT_STATE, False))
