"""Pages for addresses that lead nowhere, or somewhere this user may not go."""

from __future__ import annotations

import flet as ft

from aegis_app.views.base import HOME_ROUTE, BaseView


class _MessageView(BaseView):
    heading: str
    explanation: str
    icon_name: ft.IconData

    def build(self) -> ft.Control:
        async def home(_: ft.Event[ft.TextButton]) -> None:
            await self.navigator.go(HOME_ROUTE)

        message = ft.Column(
            horizontal_alignment=ft.CrossAxisAlignment.CENTER,
            controls=[
                ft.Icon(self.icon_name, size=48, color=ft.Colors.ON_SURFACE_VARIANT),
                ft.Text(self.heading, size=32, weight=ft.FontWeight.BOLD),
                ft.Text(self.explanation),
                ft.TextButton("Go to the dashboard", on_click=home),
            ],
        )
        # Centred across the content area too, not only in the signed-out frame.
        return ft.Row([message], alignment=ft.MainAxisAlignment.CENTER)


class NotFoundView(_MessageView):
    route = "/404"
    title = "Not found"
    requires_auth = False
    heading = "Not found"
    explanation = "There is no page at this address."
    icon_name = ft.Icons.TRAVEL_EXPLORE


class NotAllowedView(_MessageView):
    route = "/403"
    title = "Not allowed"
    heading = "Not allowed"
    explanation = "This page is for administrators. Ask one if you need access."
    icon_name = ft.Icons.LOCK_OUTLINE
