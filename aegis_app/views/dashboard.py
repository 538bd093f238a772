"""Home: overall status, one card per component, and the last hour as charts. Live.

The figures arrive pushed: one stream per dashboard (``/system/live``), fed by the
backend's hub, which computes one reading per period for every viewer. A reading sets
the values of the controls the view keeps; it never rebuilds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from typing import Any

import flet as ft

from aegis_app.api_client import APIError, DatabaseUnavailable, SessionEnded, error_for
from aegis_app.views.base import BaseView
from aegis_app.views.chart_images import SERIES, ChartFigure, Series, waiting_figure
from aegis_app.views.components import (
    BANNER_PADDING,
    CARD_PADDING,
    outline,
    page_header,
    status_style,
)
from aegis_app.views.live_figures import READINGS, ComponentFigure, DashboardReading
from aegis_app.views.property_patch import Path, send_properties

RETRY_SECONDS = 5.0
"""After the stream failed (the server went away, say): when to open it again."""
ResponsiveColumns = dict[str | ft.ResponsiveRowBreakpoint, int | float]
CARD_COLUMNS: ResponsiveColumns = {"xs": 12, "md": 6, "xl": 3}
CHART_COLUMNS: ResponsiveColumns = {"xs": 12, "lg": 6}
STALE_OPACITY = 0.6
"""The last figures, kept on screen during a database outage, are faded to this."""
OVERALL_MESSAGE = {
    "healthy": "All systems are healthy.",
    "degraded": "Some components need attention.",
    "down": "A component is down.",
}
READING = "reading"
PROBLEM = "problem"


class Changes:
    """What a reading changed, so that only those values are sent.

    Flet's ``update()`` walks the whole subtree it is given, unchanged controls and all;
    the changed values alone, in one message (``send_properties``), cost a fraction of
    diffing the dashboard. A change of structure (cards added, options replaced) sends
    the whole view.
    """

    def __init__(self) -> None:
        self.controls: dict[int, ft.Control] = {}
        self.structure = False

    def set(self, control: ft.Control, name: str, value: Any) -> None:
        """Set a property only when it changes: an unchanged value sends nothing."""
        if getattr(control, name) != value:
            setattr(control, name, value)
            self.controls[id(control)] = control


class DashboardView(BaseView):
    route = "/"
    title = "Dashboard"
    in_navigation = True
    icon = ft.Icons.DASHBOARD_OUTLINED

    retry_seconds = RETRY_SECONDS

    def build(self) -> ft.Control:
        user = self.state.user
        self.updated = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT, size=12)
        self.banner_icon = ft.Icon(ft.Icons.HOURGLASS_EMPTY)
        self.banner_text = ft.Text("Checking…", weight=ft.FontWeight.W_600)
        self.banner = ft.Container(
            padding=BANNER_PADDING,
            border_radius=12,
            bgcolor=ft.Colors.with_opacity(0.14, ft.Colors.GREY_600),
            content=ft.Row([self.banner_icon, self.banner_text]),
        )
        self.changes = Changes()
        self.paths: dict[int, Path] = {}
        """Where each changed control sits in the layout, for ``send_properties``."""
        self.outage: OutageBanner | None = None
        """Built at the first outage: most dashboards never show one."""
        self.status_source = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT, size=12)
        self.cards: dict[str, ComponentCard] = {}
        self.card_row = ft.ResponsiveRow(spacing=12, run_spacing=12)
        self.chart_instance: str | None = None
        """The instance whose figures the viewer picked; None: the server's choice."""
        self.chart_source = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT, size=12)
        self.instance_picker: ft.Dropdown | None = None
        """Built when a second instance reports: most deployments have one."""
        self.last_success: datetime | None = None
        self.latest: DashboardReading | None = None
        dark = uses_dark_theme(self.page)
        self.charts = [ChartCard(series, dark=dark) for series in SERIES]
        self.chart_heading = ft.Column(
            [ft.Text("Last hour", size=18, weight=ft.FontWeight.W_600), self.chart_source],
            spacing=4,
            tight=True,
        )
        # Everything drawn from the API's answers: faded while they are out of date.
        self.figures = ft.Column(
            spacing=18,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                ft.Column([self.banner, self.status_source], spacing=6),
                self.card_row,
                self.chart_heading,
                ft.ResponsiveRow(
                    spacing=12, run_spacing=12, controls=[chart.control for chart in self.charts]
                ),
            ],
        )
        self.layout = ft.Column(
            spacing=18,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                page_header(
                    f"Welcome, {user.full_name if user else ''}", "Live system health", self.updated
                ),
                self.error_text,
                self.figures,
            ],
        )
        return self.layout

    async def on_enter(self, params: dict[str, str]) -> None:
        self.params = params
        self.start_task(self._stay_live)

    async def on_refresh(self) -> None:
        """Back from a reconnect: show the newest reading (the stream kept running)."""
        if self.latest is not None:
            self._show_reading(self.latest)
        if self.running_tasks == 0 and self.waiting_tasks == 0:
            self.start_task(self._stay_live)

    async def _stay_live(self) -> None:
        """Follow the live feed; when it breaks, say why and open it again shortly."""
        while True:
            query = {} if self.chart_instance is None else {"instance": self.chart_instance}
            try:
                async for event in self.state.api.events("/system/live", **query):
                    self._on_event(event.name, event.data)
                    del event  # its bytes are not held while the stream is quiet
            except SessionEnded:
                return  # the router has sent the user to sign in
            except APIError as error:
                self._show_failure(error)
            else:
                if not self.state.signed_in:
                    return  # the session ended: the router is taking the user to sign in
            await asyncio.sleep(self.retry_seconds)

    def _on_event(self, name: str, data: bytes) -> None:
        if name == READING:
            self.latest = READINGS.decode(data)
            if self.state.connected:
                self._show_reading(self.latest)
        elif name == PROBLEM:
            body = json.loads(data)
            self._show_failure(error_for(int(body.get("status", 503)), body.get("detail")))

    def _show_reading(self, reading: DashboardReading) -> None:
        self.show_error(None)
        self._show_outage(None)
        self._show_status(reading.status, reading.components)
        self._show_charts(reading)
        self.last_success = datetime.now()
        self.changes.set(self.updated, "value", f"Updated {self.last_success.strftime('%H:%M:%S')}")
        self.push()

    def _show_failure(self, error: APIError) -> None:
        if isinstance(error, DatabaseUnavailable):
            self._show_outage(error)
        else:
            self.show_error(error.message)
        self.push()

    def push(self) -> None:
        """Send what changed: the changed values in one message, or the view after a
        change of structure. Never the shell around it."""
        changes, self.changes = self.changes, Changes()
        # RuntimeError: the view is not on the page (left, or not mounted yet).
        with contextlib.suppress(RuntimeError):
            # Found once: each control's own update() walks up to the page twice.
            page = self.body.page
            if changes.structure:
                page.update(self.body)
            elif changes.controls:
                send_properties(page, self.layout, changes.controls.values(), self.paths)

    async def _pick_instance(self, event: ft.Event[ft.Dropdown]) -> None:
        self.chart_instance = event.control.value or None
        self.cancel_tasks()
        self.start_task(self._stay_live)

    def _show_outage(self, outage: DatabaseUnavailable | None) -> None:
        self.changes.set(self.figures, "opacity", STALE_OPACITY if outage is not None else 1.0)
        if outage is None:
            if self.outage is not None:
                self.changes.set(self.outage.control, "visible", False)
            return
        if self.outage is None:
            self.outage = OutageBanner()
            self.layout.controls.insert(
                self.layout.controls.index(self.figures), self.outage.control
            )
        self.changes.structure = True  # the banner's texts and the faded figures at once
        self.outage.control.visible = True
        self.outage.text.value = outage.message
        since = (
            f"The figures below are from {self.last_success.strftime('%H:%M:%S')}"
            if self.last_success is not None
            else "No figures yet"
        )
        self.outage.note.value = (
            f"{since}; this page tries again every {self.retry_seconds:g} s "
            "and clears this message when the database answers."
        )

    def _show_status(self, status: dict[str, Any], components: tuple[ComponentFigure, ...]) -> None:
        overall = str(status.get("overall", "unknown"))
        icon, color, word = status_style(overall)
        changes = self.changes
        # Tinted background, full-strength text: readable in light and dark themes.
        if self.banner_icon.icon != icon:
            self.banner.border = outline(color)
        changes.set(self.banner, "bgcolor", ft.Colors.with_opacity(0.14, color))
        changes.set(self.banner_icon, "icon", icon)
        changes.set(self.banner_icon, "color", color)
        changes.set(self.banner_text, "color", color)
        changes.set(
            self.banner_text, "value", f"{word}. {OVERALL_MESSAGE.get(overall, '')}".strip()
        )
        names = [figure.name for figure in components]
        if names != list(self.cards):
            self.cards = {name: ComponentCard() for name in names}
            self.card_row.controls = [card.control for card in self.cards.values()]
            changes.structure = True
        for figure, card in zip(components, self.cards.values(), strict=True):
            card.show(figure, changes)
        instance = status.get("instance")
        changes.set(
            self.status_source,
            "value",
            f"Status of instance {describe_instance(instance, status.get('host'))}, "
            "the one serving this page."
            if instance
            else "",
        )

    def _show_charts(self, reading: DashboardReading) -> None:
        dark = uses_dark_theme(self.page)
        for card, figure in zip(self.charts, reading.charts, strict=True):
            card.show(figure, self.changes, dark=dark)
        self._show_chart_source(reading.metrics)

    def _show_chart_source(self, metrics: dict[str, Any]) -> None:
        """Say whose figures the charts show and, with several instances, let the viewer
        pick one: a series is one instance's samples of its own host, never a mix."""
        whose = metrics.get("instance")
        answered_by = metrics.get("answered_by")
        reporting: list[dict[str, Any]] = metrics.get("reporting") or []
        names = [str(r.get("instance")) for r in reporting]
        text = f"Figures from instance {describe_instance(whose, metrics.get('host'))}"
        if whose and whose == answered_by:
            text += ", the one serving this page"
        text += "."
        if len(names) > 1:
            text += f" {len(names)} instances reported in the last hour; pick one to compare."
        elif whose and answered_by and whose != answered_by:
            text += f" This page is served by {answered_by}, which took no samples lately."
        self.changes.set(self.chart_source, "value", text if whose else "")
        picker = self.instance_picker
        if picker is None and len(names) > 1:
            picker = self.instance_picker = ft.Dropdown(
                label="Instance", width=360, options=[], on_select=self._pick_instance
            )
            # The heading and the picker side by side, in place of the heading alone.
            heading_row = ft.Row(
                alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                wrap=True,
                controls=[self.chart_heading, picker],
            )
            self.figures.controls[self.figures.controls.index(self.chart_heading)] = heading_row
        if picker is None:
            return
        if [option.key for option in picker.options or []] != names:
            self.changes.structure = True
            picker.options = [
                ft.DropdownOption(
                    key=name,
                    text=f"{name}{' (this page)' if name == answered_by else ''}",
                )
                for name in names
            ]
        self.changes.set(picker, "value", whose if whose in names else None)
        self.changes.set(picker, "visible", len(names) > 1)


class OutageBanner:
    """The database-outage message above the faded figures, in the theme's error roles
    (readable in light and dark)."""

    def __init__(self) -> None:
        self.text = ft.Text("", weight=ft.FontWeight.W_600, color=ft.Colors.ON_ERROR_CONTAINER)
        self.note = ft.Text("", color=ft.Colors.ON_ERROR_CONTAINER, size=13)
        self.control = ft.Container(
            padding=BANNER_PADDING,
            border_radius=12,
            bgcolor=ft.Colors.ERROR_CONTAINER,
            border=outline(ft.Colors.ERROR),
            content=ft.Column([self.text, self.note], spacing=2, tight=True),
        )


class ChartCard:
    """A chart's card: one image, its frame, title, newest value and the figures in words
    drawn in it, and the words again as its label for screen readers. One control,
    whatever the number of points."""

    def __init__(self, series: Series, *, dark: bool) -> None:
        waiting = waiting_figure(series)
        self.image = ft.Image(
            src=waiting.dark_svg if dark else waiting.light_svg,
            col=CHART_COLUMNS,
            fit=ft.BoxFit.CONTAIN,
            semantics_label=waiting.summary,
        )
        self.control = self.image

    @property
    def summary(self) -> str:
        return self.image.semantics_label or ""

    def show(self, figure: ChartFigure, changes: Changes, *, dark: bool) -> None:
        # The same bytes object for every viewer of this reading: shared, not copied.
        svg = figure.dark_svg if dark else figure.light_svg
        if self.image.src is svg:
            return
        self.image.src = svg
        self.image.semantics_label = figure.summary
        changes.controls[id(self.image)] = self.image


class ComponentCard:
    """One component: its name, status word, reason and facts as one Markdown text
    (written once per reading for every viewer, ``live_figures``), in a frame tinted
    with the status's colour. Two controls; a reading sets the text."""

    def __init__(self) -> None:
        self.text = ft.Markdown("")
        self.control = ft.Container(
            col=CARD_COLUMNS,
            padding=CARD_PADDING,
            border_radius=12,
            border=outline(ft.Colors.OUTLINE_VARIANT),
            content=self.text,
        )

    def show(self, figure: ComponentFigure, changes: Changes) -> None:
        if self.control.bgcolor != figure.tint:
            self.control.bgcolor = figure.tint
            self.control.border = outline(figure.color)
            changes.controls[id(self.control)] = self.control
        changes.set(self.text, "value", figure.markdown)


def uses_dark_theme(page: ft.Page) -> bool:
    if page.theme_mode == ft.ThemeMode.DARK:
        return True
    return page.theme_mode == ft.ThemeMode.SYSTEM and page.platform_brightness == ft.Brightness.DARK


def describe_instance(instance: Any, host: Any) -> str:
    if not instance:
        return "unknown"
    return f"{instance} (host {host})" if host else str(instance)
