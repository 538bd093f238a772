"""Home: overall status, one card per component, and the last hour as charts. Live."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import flet as ft

from aegis_app.api_client import APIError
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
DATABASE_OUTAGE_PREFIX = "The database"
"""How the API begins the ``detail`` of its 503 while the database cannot serve."""
STALE_OPACITY = 0.6
"""The last figures, kept on screen during a database outage, are faded to this."""
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
        self.outage_text = ft.Text(
            "", weight=ft.FontWeight.W_600, color=ft.Colors.ON_ERROR_CONTAINER
        )
        self.outage_note = ft.Text("", color=ft.Colors.ON_ERROR_CONTAINER, size=13)
        # Theme roles, not fixed colours: the error container is readable in light and dark.
        self.outage = ft.Container(
            visible=False,
            padding=ft.Padding.symmetric(horizontal=20, vertical=14),
            border_radius=12,
            bgcolor=ft.Colors.ERROR_CONTAINER,
            border=ft.Border.all(1, ft.Colors.ERROR),
            content=ft.Row(
                controls=[
                    ft.Icon(ft.Icons.CLOUD_OFF, color=ft.Colors.ON_ERROR_CONTAINER),
                    ft.Column(
                        [self.outage_text, self.outage_note], spacing=2, tight=True, expand=True
                    ),
                ]
            ),
        )
        self.status_source = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT, size=12)
        self.cards = ft.ResponsiveRow(spacing=12, run_spacing=12)
        self.chart_instance: str | None = None
        """The instance whose figures the viewer picked; None: the server's choice."""
        self.chart_source = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT, size=12)
        self.instance_picker = ft.Dropdown(
            label="Instance", width=360, visible=False, options=[], on_select=self._pick_instance
        )
        self.last_success: datetime | None = None
        self.charts = {
            "cpu_percent": MetricChart("CPU", "%", ft.Colors.INDIGO, CHART_MINUTES),
            "memory_percent": MetricChart("Memory", "%", ft.Colors.TEAL, CHART_MINUTES),
            "api_latency_ms": MetricChart(
                "API latency", "ms", ft.Colors.DEEP_ORANGE, CHART_MINUTES
            ),
            "db_latency_ms": MetricChart("Database latency", "ms", ft.Colors.PURPLE, CHART_MINUTES),
        }
        # Everything drawn from the API's answers: faded while they are out of date.
        self.figures = ft.Column(
            spacing=18,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                ft.Column([self.banner, self.status_source], spacing=6),
                self.cards,
                ft.Row(
                    alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                    wrap=True,
                    controls=[
                        ft.Column(
                            [
                                ft.Text("Last hour", size=18, weight=ft.FontWeight.W_600),
                                self.chart_source,
                            ],
                            spacing=4,
                            tight=True,
                        ),
                        self.instance_picker,
                    ],
                ),
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
        return ft.Column(
            spacing=18,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                page_header(
                    f"Welcome, {user.full_name if user else ''}", "Live system health", self.updated
                ),
                self.error_text,
                self.outage,
                self.figures,
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
            self._ask(self.state.api.get("/system/status")), self._ask(self._get_metrics())
        )
        failures = [r for r in (status, metrics) if isinstance(r, APIError)]
        outage = next((e for e in failures if is_database_outage(e)), None)
        # A database outage gets its own banner; the figures already drawn stay.
        other = next((e for e in failures if not is_database_outage(e) and e.status != 401), None)
        self.show_error(other.message if other is not None else None)
        self._show_outage(outage)
        if isinstance(status, dict):
            self._show_status(status)
        if isinstance(metrics, dict):
            self._show_metrics(metrics)
        if isinstance(status, dict) or isinstance(metrics, dict):
            self.last_success = datetime.now()
            self.updated.value = f"Updated {self.last_success.strftime('%H:%M:%S')}"

    async def _ask(self, work: Awaitable[Any]) -> Any:
        """The answer, or the :class:`APIError` it failed with (a 401 has already sent
        the user to sign in)."""
        try:
            return await work
        except APIError as error:
            return error

    def _get_metrics(self) -> Awaitable[Any]:
        query: dict[str, Any] = {"minutes": CHART_MINUTES, "points": CHART_POINTS}
        if self.chart_instance is not None:
            query["instance"] = self.chart_instance
        return self.state.api.get("/system/metrics", **query)

    async def _pick_instance(self, _: ft.Event[ft.Dropdown]) -> None:
        self.chart_instance = self.instance_picker.value or None
        metrics = await self._ask(self._get_metrics())
        if not isinstance(metrics, APIError):
            self._show_metrics(metrics)
        elif is_database_outage(metrics):
            self._show_outage(metrics)
        elif metrics.status != 401:
            self.show_error(metrics.message)

    def _show_outage(self, outage: APIError | None) -> None:
        self.outage.visible = outage is not None
        self.figures.opacity = STALE_OPACITY if outage is not None else 1.0
        if outage is None:
            return
        self.outage_text.value = outage.message
        since = (
            f"The figures below are from {self.last_success.strftime('%H:%M:%S')}"
            if self.last_success is not None
            else "No figures yet"
        )
        self.outage_note.value = (
            f"{since}; this page tries again every {self.refresh_seconds:g} s "
            "and clears this message when the database answers."
        )

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
        instance = status.get("instance")
        self.status_source.value = (
            f"Status of instance {describe_instance(instance, status.get('host'))}, "
            "the one serving this page."
            if instance
            else ""
        )

    def _show_metrics(self, metrics: dict[str, Any]) -> None:
        samples: list[dict[str, Any]] = metrics.get("samples", [])
        now = datetime.now(UTC)
        for key, chart in self.charts.items():
            series = [
                (datetime.fromisoformat(sample["at"]), float(sample[key]))
                for sample in samples
                if sample.get(key) is not None
            ]
            chart.show(series, now, fixed_max=100.0 if key.endswith("percent") else None)
        self._show_chart_source(metrics)

    def _show_chart_source(self, metrics: dict[str, Any]) -> None:
        """Say whose figures the charts show and, with several instances, let the viewer
        pick one: a series is one instance's samples of its own host, never a mix."""
        whose = metrics.get("instance")
        answered_by = metrics.get("answered_by")
        reporting: list[dict[str, Any]] = metrics.get("reporting") or []
        names = [str(r.get("instance")) for r in reporting]
        if self.chart_instance is not None and self.chart_instance not in names:
            self.chart_instance = None  # it stopped reporting: back to the server's choice
        text = f"Figures from instance {describe_instance(whose, metrics.get('host'))}"
        if whose and whose == answered_by:
            text += ", the one serving this page"
        text += "."
        if len(names) > 1:
            text += f" {len(names)} instances reported in the last hour; pick one to compare."
        elif whose and answered_by and whose != answered_by:
            text += f" This page is served by {answered_by}, which took no samples lately."
        self.chart_source.value = text if whose else ""
        self.instance_picker.options = [
            ft.DropdownOption(
                key=name,
                text=f"{name}{' (this page)' if name == answered_by else ''}",
            )
            for name in names
        ]
        self.instance_picker.value = whose if whose in names else None
        self.instance_picker.visible = len(names) > 1


def is_database_outage(error: APIError) -> bool:
    """The API's answer while its database cannot serve: 503 with a detail saying so."""
    return error.status == 503 and error.message.startswith(DATABASE_OUTAGE_PREFIX)


def describe_instance(instance: Any, host: Any) -> str:
    if not instance:
        return "unknown"
    return f"{instance} (host {host})" if host else str(instance)


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
