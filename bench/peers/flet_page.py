"""The bare Flet peer, our floor: Aegis's dashboard content with nothing else behind it.

``python -m bench.peers.flet_page PORT MODE`` serves, with a real uvicorn, a page of 4
status cards, 4 line charts of 120 points, an "Updated HH:MM:SS" line and a button
that swaps a line of text; ``/echo`` is a raw WebSocket echo on the same server (the
floor under any click). MODE says how the charts are drawn:

* ``linechart``: ``flet_charts.LineChart``s with 120 point controls each, as Aegis's
  dashboard drew them before issue 10;
* ``image``: one ``ft.Image`` per chart whose source is an SVG drawn once per period
  and shared by every session (the same string object), as the issue-10 dashboard does.

One reading per period is computed for everyone and pushed to each session (no API,
no database, no sign-in): what is left is Flet's own cost per session and per refresh.
Flet 0.82.2's eager debug f-strings (the diff's and ``send_message``'s) are skipped here
too (``flet_diff_patch``), as in Aegis, so the floor is not inflated by them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import sys
from collections.abc import AsyncIterator
from datetime import datetime

import flet as ft
import flet.fastapi as flet_fastapi
import flet_charts as fch
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from flet_web.fastapi.flet_app import FletApp

from aegis_app.launch.flet_diff_patch import skip_eager_debug_formatting, skip_eager_send_logging

POINTS = 120
PERIOD = 5.0
SERIES = ["CPU", "Memory", "API latency", "Database latency"]
COMPONENTS = ["API", "Database", "Scheduler", "Host"]
COLORS = [ft.Colors.INDIGO, ft.Colors.TEAL, ft.Colors.DEEP_ORANGE, ft.Colors.PURPLE]


def value(k: int, i: int) -> float:
    return round(40 + 30 * math.sin((i + 7 * k) / 9), 2)


def svg(points: list[float]) -> str:
    """A plain SVG polyline of the series, base64 (what ``ft.Image.src`` takes inline)."""
    path = " ".join(f"{i * 4},{200 - 2 * y:.1f}" for i, y in enumerate(points))
    text = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 200" width="480" '
        f'height="200"><polyline fill="none" stroke="#3f51b5" points="{path}"/></svg>'
    )
    return base64.b64encode(text.encode()).decode()


class Reading:
    """One reading per period for every session; sessions wait on :attr:`changed`."""

    def __init__(self) -> None:
        self.tick = 0
        self.series = [[value(k, i) for i in range(POINTS)] for k in range(len(SERIES))]
        self.images = [svg(s) for s in self.series]
        self.updated = f"Updated {datetime.now().strftime('%H:%M:%S')}"
        self.changed: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.changed = asyncio.Event()
            self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(PERIOD)
            self.tick += 1
            for k, points in enumerate(self.series):
                points.pop(0)
                points.append(value(k, POINTS + self.tick))
            self.images = [svg(s) for s in self.series]
            self.updated = f"Updated {datetime.now().strftime('%H:%M:%S')}"
            changed, self.changed = self.changed, asyncio.Event()
            assert changed is not None
            changed.set()


reading = Reading()


def line_chart(k: int) -> fch.LineChart:
    return fch.LineChart(
        data_series=[
            fch.LineChartData(
                points=[fch.LineChartDataPoint(x=i, y=y) for i, y in enumerate(reading.series[k])],
                color=COLORS[k],
                stroke_width=2,
                curved=True,
            )
        ],
        min_y=0,
        max_y=100,
        height=200,
    )


def make_main(mode: str) -> object:
    async def main(page: ft.Page) -> None:
        reading.start()
        updated = ft.Text(reading.updated)
        values = [ft.Text(f"healthy, {reading.series[k][-1]} %") for k in range(4)]
        cards: list[ft.Control] = [
            ft.Card(ft.Container(ft.Column([ft.Text(name, size=16), values[k]]), padding=16))
            for k, name in enumerate(COMPONENTS)
        ]
        if mode == "linechart":
            charts: list[ft.Control] = [line_chart(k) for k in range(4)]
        else:
            charts = [ft.Image(src=reading.images[k], width=480, height=200) for k in range(4)]
        toggled = ft.Text("A")

        def toggle(_: ft.Event[ft.Button]) -> None:
            toggled.value = "B" if toggled.value == "A" else "A"

        page.add(
            updated,
            ft.Row(cards, wrap=True),
            ft.Row(charts, wrap=True),
            ft.Row([ft.Button("Toggle", on_click=toggle), toggled]),
        )

        async def stay_live() -> None:
            while True:
                changed = reading.changed
                assert changed is not None
                await changed.wait()
                updated.value = reading.updated
                for k, text in enumerate(values):
                    text.value = f"healthy, {reading.series[k][-1]} %"
                for k, chart in enumerate(charts):
                    if isinstance(chart, fch.LineChart):
                        # Keep the point controls: drop the oldest, add the newest.
                        points = chart.data_series[0].points
                        points.pop(0)
                        x = POINTS + reading.tick
                        points.append(fch.LineChartDataPoint(x=x, y=reading.series[k][-1]))
                    elif isinstance(chart, ft.Image):
                        chart.src = reading.images[k]
                page.update()

        task = page.run_task(stay_live)
        page.on_close = lambda _: task.cancel()

    return main


def create_app(mode: str) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Starlette does not run a mounted app's lifespan: Flet's session manager.
        await flet_fastapi.app_manager.start()
        try:
            yield
        finally:
            await flet_fastapi.app_manager.shutdown()

    app = FastAPI(lifespan=lifespan)

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.send_bytes(await websocket.receive_bytes())

    app.mount("/", flet_fastapi.app(make_main(mode), session_timeout_seconds=60))
    return app


if __name__ == "__main__":
    skip_eager_debug_formatting()
    skip_eager_send_logging(FletApp)
    port, mode = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(create_app(mode), host="127.0.0.1", port=port, log_level="warning")
