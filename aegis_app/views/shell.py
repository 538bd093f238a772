"""The frame around every view: top bar, and navigation as a rail or, when narrow, a menu."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

if TYPE_CHECKING:
    from aegis_app.views.base import BaseView

CONTENT_PADDING = 24
NARROW_BELOW = 720
"""Window width (logical px) under which the rail collapses into a menu."""


def is_narrow(page: ft.Page) -> bool:
    width = page.width
    return width is not None and float(width) < NARROW_BELOW


def frame(view: BaseView, route: str) -> ft.View:
    body = view.body
    if not view.requires_auth or view.state.user is None:
        return ft.View(
            route=route,
            controls=[ft.Container(body, padding=16)],
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            vertical_alignment=ft.MainAxisAlignment.CENTER,
        )
    narrow = is_narrow(view.page)
    content = ft.Column(
        expand=True,
        scroll=ft.ScrollMode.AUTO,
        controls=[ft.Container(body, padding=CONTENT_PADDING if not narrow else 12)],
    )
    row: list[ft.Control] = [content]
    if not narrow:
        row = [_navigation_rail(view), ft.VerticalDivider(width=1), content]
    return ft.View(
        route=route,
        appbar=_top_bar(view, narrow),
        padding=0,
        controls=[
            ft.Row(
                expand=True,
                spacing=0,
                vertical_alignment=ft.CrossAxisAlignment.STRETCH,
                controls=row,
            )
        ],
    )


def navigation_entries(view: BaseView) -> list[type[BaseView]]:
    user = view.state.user
    return [
        cls
        for cls in view.router.routes.values()
        if cls.in_navigation and (not cls.admin_only or (user is not None and user.is_admin))
    ]


def _top_bar(view: BaseView, narrow: bool) -> ft.AppBar:
    user = view.state.user
    assert user is not None

    async def sign_out(_: ft.Event[ft.OutlinedButton]) -> None:
        await view.router.sign_out()

    leading: ft.Control = ft.Icon(ft.Icons.SHIELD_OUTLINED)
    if narrow:
        leading = _menu(view)
    return ft.AppBar(
        title=ft.Text("Aegis", weight=ft.FontWeight.BOLD),
        leading=leading,
        bgcolor=ft.Colors.SURFACE_CONTAINER,
        actions=[
            ft.Column(
                tight=True,
                spacing=0,
                horizontal_alignment=ft.CrossAxisAlignment.END,
                alignment=ft.MainAxisAlignment.CENTER,
                controls=[
                    ft.Text(user.full_name, weight=ft.FontWeight.W_600),
                    ft.Text(
                        "Administrator" if user.is_admin else "Viewer",
                        size=12,
                        color=ft.Colors.ON_SURFACE_VARIANT,
                    ),
                ],
            ),
            ft.Container(width=12),
            ft.OutlinedButton("Sign out", icon=ft.Icons.LOGOUT, on_click=sign_out),
            ft.Container(width=12),
        ],
    )


def _menu(view: BaseView) -> ft.PopupMenuButton:
    def item(cls: type[BaseView]) -> ft.PopupMenuItem:
        async def navigate(_: ft.Event[ft.PopupMenuItem]) -> None:
            await view.router.go(cls.route)

        return ft.PopupMenuItem(
            content=cls.title, icon=cls.icon, checked=isinstance(view, cls), on_click=navigate
        )

    return ft.PopupMenuButton(
        # The tooltip alone leaves the button unnamed for screen readers on the web.
        icon=ft.Icon(ft.Icons.MENU, semantics_label="Menu"),
        tooltip="Menu",
        items=[item(cls) for cls in navigation_entries(view)],
    )


def _navigation_rail(view: BaseView) -> ft.NavigationRail:
    entries = navigation_entries(view)
    selected = next((i for i, cls in enumerate(entries) if isinstance(view, cls)), None)

    async def navigate(event: ft.Event[ft.NavigationRail]) -> None:
        index = event.control.selected_index
        if index is not None:
            await view.router.go(entries[int(index)].route)

    return ft.NavigationRail(
        selected_index=selected,
        label_type=ft.NavigationRailLabelType.ALL,
        min_width=96,
        group_alignment=-0.95,
        destinations=[
            ft.NavigationRailDestination(icon=cls.icon, label=cls.title) for cls in entries
        ],
        on_change=navigate,
    )
