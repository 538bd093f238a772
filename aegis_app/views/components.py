"""Small building blocks shared by the views."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime

import flet as ft

STATUS_STYLE: dict[str, tuple[ft.IconData, str, str]] = {
    "healthy": (ft.Icons.CHECK_CIRCLE, ft.Colors.GREEN_700, "Healthy"),
    "degraded": (ft.Icons.WARNING_AMBER_ROUNDED, ft.Colors.AMBER_800, "Degraded"),
    "down": (ft.Icons.ERROR, ft.Colors.RED_700, "Down"),
    "unknown": (ft.Icons.HELP_OUTLINE, ft.Colors.GREY_600, "Unknown"),
}


def status_style(status: str) -> tuple[ft.IconData, str, str]:
    return STATUS_STYLE.get(status, STATUS_STYLE["unknown"])


# Style values shared by every control of every session. Flet compares a dataclass field
# by identity first: the same object, unchanged, sends nothing, and another object is
# sent whole. So a style object that is never mutated can be shared, and each card of
# each live session saves the object and the diff's bookkeeping Flet hangs on it (about
# 1 KiB a card). Never set an attribute on one: replace it with another.
BANNER_PADDING = ft.Padding.symmetric(horizontal=20, vertical=14)
CARD_PADDING = ft.Padding.symmetric(horizontal=20, vertical=12)


@functools.cache
def outline(color: str) -> ft.Border:
    """A 1-px border in ``color``: one shared object per colour (see above)."""
    return ft.Border.all(1, color)


def page_header(title: str, subtitle: str = "", *trailing: ft.Control) -> ft.Control:
    return ft.Row(
        alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
        vertical_alignment=ft.CrossAxisAlignment.END,
        wrap=True,
        controls=[
            ft.Column(
                tight=True,
                spacing=4,
                controls=[
                    ft.Text(title, size=28, weight=ft.FontWeight.BOLD),
                    *([ft.Text(subtitle, color=ft.Colors.ON_SURFACE_VARIANT)] if subtitle else []),
                ],
            ),
            *_trailing_controls(trailing),
        ],
    )


def _trailing_controls(trailing: tuple[ft.Control, ...]) -> list[ft.Control]:
    # No row for none or one: every control is kept, per live session, for its lifetime.
    if len(trailing) <= 1:
        return list(trailing)
    return [ft.Row(list(trailing), tight=True, wrap=True)]


def local_time(value: str | None, *, with_seconds: bool = False) -> str:
    if not value:
        return "never"
    try:
        moment = datetime.fromisoformat(value).astimezone()
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def section_card(*controls: ft.Control, padding: int = 20) -> ft.Card:
    return ft.Card(
        elevation=1,
        content=ft.Container(
            padding=padding, content=ft.Column(tight=True, spacing=8, controls=list(controls))
        ),
    )


class Pager:
    """Previous/next over a paged list endpoint; ``load`` fetches the page at ``offset``."""

    def __init__(
        self,
        page_size: int,
        load: Callable[[], Awaitable[None]],
        *,
        back: str = "Previous",
        forward: str = "Next",
    ) -> None:
        self.page_size = page_size
        self.offset = 0
        self._load = load
        self.label = ft.Text("")
        self.previous = ft.TextButton(back, on_click=self._back, disabled=True)
        self.next = ft.TextButton(forward, on_click=self._forward, disabled=True)
        self.control = ft.Row([self.previous, self.label, self.next])

    def show(self, total: int) -> None:
        last = min(self.offset + self.page_size, total)
        self.label.value = f"{self.offset + 1 if total else 0}-{last} of {total}"
        self.previous.disabled = self.offset == 0
        self.next.disabled = last >= total

    async def first_page(self) -> None:
        self.offset = 0
        await self._load()

    async def _back(self, _: ft.Event[ft.TextButton]) -> None:
        self.offset = max(0, self.offset - self.page_size)
        await self._load()

    async def _forward(self, _: ft.Event[ft.TextButton]) -> None:
        self.offset += self.page_size
        await self._load()
