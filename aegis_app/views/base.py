"""The view contract: build once, then ``on_enter`` / ``on_refresh`` / ``on_leave``.

A view knows the router only as a :class:`Navigator`, and the router knows views only
through this module: the table of pages (:class:`Pages`) is handed to it by ``app.py``.
So the views and the router import each other nowhere, not even for type checking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import flet as ft

from aegis_app.api_client import APIError, SessionEnded

if TYPE_CHECKING:
    from aegis_app.state import SessionState

log = logging.getLogger("aegis.views")

HOME_ROUTE = "/"


class Navigator(Protocol):
    """What views and the shell may ask of the router."""

    async def go(self, route: str) -> None:
        """Show ``route``; the address bar follows."""
        ...

    async def after_sign_in(self, params: dict[str, str]) -> None:
        """Signed in (or registered): on to where the user was going (``params["next"]``)."""
        ...

    async def sign_out(self) -> None:
        """Sign out, then to sign-in."""
        ...

    def show_user(self) -> None:
        """The signed-in user's name or role changed: say so in the frame."""
        ...


class BaseView:
    """One screen. A new instance is made every time its route is entered.

    State that must outlive the view belongs in ``SessionState``; anything on ``self``
    is gone once the user navigates away. Background work must be started with
    :meth:`start_task` so that it is cancelled when the view is left or the session
    closes.
    """

    route: ClassVar[str]
    title: ClassVar[str]
    requires_auth: ClassVar[bool] = True
    admin_only: ClassVar[bool] = False
    redirect_when_signed_in: ClassVar[bool] = False
    """Sign-in and sign-up pages send a signed-in user on to where they were going."""
    in_navigation: ClassVar[bool] = False
    icon: ClassVar[ft.IconData | None] = None

    def __init__(self, page: ft.Page, state: SessionState, navigator: Navigator) -> None:
        self.page = page
        self.state = state
        self.navigator = navigator
        self.params: dict[str, str] = {}
        self._tasks: set[Future[Any]] = set()
        self._waiting: list[Callable[[], Awaitable[None]]] = []
        self._error_text: ft.Text | None = None
        self._body: ft.Control | None = None

    @property
    def error_text(self) -> ft.Text:
        """Where the view says what went wrong; built when first asked for, so a view
        that places it only once something fails (the dashboard) costs no control."""
        if self._error_text is None:
            self._error_text = ft.Text("", color=ft.Colors.ERROR, visible=False, selectable=True)
        return self._error_text

    @property
    def body(self) -> ft.Control:
        """The view's own controls, built once (a re-frame on resize keeps them)."""
        if self._body is None:
            self._body = self.build()
        return self._body

    def build(self) -> ft.Control:
        raise NotImplementedError

    async def on_enter(self, params: dict[str, str]) -> None:
        """Called once after the view is shown; load its data here."""

    async def on_refresh(self) -> None:
        """Called after a reconnect (reload, network blip): reload the data."""
        await self.on_enter(self.params)

    async def on_leave(self) -> None:
        """Called when the view is replaced or the session closes."""
        self.cancel_tasks()

    def start_task(self, work: Callable[[], Awaitable[None]]) -> Future[None] | None:
        """Run ``work`` in the background, tied to this view's life.

        While the client is away (a reload or a network blip, even one during the
        view's first load) the session has no connection to run it on: then ``work``
        waits, and :meth:`resume_tasks` starts it when the client is back.
        """
        if self.page.session.connection is None:
            self._waiting.append(work)
            return None
        future: Future[None] = self.page.run_task(work)
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)
        return future

    def resume_tasks(self) -> None:
        """Start the work that waited for the client (the router calls this on reconnect)."""
        waiting, self._waiting = self._waiting, []
        for work in waiting:
            self.start_task(work)

    @property
    def running_tasks(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    @property
    def waiting_tasks(self) -> int:
        return len(self._waiting)

    def cancel_tasks(self) -> None:
        self._waiting.clear()
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    def show_error(self, message: str | None) -> None:
        self.error_text.value = message or ""
        self.error_text.semantics_label = message or None
        self.error_text.visible = bool(message)

    async def call_api(self, work: Awaitable[Any]) -> Any | None:
        """Await an API call; on failure show its message in the view and return None."""
        try:
            result = await work
        except SessionEnded:
            return None  # the router is already taking the user to sign in
        except APIError as error:  # each kind in its own words
            self.show_error(error.message)
            self.refresh_ui()
            return None
        except asyncio.CancelledError:
            raise
        self.show_error(None)
        return result

    def refresh_ui(self) -> None:
        """Push this view's changes made outside an event handler (handlers update on
        return). Only the view's own controls are diffed, not the shell around them."""
        try:
            self.body.update()
        except RuntimeError:
            log.debug("view not on the page (left, or the client is away)")


@dataclass(frozen=True)
class Pages:
    """Everything the router can show: the routable pages by path (in the order of the
    navigation), the sign-in page a guard sends to, and the two fallbacks."""

    by_route: Mapping[str, type[BaseView]]
    sign_in: type[BaseView]
    not_found: type[BaseView]
    not_allowed: type[BaseView]
