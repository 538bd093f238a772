"""The dashboard's parts that a reading sets, and the record of what it changed.

Each part is as few controls as it can be: every live dashboard session holds them, and
each Flet control costs a session about 2.6 KiB (issue 10).
"""

from __future__ import annotations

from typing import Any

import flet as ft

from aegis_app.views.chart_images import ChartFigure, Series, waiting_figure
from aegis_app.views.components import BANNER_PADDING, CARD_PADDING, outline
from aegis_app.views.live_figures import ComponentFigure

ResponsiveColumns = dict[str | ft.ResponsiveRowBreakpoint, int | float]
CARD_COLUMNS: ResponsiveColumns = {"xs": 12, "md": 6, "xl": 3}
CHART_COLUMNS: ResponsiveColumns = {"xs": 12, "lg": 6}


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
