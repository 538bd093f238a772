"""The NiceGUI peer: 4 status cards and 4 ECharts line charts of 120 points, every 5 s.

Run by the bench with the peer venv's Python: ``python nicegui_page.py PORT``. As a
NiceGUI app is usually written: one page function builds each visitor's elements, and
a ``ui.timer`` per visitor copies the latest reading into them every 5 s. The reading
itself is computed once per period for everyone (``app.timer``), as Aegis's hub does,
so the figures compare the per-session cost of the two frameworks, not the data source.
A button swaps a line of text: the click the bench times.
"""

from __future__ import annotations

import math
import sys
from datetime import datetime
from typing import Any

from nicegui import app, ui

POINTS = 120
PERIOD = 5.0
SERIES = ["CPU", "Memory", "API latency", "Database latency"]
COMPONENTS = ["API", "Database", "Scheduler", "Host"]


class Reading:
    """The latest status and the last hour of each series, shared by every page."""

    def __init__(self) -> None:
        self.tick = 0
        self.series: list[list[float]] = [
            [self.value(k, i) for i in range(POINTS)] for k in range(len(SERIES))
        ]
        self.labels = [f"-{(POINTS - i) * 30}s" for i in range(POINTS)]
        self.updated = ""
        self.advance()

    @staticmethod
    def value(k: int, i: int) -> float:
        return round(40 + 30 * math.sin((i + 7 * k) / 9), 2)

    def advance(self) -> None:
        self.tick += 1
        for k, points in enumerate(self.series):
            points.pop(0)
            points.append(self.value(k, POINTS + self.tick))
        self.updated = f"Updated {datetime.now().strftime('%H:%M:%S')}"


reading = Reading()


def chart_options(k: int) -> dict[str, Any]:
    return {
        "animation": False,
        "title": {"text": SERIES[k], "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": reading.labels},
        "yAxis": {"type": "value"},
        "series": [{"type": "line", "data": list(reading.series[k]), "showSymbol": False}],
    }


@ui.page("/")  # type: ignore[untyped-decorator]  # NiceGUI: only in the peers' venv
def dashboard() -> None:
    updated = ui.label(reading.updated)
    values: list[ui.label] = []
    with ui.row():
        for name in COMPONENTS:
            with ui.card():
                ui.label(name).classes("text-lg")
                values.append(ui.label(f"healthy, {reading.series[0][-1]} %"))
    charts = []
    with ui.grid(columns=2):
        for k in range(len(SERIES)):
            charts.append(ui.echart(chart_options(k)).classes("w-96 h-64"))
    toggled = ui.label("A")
    ui.button("Toggle", on_click=lambda: toggled.set_text("B" if toggled.text == "A" else "A"))

    def refresh() -> None:
        updated.set_text(reading.updated)
        for k, label in enumerate(values):
            label.set_text(f"healthy, {reading.series[k][-1]} %")
        for k, chart in enumerate(charts):
            chart.options["series"][0]["data"] = list(reading.series[k])
            chart.update()

    ui.timer(PERIOD, refresh)


app.timer(PERIOD, reading.advance)

if __name__ in {"__main__", "__mp_main__"}:
    ui.run(
        host="127.0.0.1",
        port=int(sys.argv[1]),
        reload=False,
        show=False,
        title="NiceGUI peer",
        show_welcome_message=False,
    )
