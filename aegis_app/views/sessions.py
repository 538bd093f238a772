"""The signed-in user's sessions: end one, or sign out everywhere else."""

from __future__ import annotations

from typing import Any

import flet as ft

from aegis_app.views.base import BaseView
from aegis_app.views.components import local_time, page_header, section_card


class SessionsView(BaseView):
    route = "/sessions"
    title = "Sessions"
    in_navigation = True
    icon = ft.Icons.DEVICES_OUTLINED

    def build(self) -> ft.Control:
        self.rows = ft.Column(spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        self.result = ft.Text("", visible=False)
        self.end_others = ft.OutlinedButton(
            "Sign out everywhere else", icon=ft.Icons.LOGOUT, on_click=self._end_others
        )
        return ft.Column(
            spacing=16,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                page_header(
                    "Sessions",
                    "Everywhere you are signed in. End a session to sign that device out.",
                    self.end_others,
                ),
                self.error_text,
                self.result,
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
        self.end_others.disabled = len(sessions) < 2

    def say(self, message: str) -> None:
        self.result.value = message
        self.result.visible = bool(message)

    async def _end_others(self, _: ft.Event[ft.OutlinedButton]) -> None:
        ended = await self.call_api(self.state.api.delete("/auth/sessions", scope="others"))
        if ended is not None:
            count = int(ended.get("ended", 0))
            self.say(f"Signed out {count} other session{'s' if count != 1 else ''}.")
            await self.load()

    def _row(self, item: dict[str, Any]) -> ft.Control:
        current = bool(item.get("current"))

        async def end(_: ft.Event[ft.OutlinedButton]) -> None:
            await self.call_api(self.state.api.delete(f"/auth/sessions/{item['id']}"))
            if not self.error_text.visible:
                self.say(f"Ended the session on {item.get('device') or 'that device'}.")
                await self.load()

        heading: list[ft.Control] = [
            ft.Text(str(item.get("device") or "Unknown device"), weight=ft.FontWeight.W_600)
        ]
        if current:
            heading.append(
                ft.Container(
                    ft.Text("This session", size=12, color=ft.Colors.ON_PRIMARY_CONTAINER),
                    bgcolor=ft.Colors.PRIMARY_CONTAINER,
                    border_radius=8,
                    padding=ft.Padding.symmetric(horizontal=8, vertical=2),
                )
            )
        return section_card(
            # Not wrap=True: a Wrap shrinks to its content, so SPACE_BETWEEN would leave
            # the button next to the text instead of at the card's right edge.
            ft.Row(
                alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                controls=[
                    ft.Column(
                        expand=True,
                        tight=True,
                        spacing=2,
                        controls=[
                            ft.Row(heading, tight=True),
                            ft.Text(
                                f"IP {item.get('ip') or 'unknown'} · started "
                                f"{local_time(item.get('created_at'))} · last seen "
                                f"{local_time(item.get('last_seen_at'))}",
                                color=ft.Colors.ON_SURFACE_VARIANT,
                            ),
                        ],
                    ),
                    ft.OutlinedButton("End session", on_click=end, visible=not current),
                ],
            ),
            padding=16,
        )
