"""The router: shows the view for a route, enforcing sign-in and roles.

It knows views only through their contract (``views.base``); the pages themselves are
handed to it (``app.py`` passes ``views.registry.PAGES``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import flet as ft

from aegis_app.api_client import SESSION_ENDED
from aegis_app.state import SessionState, SignedInUser
from aegis_app.views.base import HOME_ROUTE, BaseView, Pages
from aegis_app.views.property_patch import send_properties
from aegis_app.views.shell import Shell, bare_page, is_narrow

log = logging.getLogger("aegis.routing")

PUSH_ROUTE_TIMEOUT = 10.0
AfterNavigation = Callable[[str], Awaitable[None]]


def split_route(route: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(route or HOME_ROUTE)
    path = "/" + parts.path.strip("/")
    return path, dict(parse_qsl(parts.query))


def safe_next(params: dict[str, str]) -> str:
    """Where to go after sign-in: the asked-for in-app path, or home."""
    route = params.get("next", "")
    in_app = route.startswith("/") and not route.startswith("//") and "\\" not in route
    return route if in_app else HOME_ROUTE


def sign_in_route(sign_in: str, next_route: str = HOME_ROUTE) -> str:
    """The sign-in page at ``sign_in``, asked to go on to ``next_route`` afterwards."""
    if split_route(next_route)[0] in (HOME_ROUTE, sign_in):
        return sign_in
    return f"{sign_in}?{urlencode({'next': next_route})}"


class Router:
    """Shows the view for a route. All navigation goes through :meth:`show`.

    ``go`` asks the client to push a history entry; the client answers with a
    route-change event, which lands in :meth:`show`. ``show`` is also what the
    connect handler and tests call directly. It is the views'
    :class:`~aegis_app.views.base.Navigator`. ``after_navigation`` is the target's
    hook, awaited once each view is shown (the web target hands a new cookie to the
    browser then).
    """

    def __init__(
        self,
        page: ft.Page,
        state: SessionState,
        pages: Pages,
        after_navigation: AfterNavigation | None = None,
    ) -> None:
        self.page = page
        self.state = state
        self.pages = pages
        self.routes = pages.by_route
        self.sign_in = pages.sign_in.route
        self._after_navigation = after_navigation
        self.current: BaseView | None = None
        self.current_route = ""
        self.shell: Shell | None = None
        """The signed-in frame, built once per signed-in user of this session."""
        self._sign_in_pending = False
        self._pushes = 0
        """History entries asked of the client so far."""
        self._echoes_due: Counter[str] = Counter()
        """Routes pushed after their view was shown, whose route-change echo is due. An
        echo can come back after a later click has started another navigation (a user
        clicking fast): it must not take the user back to the view being left."""

    async def go(self, route: str) -> None:
        """Show ``route`` now, then let the address bar follow.

        The view is sent first and the history entry asked for after: waiting for the
        client to confirm the new address first put a round trip before every click's
        answer. The client's confirmation then finds the route already shown.
        """
        if route == self.current_route:
            return
        pushes = self._pushes
        await self.show(route)
        if self._pushes == pushes:  # show() redirected, and pushed that route itself
            await self._push(self.current_route, shown=True)

    async def _push(self, route: str, *, shown: bool) -> bool:
        """Ask the client for a history entry; it answers with a route-change event,
        which shows the route, unless ``shown`` (the route is already being shown).

        A client that is away fails the call at once (RuntimeError, see
        ``flet_web_patches``); one that stops answering is given up on after a while.
        Either way :meth:`on_reconnect` reconciles.
        """
        self._pushes += 1
        if shown:
            self._echoes_due[route] += 1
        try:
            await asyncio.wait_for(self.page.push_route(route), PUSH_ROUTE_TIMEOUT)
        except (TimeoutError, RuntimeError) as error:
            if shown:  # no echo is coming; a later visit of the route must not be taken for it
                self._echoes_due[route] -= 1
            log.info("client did not confirm navigation to %s (%s)", route, error or "timeout")
            return False
        return True

    async def on_route_change(self, event: ft.RouteChangeEvent) -> None:
        if self._echoes_due[event.route] > 0:
            self._echoes_due[event.route] -= 1
            return  # our own push coming back: shown already, or left since
        if event.route != self.current_route:
            await self.show(event.route)

    async def show(self, route: str) -> None:
        path, params = split_route(route)
        view_class = self.routes.get(path, self.pages.not_found)
        redirect = self._guard(view_class, route, params)
        if redirect is None and view_class.admin_only and not self._is_admin():
            view_class = self.pages.not_allowed
        if redirect is not None:
            # Claim the route first: the client answers push_route with a route-change
            # event that can arrive while we wait, and must not mount the view again
            # (a second mount would also swallow the one-shot ``state.notice``).
            self.current_route = redirect
            await self._push(redirect, shown=True)
            # The client may still be on `redirect` already; show it either way.
            path, params = split_route(redirect)
            view_class = self.routes.get(path, self.pages.not_found)
            route = redirect
        await self._mount(view_class, route, params)

    def _is_admin(self) -> bool:
        return self.state.user is not None and self.state.user.is_admin

    def _guard(self, view_class: type[BaseView], route: str, params: dict[str, str]) -> str | None:
        if view_class.requires_auth and not self.state.signed_in:
            return sign_in_route(self.sign_in, next_route=route)
        if view_class.redirect_when_signed_in and self.state.signed_in:
            return safe_next(params)
        return None

    async def _mount(self, view_class: type[BaseView], route: str, params: dict[str, str]) -> None:
        self.page.title = f"{view_class.title} · Aegis"
        user = self.state.user
        within_shell = self._shell_shown_to(user) and view_class.requires_auth
        if within_shell:
            # The window's title is the click's first answer, sent before the old view
            # is left and the new one built (the rail marks the click on its own). The
            # isolated shell is left out of this page update. The yield lets the
            # connection's send loop put it on the wire now: what follows runs without
            # a pause until the new view's first request, and the title would wait.
            # Sent as a property: Flet's diff of the page's every field took 0.5 ms.
            send_properties(self.page, self.page, [self.page])
            await asyncio.sleep(0)
        if self.current is not None:
            await self.current.on_leave()
        view = view_class(self.page, self.state, self)
        self.current = view
        self.current_route = route
        self._sign_in_pending = False
        if view.requires_auth and user is not None:
            shell = self._shell_for(user)
            shell.place(view)
            if within_shell:
                shell.send_navigation()
            else:
                self.page.views[:] = [shell.view]
                self.page.update()
        else:
            self.shell = None
            self.page.views[:] = [bare_page(view, route)]
            self.page.update()
        await view.on_enter(params)
        view.refresh_ui()
        if self._after_navigation is not None:
            await self._after_navigation(route)

    def _shell_shown_to(self, user: SignedInUser | None) -> bool:
        shell = self.shell
        return (
            user is not None
            and shell is not None
            and shell.user_id == user.id
            and self.page.views[:] == [shell.view]
        )

    def _shell_for(self, user: SignedInUser) -> Shell:
        if self.shell is None or self.shell.user_id != user.id:
            entries = [
                cls
                for cls in self.routes.values()
                if cls.in_navigation and (not cls.admin_only or user.is_admin)
            ]
            self.shell = Shell(user, entries, navigator=self, narrow=is_narrow(self.page))
        return self.shell

    async def after_sign_in(self, params: dict[str, str]) -> None:
        await self.go(safe_next(params))

    async def on_resize(self, _: ft.PageResizeEvent) -> None:
        """Fold or unfold the navigation when the window crosses the narrow breakpoint."""
        if self.shell is not None and is_narrow(self.page) != self.shell.narrow:
            self.shell.set_narrow(is_narrow(self.page))

    def show_user(self) -> None:
        """The signed-in user's name or role changed: say so in the top bar."""
        if self.shell is not None and self.state.user is not None:
            self.shell.show_user(self.state.user)

    async def sign_out(self) -> None:
        await self.state.sign_out()
        await self.go(self.sign_in)

    async def session_ended(self, notice: str = SESSION_ENDED) -> None:
        """The server no longer knows our session: back to sign-in, saying why."""
        if self.state.signed_in:
            self.state.session_ended(notice)
        await self._leave_for_sign_in()

    async def _leave_for_sign_in(self) -> None:
        """Once per ended session, and only over a live connection.

        Several requests can see the same 401 (the dashboard makes two at once), and a
        401 can arrive while the tab is reloading; then :meth:`on_reconnect` does it.
        """
        if self.current is None or not self.current.requires_auth:
            return
        if self._sign_in_pending or not self.state.connected:
            return
        self._sign_in_pending = True
        route = sign_in_route(self.sign_in, next_route=self.current_route)
        if not await self._push(route, shown=False):  # its echo shows the sign-in view
            self._sign_in_pending = False

    async def on_reconnect(self) -> None:
        """Check the session is still good, then refresh the active view (or sign in)."""
        self.state.connected = True
        self._echoes_due.clear()  # a reload or a new connection answers none of them
        if self.current is None:
            return
        if self.current.requires_auth:
            was_signed_in = self.state.signed_in
            if was_signed_in:
                await self.state.check_still_signed_in()  # a 401 redirects by itself
            if not self.state.signed_in:
                if not was_signed_in:
                    # Ended while we were away: that redirect may never have reached
                    # the client, so send it again now that someone is listening.
                    self._sign_in_pending = False
                await self.session_ended()
                return
        view = self.current
        await view.on_refresh()
        view.refresh_ui()
        if view is self.current:  # not left while refreshing
            view.resume_tasks()

    async def close(self) -> None:
        if self.current is not None:
            await self.current.on_leave()
            self.current = None
