"""The dashboard's line charts as small SVG images, drawn once per reading for every viewer.

A chart of Flet controls costs a control per point, per viewer: 480 points made a
dashboard session weigh 3 MB. An image is one control whose bytes are shared by every
session that shows the same reading (see :mod:`aegis_app.views.live_figures`), and is
drawn in the light and the dark palette so each viewer gets the one its theme needs.
Each chart also has a sentence that says what it shows, for screen readers (the
image's label) and for anyone who would rather read the figures (drawn under the chart).
The card's frame is drawn in the image too: a chart card is then one control per
session, where a frame, a column and a text beside the image made four.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 560, 200
"""The chart itself, inside the card's padding."""
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 40, 24
"""The plot area's margins: the title and newest value above, the value labels on the
left and the times below. Drawn in the image, they cost no controls."""
PADDING = 16
SUMMARY_HEIGHT = 28
"""The sentence under the chart."""
CARD_WIDTH, CARD_HEIGHT = WIDTH + 2 * PADDING, HEIGHT + SUMMARY_HEIGHT + 2 * PADDING
CORNER_RADIUS = 12
WAITING = "waiting for figures…"


@dataclass(frozen=True)
class Palette:
    heading: str
    text: str
    grid: str


LIGHT = Palette(heading="#1b1b21", text="#44474f", grid="#c4c6d0")
DARK = Palette(heading="#e4e1e9", text="#c4c6d0", grid="#5b5e66")


@dataclass(frozen=True)
class Series:
    """One metric: how it is named, its unit, and its colour in each theme."""

    key: str
    title: str
    unit: str
    light_color: str
    dark_color: str
    fixed_max: float | None = None
    """Percentages are drawn up to 100; latencies up to a round number above their peak."""


SERIES = (
    Series("cpu_percent", "CPU", "%", "#3949ab", "#9fa8da", fixed_max=100.0),
    Series("memory_percent", "Memory", "%", "#00897b", "#80cbc4", fixed_max=100.0),
    Series("api_latency_ms", "API latency", "ms", "#e64a19", "#ffab91"),
    Series("db_latency_ms", "Database latency", "ms", "#8e24aa", "#ce93d8"),
)


@dataclass(frozen=True)
class ChartFigure:
    """One series drawn: the images in both palettes, and the same figures in words."""

    latest: str
    summary: str
    light_svg: bytes
    dark_svg: bytes


def draw_series(
    series: Series, samples: Sequence[tuple[datetime, float]], now: datetime, window_minutes: int
) -> ChartFigure:
    """``samples`` are ``(time, value)``, oldest first."""
    values = [value for _, value in samples]
    top = series.fixed_max if series.fixed_max is not None else nice_ceiling(max(values, default=0))
    oldest = (now - samples[0][0]).total_seconds() / 60 if samples else 1.0
    span = min(float(window_minutes), max(1.0, oldest))
    latest = f"{values[-1]:.1f} {series.unit}" if values else "no data yet"
    return _figure(series, latest, summarise(series, values, span), samples, now, span, top)


@functools.cache
def waiting_figure(series: Series) -> ChartFigure:
    """The card before the first reading: the same for every session."""
    summary = f"{series.title}: {WAITING}"
    return _figure(series, "", summary, [], datetime.now(), 60.0, series.fixed_max or 1.0)


def _figure(
    series: Series,
    latest: str,
    summary: str,
    samples: Sequence[tuple[datetime, float]],
    now: datetime,
    span: float,
    top: float,
) -> ChartFigure:
    def drawn(color: str, palette: Palette) -> bytes:
        return _svg(series.title, latest, summary, samples, now, span, top, color, palette)

    return ChartFigure(
        latest=latest,
        summary=summary,
        light_svg=drawn(series.light_color, LIGHT),
        dark_svg=drawn(series.dark_color, DARK),
    )


def summarise(series: Series, values: Sequence[float], span_minutes: float) -> str:
    if not values:
        return f"{series.title}: no samples yet."
    average = sum(values) / len(values)
    return (
        f"{series.title} over the last {_span_words(span_minutes)}: now {values[-1]:.1f} "
        f"{series.unit}, average {average:.1f} {series.unit}, "
        f"highest {max(values):.1f} {series.unit}."
    )


def nice_ceiling(value: float) -> float:
    """A round axis top above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** len(str(int(value)))
    for step in (0.1, 0.2, 0.25, 0.5, 1.0):
        if value * 1.1 <= magnitude * step:
            return magnitude * step
    return magnitude


def _svg(
    title: str,
    latest: str,
    summary: str,
    samples: Sequence[tuple[datetime, float]],
    now: datetime,
    span_minutes: float,
    top: float,
    color: str,
    palette: Palette,
) -> bytes:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h

    def x_of(at: datetime) -> float:
        minutes_ago = (now - at).total_seconds() / 60
        return LEFT + plot_w * max(0.0, 1 - minutes_ago / span_minutes)

    def y_of(value: float) -> float:
        return bottom - plot_h * min(1.0, max(0.0, value / top))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CARD_WIDTH} {CARD_HEIGHT}" '
        f'width="{CARD_WIDTH}" height="{CARD_HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect x="0.5" y="0.5" width="{CARD_WIDTH - 1}" height="{CARD_HEIGHT - 1}" '
        f'rx="{CORNER_RADIUS}" fill="none" stroke="{palette.grid}" stroke-width="1"/>',
        f'<text x="{PADDING}" y="{PADDING + HEIGHT + SUMMARY_HEIGHT - 6}" font-size="12" '
        f'fill="{palette.text}">{escape(summary)}</text>',
        f'<g transform="translate({PADDING},{PADDING})">',
        f'<text x="0" y="18" font-size="15" font-weight="600" fill="{palette.heading}">'
        f"{escape(title)}</text>",
        f'<text x="{WIDTH}" y="20" text-anchor="end" font-size="20" font-weight="600" '
        f'fill="{palette.heading}">{escape(latest)}</text>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - plot_h * fraction
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{palette.grid}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{palette.text}">'
            f"{escape(_axis_value(top * fraction))}</text>"
        )
    for fraction, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        minutes_ago = span_minutes * (1 - fraction)
        label = "now" if minutes_ago == 0 else _minutes_ago(minutes_ago)
        parts.append(
            f'<text x="{LEFT + plot_w * fraction:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}" '
            f'fill="{palette.text}">{label}</text>'
        )
    if samples:
        points = " ".join(f"{x_of(at):.1f},{y_of(value):.1f}" for at, value in samples)
        first_x, last_x = x_of(samples[0][0]), x_of(samples[-1][0])
        parts.append(
            f'<polygon points="{first_x:.1f},{bottom} {points} {last_x:.1f},{bottom}" '
            f'fill="{color}" fill-opacity="0.14" stroke="none"/>'
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2" '
            'stroke-linejoin="round" stroke-linecap="round"/>'
        )
    parts.append("</g></svg>")
    return "".join(parts).encode()


def _axis_value(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _minutes_ago(minutes: float) -> str:
    if minutes < 2:
        return f"-{round(minutes * 60)} s"
    return f"-{minutes:.0f} min"


def _span_words(minutes: float) -> str:
    if minutes >= 59.5:
        return "hour"
    if minutes < 2:
        return f"{round(minutes * 60)} seconds"
    return f"{minutes:.0f} minutes"
