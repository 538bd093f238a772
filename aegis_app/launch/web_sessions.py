"""The web target's rules for its Flet sessions.

A browser tab keeps its Flet session id in ``sessionStorage``, which scripts can read;
whoever presents that id (with the same address and user agent) used to get the
Python session back, signed in. And every anonymous WebSocket held a Python session
for the full timeout. So:

* **Re-attach is bound to the cookie.** A session that holds an API session token is
  given back only to a WebSocket handshake that carries the same ``aegis_session``
  cookie; a signed-out one (no token, nothing to steal) to anyone. Otherwise Flet
  starts a fresh session, and ``main`` signs in from the cookie if it can.
* **Anonymous sessions are short-lived and capped.** A signed-out session is kept
  :data:`ANONYMOUS_SESSION_TIMEOUT_SECONDS` after its client goes; Flet's eviction
  loop runs every 10 s, so it is gone within 30 s. One client address may hold at
  most ``AEGIS_ANONYMOUS_SESSIONS_PER_IP`` of them; a new one over that is shown
  :data:`TOO_MANY_SESSIONS` instead of the app, and is dropped as soon as it closes.

"Signed in" here means the session's API client holds a token: what re-attaching
would hand over.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

import flet as ft
from fastapi import FastAPI
from flet.messaging.session import Session

from aegis_app.app import REFUSAL_KEY, ROUTER_KEY
from aegis_app.routing import Router
from aegis_app.state import STATE_KEY, SessionState

handshake_token: ContextVar[str | None] = ContextVar("aegis_handshake_token", default=None)
"""The ``aegis_session`` cookie of the WebSocket upgrade this context is handling."""

ANONYMOUS_SESSION_TIMEOUT_SECONDS = 15
TOO_MANY_SESSIONS = (
    "Too many open sessions from your address. Close some Aegis tabs, "
    "wait a minute, then reload this page."
)


def session_state(session: Session) -> SessionState | None:
    data = session.page.data
    state = data.get(STATE_KEY) if isinstance(data, dict) else None
    return state if isinstance(state, SessionState) else None


def holds_token(state: SessionState | None) -> bool:
    return state is not None and state.api.session_token is not None


def was_refused(session: Session) -> bool:
    data = session.page.data
    return isinstance(data, dict) and REFUSAL_KEY in data


class WebSessionRules:
    """:class:`~aegis_app.launch.flet_web_patches.SessionRules` for the web target."""

    def may_reattach(self, session: Session) -> bool:
        if was_refused(session):
            return False  # a reload is a new request for admission
        state = session_state(session)
        if state is None or (token := state.api.session_token) is None:
            return True
        presented = handshake_token.get()
        return presented is not None and hmac.compare_digest(presented.encode(), token.encode())

    def disconnect_timeout(self, session: Session, default_seconds: int) -> int:
        if was_refused(session):
            return 0
        if holds_token(session_state(session)):
            return default_seconds
        return min(default_seconds, ANONYMOUS_SESSION_TIMEOUT_SECONDS)


class AdmittedSessions:
    """Every Flet session this web app admitted, by client address: a
    :class:`~aegis_app.target.SessionAdmission` that lets in at most ``anonymous_per_ip``
    signed-out sessions per address (``page.client_ip``: the WebSocket's peer, which
    uvicorn rewrites from trusted proxy headers), and closes them all at shutdown.

    A session is counted from admission until its release, signed in or not, because a
    signed-in one can sign out. Admission runs on the event loop with no ``await``
    between counting and adding, so sessions arriving together cannot overshoot.
    """

    def __init__(self, anonymous_per_ip: int) -> None:
        self.anonymous_per_ip = anonymous_per_ip
        self._by_ip: defaultdict[str, dict[SessionState, ft.Page]] = defaultdict(dict)

    def anonymous(self, ip: str) -> int:
        return sum(1 for state in self._by_ip.get(ip, {}) if not holds_token(state))

    def admit(self, page: ft.Page, state: SessionState) -> str | None:
        ip = page.client_ip or ""
        if not holds_token(state) and self.anonymous(ip) >= self.anonymous_per_ip:
            return TOO_MANY_SESSIONS
        self._by_ip[ip][state] = page
        return None

    def release(self, page: ft.Page, state: SessionState) -> None:
        ip = page.client_ip or ""
        held = self._by_ip.get(ip)
        if held is not None:
            held.pop(state, None)
            if not held:
                del self._by_ip[ip]

    async def close_all(self) -> None:
        """Stop every session's views and close its API client, which waits for its
        requests in flight: before the database goes away, not while it does."""
        sessions = [(page, state) for held in self._by_ip.values() for state, page in held.items()]
        self._by_ip.clear()
        for page, state in sessions:
            router = page.data.get(ROUTER_KEY) if isinstance(page.data, dict) else None
            if isinstance(router, Router):
                await router.close()
            await state.close()

    @asynccontextmanager
    async def closed_at_shutdown(self, _: FastAPI) -> AsyncIterator[None]:
        """A lifespan hook for ``create_api``."""
        try:
            yield
        finally:
            await self.close_all()
