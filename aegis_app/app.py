"""The Flet session handler shared by both targets."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import flet as ft

from aegis_app.api_client import APIClient
from aegis_app.routing import Router
from aegis_app.state import STATE_KEY, SessionState
from aegis_app.target import Target
from aegis_app.theme import load_theme, setup_theme

log = logging.getLogger("aegis.app")

SessionHandler = Callable[[ft.Page], Awaitable[None]]
ROUTER_KEY = "router"


def create_frontend_app(target: Target) -> SessionHandler:
    """Return ``main(page)``: one ``SessionState`` and one router per Flet session."""

    async def main(page: ft.Page) -> None:
        api = APIClient(target.new_http_client(page))
        state = SessionState(api, target.new_cookie_store(page, api))
        router = Router(page, state)
        page.data = {STATE_KEY: state, ROUTER_KEY: router}
        api.on_unauthorized = router.session_ended

        async def on_connect(_: ft.Event[ft.Page]) -> None:
            await router.on_reconnect()

        async def on_disconnect(_: ft.Event[ft.Page]) -> None:
            state.connected = False

        async def on_close(_: ft.Event[ft.Page]) -> None:
            await router.close()
            await state.close()

        page.on_route_change = router.on_route_change
        page.on_connect = on_connect
        page.on_disconnect = on_disconnect
        page.on_close = on_close
        page.on_resize = router.on_resize
        setup_theme(page)
        await load_theme(page)
        await state.restore()
        await router.show(page.route)

    return main
