from __future__ import annotations

import flet as ft

from aegis_app.views.base import BaseView


class NotFoundView(BaseView):
    route = "/404"
    title = "Not found"
    requires_auth = False

    def build(self) -> ft.Control:
        async def home(_: ft.Event[ft.TextButton]) -> None:
            await self.router.go("/")

        return ft.Column(
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            controls=[
                ft.Text("Not found", size=32, weight=ft.FontWeight.BOLD),
                ft.Text("There is no page at this address."),
                ft.TextButton("Go to the dashboard", on_click=home),
            ],
        )
