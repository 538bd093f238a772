"""Home: overall status, one card per component, and the last hour as charts. Live."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import flet as ft

from aegis_app.views.base import BaseView
from aegis_app.views.components import (
    MetricChart,
    local_time,
    page_header,
    section_card,
    status_style,
)

REFRESH_SECONDS = 5.0
CHART_MINUTES = 60
CHART_POINTS = 120
"""One point per 30 s of the hour: plenty for a card, and cheap to keep live."""
ResponsiveColumns = dict[str | ft.ResponsiveRowBreakpoint, int | float]
CARD_COLUMNS: ResponsiveColumns = {"xs": 12, "md": 6, "xl": 3}
CHART_COLUMNS: ResponsiveColumns = {"xs": 12, "lg": 6}
OVERALL_MESSAGE = {
    "healthy": "All systems are healthy.",
    "degraded": "Some components need attention.",
    "down": "A component is down.",
}


class DashboardView(BaseView):
    route = "/"
    title = "Dashboard"
    in_navigation = True
    icon = ft.Icons.DASHBOARD_OUTLINED

    refresh_seconds = REFRESH_SECONDS

    def build(self) -> ft.Control:
        user = self.state.user
        self.updated = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT, size=12)
        self.banner_icon = ft.Icon(ft.Icons.HOURGLASS_EMPTY)
        self.banner_text = ft.Text("Checking…", weight=ft.FontWeight.W_600)
        self.banner = ft.Container(
            padding=ft.Padding.symmetric(horizontal=20, vertical=14),
            border_radius=12,
            bgcolor=ft.Colors.with_opacity(0.14, ft.Colors.GREY_600),
            content=ft.Row([self.banner_icon, self.banner_text]),
        )
        self.cards = ft.ResponsiveRow(spacing=12, run_spacing=12)
        self.charts = {
            "cpu_percent": MetricChart("CPU", "%", ft.Colors.INDIGO, CHART_MINUTES),
            "memory_percent": MetricChart("Memory", "%", ft.Colors.TEAL, CHART_MINUTES),
            "api_latency_ms": MetricChart(
                "API latency", "ms", ft.Colors.DEEP_ORANGE, CHART_MINUTES
            ),
            "db_latency_ms": MetricChart("Database latency", "ms", ft.Colors.PURPLE, CHART_MINUTES),
        }
        return ft.Column(
            spacing=18,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                page_header(
                    f"Welcome, {user.full_name if user else ''}", "Live system health", self.updated
                ),
                self.error_text,
                self.banner,
                self.cards,
                ft.Text("Last hour", size=18, weight=ft.FontWeight.W_600),
                ft.ResponsiveRow(
                    spacing=12,
                    run_spacing=12,
                    controls=[
                        ft.Container(chart.control, col=CHART_COLUMNS)
                        for chart in self.charts.values()
                    ],
                ),
            ],
        )

    async def on_enter(self, params: dict[str, str]) -> None:
        self.params = params
        await self.load()
        self.start_task(self._stay_live)

    async def on_refresh(self) -> None:
        await self.load()

    async def _stay_live(self) -> None:
        """Refresh every few seconds; skip while the connection is down."""
        while True:
            await asyncio.sleep(self.refresh_seconds)
            if not self.state.connected:
                continue
            await self.load()
            self.refresh_ui()

    async def load(self) -> None:
        status, metrics = await asyncio.gather(
            self.call_api(self.state.api.get("/system/status")),
            self.call_api(
                self.state.api.get("/system/metrics", minutes=CHART_MINUTES, points=CHART_POINTS)
            ),
        )
        if status is not None:
            self._show_status(status)
        if metrics is not None:
            self._show_metrics(metrics.get("samples", []))
        if status is not None or metrics is not None:
            self.updated.value = f"Updated {datetime.now().strftime('%H:%M:%S')}"
            # Several instances take turns sampling: say whose figures the charts show.
            instances = (metrics or {}).get("instances") or []
            if instances:
                self.updated.value += f" · charts from {', '.join(map(str, instances))}"

    def _show_status(self, status: dict[str, Any]) -> None:
        overall = str(status.get("overall", "unknown"))
        icon, color, word = status_style(overall)
        # Tinted background, full-strength text: readable in light and dark themes.
        self.banner.bgcolor = ft.Colors.with_opacity(0.14, color)
        self.banner.border = ft.Border.all(1, color)
        self.banner_icon.icon = icon
        self.banner_icon.color = color
        self.banner_text.color = color
        self.banner_text.value = f"{word}. {OVERALL_MESSAGE.get(overall, '')}".strip()
        self.cards.controls = [
            ft.Container(component_card(item), col=CARD_COLUMNS)
            for item in status.get("components", [])
        ]

    def _show_metrics(self, samples: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        for key, chart in self.charts.items():
            series = [
                (datetime.fromisoformat(sample["at"]), float(sample[key]))
                for sample in samples
                if sample.get(key) is not None
            ]
            chart.show(series, now, fixed_max=100.0 if key.endswith("percent") else None)


def component_card(item: dict[str, Any]) -> ft.Control:
    icon, color, word = status_style(str(item.get("status", "unknown")))
    facts = [
        ft.Row(
            alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
            controls=[
                ft.Text(str(fact.get("label", "")), color=ft.Colors.ON_SURFACE_VARIANT),
                ft.Text(str(fact.get("value", "")), weight=ft.FontWeight.W_500),
            ],
        )
        for fact in item.get("facts", [])
    ]
    jobs = [
        ft.Text(
            f"{job.get('name', 'job')}: {job.get('last_outcome', 'never run')}, "
            f"last run {local_time(job.get('last_run_at'), with_seconds=True)}"
            + (f" by {job['last_run_by']}" if job.get("last_run_by") else "")
            + (f" ({job['last_error']})" if job.get("last_error") else ""),
            size=12,
            color=ft.Colors.ON_SURFACE_VARIANT,
        )
        for job in item.get("jobs", [])
    ]
    return section_card(
        ft.Row(
            alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
            controls=[
                ft.Text(str(item.get("name", "")), size=16, weight=ft.FontWeight.W_600),
                ft.Row(
                    tight=True,
                    spacing=4,
                    controls=[ft.Icon(icon, color=color, size=18), ft.Text(word, color=color)],
                ),
            ],
        ),
        ft.Text(str(item.get("reason", ""))),
        *facts,
        *jobs,
    )
