"""One-time codes that move a session cookie from the server-side jar into the browser.

In the web target the user signs in through the Flet UI, so the session cookie first
lands in the per-session ``httpx`` jar on the server. For the sign-in to survive a
browser refresh or a server restart the browser must hold the HttpOnly cookie too, and
only an HTTP response can give it one. The UI asks for a short-lived, single-use code
and sends the browser to ``GET /api/v1/auth/handoff/{code}``, which sets the cookie and
redirects back. The token itself never appears in a URL or in browser JavaScript.

Codes live only in memory (the token must not be written anywhere), for 30 seconds.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from backend.core.security import hash_token

HANDOFF_TTL_SECONDS = 30


@dataclass(frozen=True)
class _Pending:
    token: str
    expires: float


class CookieHandoffStore:
    def __init__(self, ttl_seconds: float = HANDOFF_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def create(self, token: str) -> str:
        code = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._drop_expired(now)
            self._pending[hash_token(code)] = _Pending(token, now + self.ttl_seconds)
        return code

    def redeem(self, code: str) -> str | None:
        """The token for a code, once; None for an unknown, used or expired code."""
        with self._lock:
            pending = self._pending.pop(hash_token(code), None)
        if pending is None or pending.expires < time.monotonic():
            return None
        return pending.token

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, p in self._pending.items() if p.expires < now]:
            del self._pending[key]
