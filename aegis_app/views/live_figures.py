"""The live feed's readings, decoded and drawn once per process, whoever watches.

Every dashboard in a web process receives the same bytes for the same reading (the
backend's hub encodes each reading once). Parsing that JSON and drawing four charts for
each viewer would cost each of them the same milliseconds, so the first viewer to see a
reading decodes it here and the others get the very same objects: the images' bytes are
then shared by every session's controls, not copied into each. The same goes for the
component cards' words: one Markdown text per component per reading, for every viewer.
The desktop target has one viewer and gains nothing, but runs the same code.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import flet as ft

from aegis_app.views.chart_images import SERIES, ChartFigure, draw_series
from aegis_app.views.components import local_time, status_style

CHART_MINUTES = 60
"""The window the live feed carries (``/system/live``: an hour, 120 points)."""
KEPT_READINGS = 16
"""A few periods times a few instance choices: enough that no viewer decodes twice."""


@dataclass(frozen=True)
class ComponentFigure:
    """One component's card: its words and its status's colours."""

    name: str
    markdown: str
    color: str
    tint: str


OVERALL_MESSAGE = {
    "healthy": "All systems are healthy.",
    "degraded": "Some components need attention.",
    "down": "A component is down.",
}


@dataclass(frozen=True)
class BannerFigure:
    """The overall status: its words and colours, and whose status it is. Equal from
    one reading to the next while nothing changes, so a viewer then sets nothing."""

    icon: ft.IconData
    color: str
    tint: str
    words: str
    source: str


@dataclass(frozen=True)
class DashboardReading:
    status: dict[str, Any]
    metrics: dict[str, Any]
    banner: BannerFigure
    charts: tuple[ChartFigure, ...]
    components: tuple[ComponentFigure, ...]


def describe_overall(status: dict[str, Any]) -> BannerFigure:
    overall = str(status.get("overall", "unknown"))
    icon, color, word = status_style(overall)
    instance = status.get("instance")
    return BannerFigure(
        icon=icon,
        color=color,
        # Tinted background, full-strength text: readable in light and dark themes.
        tint=ft.Colors.with_opacity(0.14, color),
        words=f"{word}. {OVERALL_MESSAGE.get(overall, '')}".strip(),
        source=f"Status of instance {describe_instance(instance, status.get('host'))}, "
        "the one serving this page."
        if instance
        else "",
    )


def describe_instance(instance: Any, host: Any) -> str:
    if not instance:
        return "unknown"
    return f"{instance} (host {host})" if host else str(instance)


def describe_component(item: dict[str, Any]) -> ComponentFigure:
    _, color, word = status_style(str(item.get("status", "unknown")))
    return ComponentFigure(
        name=str(item.get("name", "")),
        markdown=component_markdown(item, word),
        color=color,
        tint=ft.Colors.with_opacity(0.06, color),
    )


def draw_reading(status: dict[str, Any], metrics: dict[str, Any]) -> DashboardReading:
    samples: list[dict[str, Any]] = metrics.get("samples", [])
    now = datetime.now(UTC)
    charts = []
    for series in SERIES:
        points = [
            (datetime.fromisoformat(sample["at"]), float(sample[series.key]))
            for sample in samples
            if sample.get(series.key) is not None
        ]
        charts.append(draw_series(series, points, now, CHART_MINUTES))
    components = tuple(describe_component(item) for item in status.get("components", []))
    return DashboardReading(
        status=status,
        metrics=metrics,
        banner=describe_overall(status),
        charts=tuple(charts),
        components=components,
    )


def component_markdown(item: dict[str, Any], word: str) -> str:
    lines = [
        f"### {_plain(item.get('name', ''))} {word}",
        _plain(item.get("reason", "")),
        "",
        *(f"{_plain(line)}  " for line in component_details(item)),
    ]
    return "\n".join(lines)


def _plain(value: Any) -> str:
    """Text shown as itself in Markdown: the characters that mark up inline text escaped
    (each line starts with a name or a label, never with a list or heading marker)."""
    text = str(value)
    for mark in "\\`*_[]<>#|":
        text = text.replace(mark, "\\" + mark)
    return text


def component_details(item: dict[str, Any]) -> list[str]:
    facts = [f"{fact.get('label', '')}: {fact.get('value', '')}" for fact in item.get("facts", [])]
    jobs = [
        f"{job.get('name', 'job')}: {job.get('last_outcome', 'never run')}, "
        f"last run {local_time(job.get('last_run_at'), with_seconds=True)}"
        + (f" by {job['last_run_by']}" if job.get("last_run_by") else "")
        + (f" ({job['last_error']})" if job.get("last_error") else "")
        for job in item.get("jobs", [])
    ]
    return facts + jobs


class ReadingCache:
    """Decoded readings by their exact bytes, newest kept."""

    def __init__(self, size: int = KEPT_READINGS) -> None:
        self.size = size
        self.decoded = 0
        """How many readings were actually parsed and drawn (tests count it)."""
        self._entries: OrderedDict[bytes, DashboardReading] = OrderedDict()

    def decode(self, data: bytes) -> DashboardReading:
        reading = self._entries.get(data)
        if reading is None:
            body = json.loads(data)
            reading = draw_reading(body.get("status") or {}, body.get("metrics") or {})
            self.decoded += 1
            self._entries[data] = reading
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return reading

    def component_names(self) -> list[str]:
        """The components of the newest reading decoded here (none yet: empty)."""
        if not self._entries:
            return []
        newest = next(reversed(self._entries.values()))
        return [figure.name for figure in newest.components]


READINGS = ReadingCache()
"""The process's one cache: every session of a web process shares it."""
