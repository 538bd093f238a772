"""The signed-in user's sessions, each of which can be ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import flet as ft

from aegis_app.views.base import BaseView


def _when(value: str) -> str:
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def describe_device(user_agent: str) -> str:
    ua = user_agent.lower()
    browser = next(
        (
            name
            for key, name in (
                ("edg/", "Edge"),
                ("firefox", "Firefox"),
                ("chrom", "Chrome"),
                ("safari", "Safari"),
                ("python-httpx", "Aegis desktop"),
            )
            if key in ua
        ),
        "Unknown device",
    )
    system = next(
        (
            name
            for key, name in (
                ("windows", "Windows"),
                ("mac os", "macOS"),
                ("android", "Android"),
                ("iphone", "iOS"),
                ("linux", "Linux"),
            )
            if key in ua
        ),
        "",
    )
    return f"{browser} on {system}" if system else browser


class SessionsView(BaseView):
    route = "/sessions"
    title = "Sessions"
    in_navigation = True
    icon = ft.Icons.DEVICES_OUTLINED

    def build(self) -> ft.Control:
        self.rows = ft.Column(spacing=8)
        return ft.Column(
            spacing=16,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                ft.Text("Sessions", size=28, weight=ft.FontWeight.BOLD),
                ft.Text(
                    "Everywhere you are signed in. End a session to sign that device out.",
                    color=ft.Colors.ON_SURFACE_VARIANT,
                ),
                self.error_text,
                self.rows,
            ],
        )

    async def on_enter(self, params: dict[str, str]) -> None:
        self.params = params
        await self.load()

    async def load(self) -> None:
        sessions: list[dict[str, Any]] | None = await self.call_api(
            self.state.api.get("/auth/sessions")
        )
        if sessions is None:
            return
        self.rows.controls = [self._row(item) for item in sessions]

    def _row(self, item: dict[str, Any]) -> ft.Control:
        current = bool(item.get("current"))

        async def end(_: ft.Event[ft.OutlinedButton]) -> None:
            await self.call_api(self.state.api.delete(f"/auth/sessions/{item['id']}"))
            if not self.error_text.visible:
                await self.load()

        title = describe_device(str(item.get("user_agent", "")))
        return ft.Card(
            content=ft.Container(
                padding=16,
                content=ft.Row(
                    alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                    controls=[
                        ft.Column(
                            tight=True,
                            spacing=2,
                            controls=[
                                ft.Row(
                                    [
                                        ft.Text(title, weight=ft.FontWeight.W_600),
                                        *(
                                            [ft.Text("This session", color=ft.Colors.PRIMARY)]
                                            if current
                                            else []
                                        ),
                                    ]
                                ),
                                ft.Text(
                                    f"IP {item.get('ip') or 'unknown'} · started "
                                    f"{_when(item['created_at'])} · last seen "
                                    f"{_when(item['last_seen_at'])}",
                                    color=ft.Colors.ON_SURFACE_VARIANT,
                                ),
                            ],
                        ),
                        ft.OutlinedButton(
                            "End session",
                            on_click=end,
                            disabled=current,
                        ),
                    ],
                ),
            )
        )
