"""What differs between the web and the desktop target, and nothing else.

Views, routing and state are shared; a target only says how a session reaches the
backend (``new_http_client``), where it keeps the session cookie between Python
sessions (``new_cookie_store``), what it must do once a view is shown
(``after_navigation``: the web target hands a new cookie to the browser), and whether
it takes a new session at all (``admission``: the web target caps anonymous sessions
per address).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import flet as ft
import httpx

from aegis_app.api_client import APIClient
from aegis_app.state import SessionCookieStore, SessionState

API_TIMEOUT = httpx.Timeout(15.0, connect=5.0)

Store = TypeVar("Store", bound=SessionCookieStore)


class SessionAdmission(Protocol):
    def admit(self, page: ft.Page, state: SessionState) -> str | None:
        """``None``: admitted, and counted until :meth:`release`. Else why not, in words."""
        ...

    def release(self, page: ft.Page, state: SessionState) -> None:
        """The session is gone (evicted or closed)."""
        ...


class AdmitEveryone:
    """The desktop target: one window, one session."""

    def admit(self, page: ft.Page, state: SessionState) -> str | None:
        return None

    def release(self, page: ft.Page, state: SessionState) -> None:
        return None


@dataclass(frozen=True)
class Target(Generic[Store]):
    """One way to run the app. ``Store`` is the target's own cookie store, which its
    ``after_navigation`` (if any) is handed together with the route just shown."""

    new_http_client: Callable[[ft.Page], httpx.AsyncClient]
    new_cookie_store: Callable[[ft.Page, APIClient], Store]
    after_navigation: Callable[[Store, str], Awaitable[None]] | None = None
    admission: SessionAdmission = field(default_factory=AdmitEveryone)
