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
from aegis_app.views.chart_images import SERIES
from aegis_app.views.components import BANNER_PADDING, outline, page_header
from aegis_app.views.dashboard_cards import (
    Changes,
    ChartCard,
    ComponentCard,
    OutageBanner,
)
from aegis_app.views.live_figures import (
    READINGS,
    BannerFigure,
    ComponentFigure,
    DashboardReading,
    describe_instance,
)
from aegis_app.views.property_patch import Path, send_properties

RETRY_SECONDS = 5.0
"""After the stream failed (the server went away, say): when to open it again."""
WHOLE_ROW = 12
# Shared by every session, so never changed in place: 6 between the banner and its
# source line, then 18 above the cards and above the charts' heading.
GRID_MARGIN = ft.Margin.only(top=12)
HEADING_MARGIN = ft.Margin.only(top=6)
STALE_OPACITY = 0.6
"""The last figures, kept on screen during a database outage, are faded to this."""
READING = "reading"
PROBLEM = "problem"


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
        self.error_placed = False
        self.left = False
        self.outage: OutageBanner | None = None
        """Built at the first outage: most dashboards never show one."""
        self.status_source = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT, size=12)
        self.banner_shown: BannerFigure | None = None
        # The cards of the components the newest reading had: the first reading then
        # only sets their words, where building them would send the whole view again.
        self.cards = {name: ComponentCard() for name in READINGS.component_names()}
        self.chart_instance: str | None = None
        """The instance whose figures the viewer picked; None: the server's choice."""
        self.chart_source = ft.Text("", color=ft.Colors.ON_SURFACE_VARIANT, size=12)
        self.instance_picker: ft.Dropdown | None = None
        """Built when a second instance reports: most deployments have one."""
        self.last_success: datetime | None = None
        self.latest: DashboardReading | None = None
        dark = uses_dark_theme(self.page)
        self.charts = [ChartCard(series, dark=dark) for series in SERIES]
        self.chart_heading: ft.LayoutControl = ft.Column(
            [ft.Text("Last hour", size=18, weight=ft.FontWeight.W_600), self.chart_source],
            spacing=4,
            tight=True,
            col=WHOLE_ROW,
            margin=HEADING_MARGIN,
        )
        # The cards, the charts' heading and the charts share one responsive grid: a row
        # for each would cost every session two more controls.
        self.grid = ft.ResponsiveRow(spacing=12, run_spacing=12, margin=GRID_MARGIN)
        self._lay_out_grid()
        # Everything drawn from the API's answers: faded while they are out of date.
        self.figures = ft.Column(
            spacing=6,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[self.banner, self.status_source, self.grid],
        )
        self.layout = ft.Column(
            spacing=18,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            controls=[
                page_header(
                    f"Welcome, {user.full_name if user else ''}", "Live system health", self.updated
                ),
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
        self._show_status(reading.banner, reading.components)
        self._show_charts(reading)
        self.last_success = datetime.now()
        self.changes.set(self.updated, "value", f"Updated {self.last_success.strftime('%H:%M:%S')}")
        self.push()

    def show_error(self, message: str | None) -> None:
        """The error above the figures, placed there when the first one comes: most
        dashboards never show one."""
        if not self.error_placed:
            if not message:
                return
            self.layout.controls.insert(self.layout.controls.index(self.figures), self.error_text)
            self.error_placed = True
            self.changes.structure = True
        text = self.error_text
        self.changes.set(text, "value", message or "")
        self.changes.set(text, "semantics_label", message or None)
        self.changes.set(text, "visible", bool(message))

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
        # Only while the view is on the page: on_enter (which starts the feed) runs once
        # it is placed, and on_leave marks it left before it is taken off.
        if self.left:
            return
        with contextlib.suppress(RuntimeError):  # a Flet refusal loses one push, not the feed
            if changes.structure:
                self.paths.clear()  # controls moved, or were replaced
                self.page.update(self.body)
            elif changes.controls:
                send_properties(self.page, self.layout, changes.controls.values(), self.paths)

    async def on_leave(self) -> None:
        self.left = True  # a push from now on would patch controls the client dropped
        await super().on_leave()

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

    def _show_status(self, banner: BannerFigure, components: tuple[ComponentFigure, ...]) -> None:
        changes = self.changes
        if banner != self.banner_shown:
            self.banner_shown = banner
            changes.set(self.banner, "border", outline(banner.color))
            changes.set(self.banner, "bgcolor", banner.tint)
            changes.set(self.banner_icon, "icon", banner.icon)
            changes.set(self.banner_icon, "color", banner.color)
            changes.set(self.banner_text, "color", banner.color)
            changes.set(self.banner_text, "value", banner.words)
            changes.set(self.status_source, "value", banner.source)
        names = [figure.name for figure in components]
        if names != list(self.cards):
            self.cards = {name: ComponentCard() for name in names}
            self._lay_out_grid()
            changes.structure = True
        for figure, card in zip(components, self.cards.values(), strict=True):
            card.show(figure, changes)

    def _show_charts(self, reading: DashboardReading) -> None:
        dark = uses_dark_theme(self.page)
        for card, figure in zip(self.charts, reading.charts, strict=True):
            card.show(figure, self.changes, dark=dark)
        self._show_chart_source(reading.metrics)

    def _lay_out_grid(self) -> None:
        self.grid.controls = [
            *(card.control for card in self.cards.values()),
            self.chart_heading,
            *(chart.control for chart in self.charts),
        ]

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
            heading = self.chart_heading
            self.chart_heading = ft.Row(
                alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                wrap=True,
                controls=[heading, picker],
                col=WHOLE_ROW,
                margin=HEADING_MARGIN,
            )
            heading.margin = None
            self._lay_out_grid()
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


def uses_dark_theme(page: ft.Page) -> bool:
    if page.theme_mode == ft.ThemeMode.DARK:
        return True
    return page.theme_mode == ft.ThemeMode.SYSTEM and page.platform_brightness == ft.Brightness.DARK
