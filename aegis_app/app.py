"""The Flet session handler shared by both targets."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial

import flet as ft

from aegis_app.api_client import APIClient
from aegis_app.routing import Router
from aegis_app.state import STATE_KEY, SessionState
from aegis_app.target import Store, Target
from aegis_app.theme import load_theme, setup_theme
from aegis_app.views.registry import PAGES

log = logging.getLogger("aegis.app")

SessionHandler = Callable[[ft.Page], Awaitable[None]]
ROUTER_KEY = "router"
REFUSAL_KEY = "refusal"
"""Set in ``page.data`` when the target did not admit the session: it only says why."""


def create_frontend_app(target: Target[Store]) -> SessionHandler:
    """Return ``main(page)``: one ``SessionState`` and one router per Flet session."""

    async def main(page: ft.Page) -> None:
        api = APIClient(target.new_http_client(page))
        store = target.new_cookie_store(page, api)
        state = SessionState(api, store)
        hook = target.after_navigation
        router = Router(page, state, PAGES, partial(hook, store) if hook is not None else None)
        page.data = {STATE_KEY: state, ROUTER_KEY: router}
        api.on_unauthorized = router.session_ended

        async def on_connect(_: ft.Event[ft.Page]) -> None:
            await router.on_reconnect()

        async def on_disconnect(_: ft.Event[ft.Page]) -> None:
            state.connected = False

        async def on_close(_: ft.Event[ft.Page]) -> None:
            target.admission.release(page, state)
            await router.close()
            await state.close()

        page.on_route_change = router.on_route_change
        page.on_connect = on_connect
        page.on_disconnect = on_disconnect
        page.on_close = on_close
        page.on_resize = router.on_resize
        setup_theme(page)
        # Before anything waits on the client: who this is decides whether it is admitted.
        await state.restore()
        refusal = target.admission.admit(page, state)
        if refusal is not None:
            page.data[REFUSAL_KEY] = refusal
            show_refusal(page, refusal)
            return
        await load_theme(page)
        await router.show(page.route)

    return main


def show_refusal(page: ft.Page, message: str) -> None:
    page.title = "Aegis"
    page.views.clear()
    page.views.append(
        ft.View(
            route=page.route or "/",
            vertical_alignment=ft.MainAxisAlignment.CENTER,
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            controls=[
                ft.Icon(ft.Icons.BLOCK, size=48, color=ft.Colors.ON_SURFACE_VARIANT),
                ft.Text("Not now", size=32, weight=ft.FontWeight.BOLD),
                # Not selectable: Flutter web exposes selectable text as a disabled text field,
                # which a screen reader announces as an input, not as the reason.
                ft.Text(message, text_align=ft.TextAlign.CENTER),
            ],
        )
    )
    page.update()
