"""Flet's diff on a dashboard-sized tree: server CPU per refresh, with and without the patch.

The tree is the dashboard's shape from issue 10: a rail, a top bar, four stat cards,
twelve status rows and four line charts of 121 points (``flet_charts``, made as
``aegis_app.views.components`` makes them): about 620 controls, 484 of them chart
points. It lives in a real ``flet.messaging.session.Session`` whose connection
msgpack-encodes every message as ``FletApp.send_message`` does (the encoder keeps the
snapshots later diffs compare against). A refresh is what the dashboard does every 5 s:
each chart drops its oldest point and gains a new one, the texts change, and the page
is updated.

It runs once with Flet's own ``DiffBuilder`` (eager debug f-strings) and once with
``aegis_app.launch.flet_diff_patch`` applied, in fresh subprocesses so neither run
warms the other, and prints the CPU time (``time.process_time``) per refresh.

``python -m bench.flet_diff``; tests/aegis_app/launch/test_flet_diff_patch.py uses the
same tree.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flet as ft
import flet_charts as fch
import msgpack
from flet.controls.base_control import BaseControl
from flet.messaging.connection import Connection
from flet.messaging.protocol import (
    ClientAction,
    ClientMessage,
    RegisterClientResponseBody,
    configure_encode_object_for_msgpack,
)
from flet.messaging.session import Session
from flet.pubsub.pubsub_hub import PubSubHub

REPO = Path(__file__).resolve().parent.parent
POINTS = 121
REFRESHES = 20
RUNS = 3


class EncodingConnection(Connection):
    """The client's end of a session: keeps each frame encoded as FletApp sends it."""

    def __init__(self) -> None:
        # Flet's Connection and its encoder factory are untyped.
        super().__init__()  # type: ignore[no-untyped-call]
        self._encode = configure_encode_object_for_msgpack(BaseControl)  # type: ignore[no-untyped-call]
        self.frames: list[bytes] = []
        self.pubsubhub = PubSubHub()  # a Session needs one; nothing here publishes

    def send_message(self, message: ClientMessage) -> None:
        self.frames.append(msgpack.packb([message.action, message.body], default=self._encode))


class Dashboard:
    """A top bar, four stat cards, twelve status rows and four 121-point line charts."""

    def __init__(self) -> None:
        self.tick = 0
        self.values = [ft.Text("-", size=20, weight=ft.FontWeight.W_600) for _ in range(4)]
        self.details = [ft.Text("-", size=12) for _ in range(4)]
        self.series = [
            fch.LineChartData(
                points=[fch.LineChartDataPoint(x=i, y=(i * 7 + k) % 100) for i in range(POINTS)],
                color=ft.Colors.INDIGO,
                stroke_width=2,
                curved=True,
                below_line_bgcolor=ft.Colors.with_opacity(0.12, ft.Colors.INDIGO),
            )
            for k in range(4)
        ]
        self.latest = [ft.Text("-", size=20, weight=ft.FontWeight.W_600) for _ in range(4)]
        cards: list[ft.Control] = [
            ft.Card(
                ft.Container(
                    padding=16,
                    content=ft.Column(
                        [ft.Text(f"Card {k}", weight=ft.FontWeight.W_600), value, detail]
                    ),
                )
            )
            for k, (value, detail) in enumerate(zip(self.values, self.details, strict=True))
        ]
        charts: list[ft.Control] = [
            ft.Card(
                ft.Container(
                    padding=16,
                    content=ft.Column(
                        [
                            ft.Row(
                                [ft.Text(f"Chart {k}", weight=ft.FontWeight.W_600), latest],
                                alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
                            ),
                            fch.LineChart(
                                data_series=[series],
                                min_y=0,
                                max_y=100,
                                height=150,
                                interactive=False,
                                horizontal_grid_lines=fch.ChartGridLines(width=1),
                                left_axis=fch.ChartAxis(label_size=44, show_min=False),
                                bottom_axis=fch.ChartAxis(
                                    label_size=28,
                                    labels=[
                                        fch.ChartAxisLabel(value=0, label="60 min ago"),
                                        fch.ChartAxisLabel(value=POINTS, label="now"),
                                    ],
                                ),
                            ),
                        ]
                    ),
                )
            )
            for k, (series, latest) in enumerate(zip(self.series, self.latest, strict=True))
        ]
        rail = ft.NavigationRail(
            selected_index=0,
            destinations=[
                ft.NavigationRailDestination(icon=ft.Icons.DASHBOARD, label=name)
                for name in ("Dashboard", "Sessions", "Users", "Audit", "Settings")
            ],
        )
        self.checks = [ft.Text("-") for _ in range(12)]
        status = ft.Column(
            [
                ft.Row([ft.Icon(ft.Icons.CHECK_CIRCLE), ft.Text(f"Check {k}"), text])
                for k, text in enumerate(self.checks)
            ]
        )
        top_bar = ft.Row(
            [
                ft.Text("Dashboard", size=22),
                ft.IconButton(ft.Icons.DARK_MODE),
                ft.TextButton("Sign out"),
            ],
            alignment=ft.MainAxisAlignment.SPACE_BETWEEN,
        )
        content = ft.Column(
            [top_bar, ft.Row(cards, wrap=True), status, ft.Row(charts, wrap=True)], expand=True
        )
        self.root = ft.Row([rail, content], expand=True)

    def refresh(self) -> None:
        """One period's new reading: a point in, a point out, new figures in the cards."""
        self.tick += 1
        for k, series in enumerate(self.series):
            last = series.points[-1].x
            series.points = [
                *series.points[1:],
                fch.LineChartDataPoint(x=last + 1, y=(self.tick * 13 + k) % 100),
            ]
            self.latest[k].value = f"{self.tick + k:.1f} %"
        for k, (value, detail) in enumerate(zip(self.values, self.details, strict=True)):
            value.value = f"{self.tick * (k + 1)}"
            detail.value = f"updated {self.tick} s ago"
        for k, text in enumerate(self.checks):
            text.value = f"ok, {self.tick + k} ms"


def count_controls(control: Any) -> int:
    return sum(1 for _ in walk(control))


def walk(control: Any) -> Iterator[BaseControl]:
    if isinstance(control, BaseControl):
        yield control
    children = getattr(control, "__dataclass_fields__", {})
    for name in children:
        value = getattr(control, name, None)
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, BaseControl):
                yield from walk(child)


def open_dashboard() -> tuple[Session, EncodingConnection, Dashboard]:
    """A registered session (as a client's REGISTER is answered) showing the dashboard."""
    connection = EncodingConnection()
    session = Session(connection)
    session.apply_page_patch({"route": "/", "width": 1280.0, "height": 800.0})
    page_patch = session.get_page_patch()  # type: ignore[no-untyped-call]  # Flet's, untyped
    body = RegisterClientResponseBody(session.id, page_patch, "")
    connection.send_message(ClientMessage(ClientAction.REGISTER_CLIENT, body))
    dashboard = Dashboard()
    session.page.controls.append(dashboard.root)
    session.page.update()
    return session, connection, dashboard


def measure(refreshes: int = REFRESHES) -> dict[str, Any]:
    session, connection, dashboard = open_dashboard()
    dashboard.refresh()  # the first refresh after the first paint is a warm-up
    session.page.update()
    times = []
    for _ in range(refreshes):
        dashboard.refresh()
        started = time.process_time()
        session.page.update()
        times.append((time.process_time() - started) * 1000)
    return {
        "controls": count_controls(dashboard.root),
        "refresh_cpu_ms": statistics.median(times),
        "frame_bytes": len(connection.frames[-1]),
    }


def _child(patched: bool) -> dict[str, Any]:
    code = (
        "import json, sys\n"
        + (
            "from aegis_app.launch.flet_diff_patch import skip_eager_debug_formatting\n"
            "skip_eager_debug_formatting()\n"
            if patched
            else ""
        )
        + "from bench.flet_diff import measure\nprint(json.dumps(measure()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


def run() -> dict[str, Any]:
    load = os.getloadavg()
    results: dict[str, list[dict[str, Any]]] = {"flet": [], "patched": []}
    for _ in range(RUNS):  # alternated, so a change in the machine's load hits both
        results["flet"].append(_child(patched=False))
        results["patched"].append(_child(patched=True))
    medians = {
        name: statistics.median(r["refresh_cpu_ms"] for r in runs) for name, runs in results.items()
    }
    controls = results["flet"][0]["controls"]
    print(
        f"Flet diff, dashboard tree of {controls} controls, CPU ms per refresh "
        f"(median of {RUNS} processes x {REFRESHES} refreshes; load {load[0]:.2f}):"
    )
    for name, runs in results.items():
        values = ", ".join(f"{r['refresh_cpu_ms']:.1f}" for r in runs)
        print(f"  {name:<8} {medians[name]:7.1f}   [{values}]")
    print(f"  patched / flet: {medians['patched'] / medians['flet']:.2f}")
    return {"controls": controls, "median_refresh_cpu_ms": medians, "all": results}


if __name__ == "__main__":
    run()
