"""The frame around every view: top bar and navigation rail when signed in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

if TYPE_CHECKING:
    from aegis_app.views.base import BaseView

CONTENT_PADDING = 24


def frame(view: BaseView, route: str) -> ft.View:
    body = view.build()
    if not view.requires_auth or view.state.user is None:
        return ft.View(
            route=route,
            controls=[body],
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            vertical_alignment=ft.MainAxisAlignment.CENTER,
            scroll=ft.ScrollMode.AUTO,
        )
    return ft.View(
        route=route,
        appbar=_top_bar(view),
        padding=0,
        controls=[
            ft.Row(
                expand=True,
                spacing=0,
                vertical_alignment=ft.CrossAxisAlignment.STRETCH,
                controls=[
                    _navigation_rail(view),
                    ft.VerticalDivider(width=1),
                    ft.Column(
                        expand=True,
                        scroll=ft.ScrollMode.AUTO,
                        controls=[ft.Container(body, padding=CONTENT_PADDING)],
                    ),
                ],
            )
        ],
    )


def _top_bar(view: BaseView) -> ft.AppBar:
    user = view.state.user
    assert user is not None

    async def sign_out(_: ft.Event[ft.Button]) -> None:
        await view.router.sign_out()

    return ft.AppBar(
        title=ft.Text("Aegis", weight=ft.FontWeight.BOLD),
        leading=ft.Icon(ft.Icons.SHIELD_OUTLINED),
        bgcolor=ft.Colors.SURFACE_CONTAINER,
        actions=[
            ft.Text(user.full_name, tooltip=user.email),
            ft.Container(width=12),
            ft.OutlinedButton("Sign out", icon=ft.Icons.LOGOUT, on_click=sign_out),
            ft.Container(width=12),
        ],
    )


def _navigation_rail(view: BaseView) -> ft.NavigationRail:
    user = view.state.user
    entries = [
        cls
        for cls in view.router.routes.values()
        if cls.in_navigation and (not cls.admin_only or (user is not None and user.is_admin))
    ]
    selected = next((i for i, cls in enumerate(entries) if isinstance(view, cls)), None)

    async def navigate(event: ft.Event[ft.NavigationRail]) -> None:
        index = event.control.selected_index
        if index is not None:
            await view.router.go(entries[int(index)].route)

    return ft.NavigationRail(
        selected_index=selected,
        label_type=ft.NavigationRailLabelType.ALL,
        min_width=88,
        destinations=[
            ft.NavigationRailDestination(icon=cls.icon, label=cls.title) for cls in entries
        ],
        on_change=navigate,
    )
