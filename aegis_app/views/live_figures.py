"""The live feed's readings, decoded and drawn once per process, whoever watches.

Every dashboard in a web process receives the same bytes for the same reading (the
backend's hub encodes each reading once). Parsing that JSON and drawing four charts for
each viewer would cost each of them the same milliseconds, so the first viewer to see a
reading decodes it here and the others get the very same objects: the images' bytes are
then shared by every session's controls, not copied into each. The desktop target has
one viewer and gains nothing, but runs the same code.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aegis_app.views.chart_images import SERIES, ChartFigure, draw_series

CHART_MINUTES = 60
"""The window the live feed carries (``/system/live``: an hour, 120 points)."""
KEPT_READINGS = 16
"""A few periods times a few instance choices: enough that no viewer decodes twice."""


@dataclass(frozen=True)
class DashboardReading:
    status: dict[str, Any]
    metrics: dict[str, Any]
    charts: tuple[ChartFigure, ...]


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
    return DashboardReading(status=status, metrics=metrics, charts=tuple(charts))


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


READINGS = ReadingCache()
"""The process's one cache: every session of a web process shares it."""
