"""Small building blocks shared by the views."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import flet as ft
import flet_charts as fch

STATUS_STYLE: dict[str, tuple[ft.IconData, str, str]] = {
    "healthy": (ft.Icons.CHECK_CIRCLE, ft.Colors.GREEN_700, "Healthy"),
    "degraded": (ft.Icons.WARNING_AMBER_ROUNDED, ft.Colors.AMBER_800, "Degraded"),
    "down": (ft.Icons.ERROR, ft.Colors.RED_700, "Down"),
    "unknown": (ft.Icons.HELP_OUTLINE, ft.Colors.GREY_600, "Unknown"),
}


def status_style(status: str) -> tuple[ft.IconData, str, str]:
    return STATUS_STYLE.get(status, STATUS_STYLE["unknown"])


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
            ft.Row(list(trailing), tight=True, wrap=True),
        ],
    )


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


class MetricChart:
    """A titled line chart of up to the last ``window_minutes`` of samples.

    The x axis spans the data there is (at least a minute), so a server that started
    five minutes ago shows five minutes across the card rather than a sliver at its edge.
    x is minutes since the chart was made, so a point keeps its x as time passes and
    the same point control is reused on every refresh: only new and dropped points go
    over the wire, not hundreds of redrawn ones.
    """

    def __init__(self, title: str, unit: str, color: str, window_minutes: int = 60) -> None:
        self.unit = unit
        self.window_minutes = window_minutes
        self.anchor = datetime.now(UTC)
        self._points: dict[datetime, fch.LineChartDataPoint] = {}
        self.latest = ft.Text("-", size=20, weight=ft.FontWeight.W_600)
        self.series = fch.LineChartData(
            points=[],
            color=color,
            stroke_width=2,
            curved=True,
            prevent_curve_over_shooting=True,
            below_line_bgcolor=ft.Colors.with_opacity(0.12, color),
        )
        self.bottom_axis = fch.ChartAxis(label_size=28)
        self.chart = fch.LineChart(
            data_series=[self.series],
            min_y=0,
            height=150,
            interactive=False,
            horizontal_grid_lines=fch.ChartGridLines(
                color=ft.Colors.with_opacity(0.15, ft.Colors.ON_SURFACE), width=1
            ),
            left_axis=fch.ChartAxis(label_size=44, show_min=False),
            bottom_axis=self.bottom_axis,
        )
        self._set_span(now=0.0, minutes=float(window_minutes))
        self.control = section_card(
            ft.Row(
                alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                controls=[ft.Text(title, weight=ft.FontWeight.W_600), self.latest],
            ),
            self.chart,
            padding=16,
        )

    def minutes(self, moment: datetime) -> float:
        return round((moment - self.anchor).total_seconds() / 60, 3)

    def _set_span(self, now: float, minutes: float) -> None:
        self.chart.min_x = now - minutes
        self.chart.max_x = now
        # Else the automatic interval can skip the middle label (a 1 min span).
        self.bottom_axis.label_spacing = minutes / 2
        self.bottom_axis.labels = [
            fch.ChartAxisLabel(value=now - minutes, label=_minutes_ago(minutes)),
            fch.ChartAxisLabel(value=now - minutes / 2, label=_minutes_ago(minutes / 2)),
            fch.ChartAxisLabel(value=now, label="now"),
        ]

    def show(
        self, samples: Sequence[tuple[datetime, float]], now: datetime, fixed_max: float | None
    ) -> None:
        """Plot ``(time, value)`` samples, oldest first, reusing the points already drawn."""
        points: dict[datetime, fch.LineChartDataPoint] = {}
        for at, value in samples:
            point = self._points.get(at)
            if point is None:
                point = fch.LineChartDataPoint(x=self.minutes(at), y=round(value, 2))
            points[at] = point
        self._points = points
        self.series.points = list(points.values())
        now_x = self.minutes(now)
        oldest = now_x - min((p.x for p in points.values()), default=now_x - 1.0)
        self._set_span(now_x, min(float(self.window_minutes), max(1.0, oldest)))
        top = max((value for _, value in samples), default=0.0)
        self.chart.max_y = fixed_max if fixed_max is not None else _nice_ceiling(top)
        self.latest.value = f"{samples[-1][1]:.1f} {self.unit}" if samples else "no data yet"


def _minutes_ago(minutes: float) -> str:
    if minutes < 2:
        return f"-{round(minutes * 60)} s"
    return f"-{minutes:.0f} min"


def _nice_ceiling(value: float) -> float:
    """A round axis top above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** len(str(int(value)))
    for step in (0.1, 0.2, 0.25, 0.5, 1.0):
        if value * 1.1 <= magnitude * step:
            return magnitude * step
    return magnitude


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
