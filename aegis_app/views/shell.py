"""The frame around every signed-in view: top bar, and navigation as a rail or, when
narrow, a menu. Built once per signed-in session; a click swaps only the content.

Why isolated controls: Flet diffs a control's whole subtree on ``update()``, and after
every event handler it updates the nearest *isolated* ancestor of the control that
fired. The page is isolated, so by default each click re-diffed the whole tree: shell,
view and all. Here the shell's ``View`` and the content area are isolated, so
- a navigation sends the new content and the rail's selection, nothing else;
- a handler inside a view (a button, a field) re-diffs that view alone;
- ``page.update()`` (the title) diffs the page's own properties, not the views.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import flet as ft

if TYPE_CHECKING:
    from aegis_app.state import SignedInUser
    from aegis_app.views.base import BaseView, Navigator

CONTENT_PADDING = 24
NARROW_CONTENT_PADDING = 12
NARROW_BELOW = 720
"""Window width (logical px) under which the rail collapses into a menu."""
# Shared by every session's shell, never changed (see components.outline).
TITLE_STYLE = ft.TextStyle(size=22, weight=ft.FontWeight.BOLD, color=ft.Colors.ON_SURFACE)
ACTIONS_PADDING = ft.Padding.only(right=12)
SIGN_OUT_MARGIN = ft.Margin.only(left=12)


def sends_its_own_updates() -> None:
    """In an event handler: skip Flet's update after it, which would re-diff the whole
    shell for a click whose changes were already sent."""
    ft.context.disable_auto_update()  # type: ignore[no-untyped-call]


def is_narrow(page: ft.Page) -> bool:
    width = page.width
    return width is not None and float(width) < NARROW_BELOW


class IsolatedView(ft.View):
    """A view whose content is left out of ``page.update()``; it updates itself."""

    def is_isolated(self) -> bool:
        return True


class IsolatedColumn(ft.Column):
    """A column left out of its parents' updates; it updates itself."""

    def is_isolated(self) -> bool:
        return True


def bare_page(view: BaseView, route: str) -> ft.View:
    """Sign-in, sign-up and the like: the view alone, centred, no navigation."""
    return ft.View(
        route=route,
        controls=[ft.Container(view.body, padding=16)],
        horizontal_alignment=ft.CrossAxisAlignment.CENTER,
        vertical_alignment=ft.MainAxisAlignment.CENTER,
    )


class Shell:
    """Top bar, rail, menu and a content area, for one signed-in user."""

    def __init__(
        self,
        user: SignedInUser,
        entries: Sequence[type[BaseView]],
        *,
        navigator: Navigator,
        narrow: bool,
    ) -> None:
        self.user_id = user.id
        self.entries = list(entries)
        self._navigator = navigator
        self.narrow = narrow
        self.user_name = ft.Text(user.full_name, weight=ft.FontWeight.W_600)
        self.user_role = ft.Text(_role(user), size=12, color=ft.Colors.ON_SURFACE_VARIANT)
        self.brand = ft.Icon(ft.Icons.SHIELD_OUTLINED, visible=not narrow)
        self.menu = ft.PopupMenuButton(
            # The tooltip alone leaves the button unnamed for screen readers on the web.
            icon=ft.Icon(ft.Icons.MENU, semantics_label="Menu"),
            tooltip="Menu",
            # Its entries are made when it is first shown: a wide window never needs them.
            items=[],
            visible=narrow,
        )
        self._selected: int | None = None
        self.rail = ft.NavigationRail(
            selected_index=None,
            label_type=ft.NavigationRailLabelType.ALL,
            min_width=96,
            group_alignment=-0.95,
            destinations=[
                ft.NavigationRailDestination(icon=cls.icon, label=cls.title) for cls in self.entries
            ],
            on_change=self._rail_changed,
            visible=not narrow,
        )
        self.divider = ft.VerticalDivider(width=1, visible=not narrow)
        if narrow:
            self.menu.items = [self._menu_item(cls) for cls in self.entries]
        self.body_frame = ft.Container(padding=_padding(narrow))
        self.content = IsolatedColumn(
            expand=True, scroll=ft.ScrollMode.AUTO, controls=[self.body_frame]
        )
        self.view = IsolatedView(
            route="/",
            appbar=ft.AppBar(
                title="Aegis",
                # The colour is explicit: without it the Linux desktop client drew the
                # title in white on the light bar (the web client inherited a dark one).
                title_text_style=TITLE_STYLE,
                actions_padding=ACTIONS_PADDING,
                leading=ft.Row([self.brand, self.menu], alignment=ft.MainAxisAlignment.CENTER),
                bgcolor=ft.Colors.SURFACE_CONTAINER,
                actions=[
                    ft.Column(
                        tight=True,
                        spacing=0,
                        horizontal_alignment=ft.CrossAxisAlignment.END,
                        alignment=ft.MainAxisAlignment.CENTER,
                        controls=[self.user_name, self.user_role],
                    ),
                    ft.OutlinedButton(
                        "Sign out",
                        icon=ft.Icons.LOGOUT,
                        on_click=self._sign_out_clicked,
                        margin=SIGN_OUT_MARGIN,  # a margin, not a spacer control per session
                    ),
                ],
            ),
            padding=0,
            controls=[
                ft.Row(
                    expand=True,
                    spacing=0,
                    vertical_alignment=ft.CrossAxisAlignment.STRETCH,
                    controls=[self.rail, self.divider, self.content],
                )
            ],
        )

    def place(self, view: BaseView) -> None:
        """Put ``view`` in the content area and mark it in the navigation (not sent yet)."""
        self.body_frame.content = view.body
        selected = next((i for i, cls in enumerate(self.entries) if isinstance(view, cls)), None)
        self._selected = self.rail.selected_index = selected
        self._tick_menu()

    def _tick_menu(self) -> None:
        for index, item in enumerate(self.menu.items):
            item.checked = index == self._selected

    def send_navigation(self) -> None:
        """After :meth:`place` on a page already showing the shell: the new content and
        the selection, nothing else."""
        self.content.update()
        self.rail.update()
        self.menu.update()

    def set_narrow(self, narrow: bool) -> None:
        """Fold the rail into the menu, or back: visibility only, nothing rebuilt."""
        self.narrow = narrow
        self.brand.visible = self.rail.visible = self.divider.visible = not narrow
        self.menu.visible = narrow
        if narrow and not self.menu.items:
            self.menu.items = [self._menu_item(cls) for cls in self.entries]
            self._tick_menu()
        self.body_frame.padding = _padding(narrow)
        self.view.update()
        self.content.update()

    def show_user(self, user: SignedInUser) -> None:
        self.user_name.value = user.full_name
        self.user_role.value = _role(user)
        self.view.update()

    def _menu_item(self, cls: type[BaseView]) -> ft.PopupMenuItem:
        async def navigate(_: ft.Event[ft.PopupMenuItem]) -> None:
            sends_its_own_updates()
            await self._navigator.go(cls.route)

        return ft.PopupMenuItem(content=cls.title, icon=cls.icon, on_click=navigate)

    async def _rail_changed(self, event: ft.Event[ft.NavigationRail]) -> None:
        sends_its_own_updates()
        index = event.control.selected_index
        if index is not None:
            await self._navigator.go(self.entries[int(index)].route)

    async def _sign_out_clicked(self, _: ft.Event[ft.OutlinedButton]) -> None:
        sends_its_own_updates()
        await self._navigator.sign_out()


def _role(user: SignedInUser) -> str:
    return "Administrator" if user.is_admin else "Viewer"


def _padding(narrow: bool) -> int:
    return NARROW_CONTENT_PADDING if narrow else CONTENT_PADDING
