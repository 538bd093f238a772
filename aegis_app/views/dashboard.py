"""Home: who is signed in, and the system's health."""

from __future__ import annotations

from typing import Any

import flet as ft

from aegis_app.views.base import BaseView


class DashboardView(BaseView):
    route = "/"
    title = "Dashboard"
    in_navigation = True
    icon = ft.Icons.DASHBOARD_OUTLINED

    def build(self) -> ft.Control:
        user = self.state.user
        self.health_status = ft.Text("Checking…", size=18, weight=ft.FontWeight.W_600)
        self.health_detail = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT)
        self.health_icon = ft.Icon(ft.Icons.HOURGLASS_EMPTY, size=36)
        return ft.Column(
            spacing=20,
            controls=[
                ft.Text(
                    f"Welcome, {user.full_name if user else ''}",
                    size=28,
                    weight=ft.FontWeight.BOLD,
                ),
                self.error_text,
                ft.Card(
                    content=ft.Container(
                        padding=20,
                        width=420,
                        content=ft.Row(
                            spacing=16,
                            controls=[
                                self.health_icon,
                                ft.Column(
                                    tight=True,
                                    controls=[
                                        ft.Text("System health", size=13),
                                        self.health_status,
                                        self.health_detail,
                                    ],
                                ),
                            ],
                        ),
                    )
                ),
            ],
        )

    async def on_enter(self, params: dict[str, str]) -> None:
        self.params = params
        health: dict[str, Any] | None = await self.call_api(self.state.api.get("/health"))
        if health is None:
            self.health_status.value = "Unknown"
            self.health_icon.name = ft.Icons.HELP_OUTLINE
            return
        healthy = health.get("status") == "ok"
        self.health_status.value = "Healthy" if healthy else "Degraded"
        self.health_icon.name = ft.Icons.CHECK_CIRCLE if healthy else ft.Icons.WARNING_AMBER
        self.health_icon.color = ft.Colors.GREEN if healthy else ft.Colors.AMBER
        latency = health.get("database_latency_ms")
        self.health_detail.value = f"Database {health.get('database')}" + (
            f" · {latency} ms" if latency is not None else ""
        )
