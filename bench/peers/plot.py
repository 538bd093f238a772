"""The web-session pictures, drawn with matplotlib in the peer venv.

``python plot.py FIGURES_JSON OUT_DIR [png]`` writes ``web-sessions-memory.svg`` (RSS per
session against sessions open) and ``web-sessions-clicks.svg`` (click latency against
sessions open) from what ``bench/web_sessions.py`` measured.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

FORMAT = sys.argv[3] if len(sys.argv) > 3 else "svg"
SERIES = [
    ("aegis", "Aegis dashboard", "#3949ab", "o"),
    ("before", "Aegis before issue 10", "#9fa8da", "D"),
    ("nicegui", "NiceGUI 3.18", "#2e7d32", "s"),
    ("flet_image", "bare Flet, shared chart images", "#757575", "^"),
    ("flet_linechart", "bare Flet, LineChart controls", "#bdbdbd", "v"),
]


def result(figures: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = (
        figures.get(key) or {} if key in ("aegis", "before") else figures["peers"].get(key, {})
    )
    return found


def plain(value: float, _: int) -> str:
    return f"{value:g}"


def style(ax: Any, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("sessions open")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(plain))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def memory(figures: dict[str, Any], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for key, label, color, marker in SERIES:
        steps = result(figures, key).get("steps", [])
        if steps:
            xs = [s["sessions"] for s in steps]
            ys = [s["kib_per_session"] for s in steps]
            ax.plot(xs, ys, marker=marker, color=color, label=label)
    ax.axhline(256, color="#c62828", linestyle="--", linewidth=1, label="goal: 256 KiB")
    style(ax, "Server RSS per live session (1 h of chart history)", "KiB per session")
    ax.set_yticks([100, 200, 500, 1000, 2000, 5000])
    ax.set_xticks([100, 250, 500, 750, 1000])
    fig.tight_layout()
    fig.savefig(out / f"web-sessions-memory.{FORMAT}", dpi=110)
    plt.close(fig)


def clicks(figures: dict[str, Any], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.8))
    for key, label, color, marker in SERIES:
        found = result(figures, key)
        points = [(1, found.get("quiet_click_p50_ms"), found.get("quiet_click_p99_ms"))]
        points += [
            (s["sessions"], s.get("click_p50_ms"), s.get("click_p99_ms"))
            for s in found.get("steps", [])
        ]
        points = [p for p in points if p[1] is not None]
        if not points:
            continue
        xs = [p[0] for p in points]
        ax.plot(xs, [p[1] for p in points], marker=marker, color=color, label=f"{label}, p50")
        ax.plot(
            xs,
            [p[2] for p in points],
            marker=marker,
            color=color,
            linestyle=":",
            label=f"{label}, p99",
        )
    echo = figures["peers"].get("flet_image", {}).get("echo_p50_ms")
    if echo:
        ax.axhline(
            echo, color="black", linestyle="-.", linewidth=1, label="raw WebSocket echo, p50"
        )
    ax.plot(
        [1],
        [1.5],
        marker="*",
        markersize=12,
        color="#c62828",
        linestyle="none",
        label="goals: p50 1.5 ms quiet",
    )
    ax.plot(
        [1, 1000],
        [8, 50],
        marker="x",
        markersize=9,
        color="#c62828",
        linestyle="none",
        label="goals: p99 8 ms quiet, 50 ms at 1,000",
    )
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0.8, 1300)
    ax.set_xticks([1, 10, 100, 1000])
    ax.xaxis.set_major_formatter(FuncFormatter(plain))
    style(ax, "Click → first patch (rail for Aegis, a button for the peers; 1 = quiet)", "ms")
    fig.tight_layout()
    fig.savefig(out / f"web-sessions-clicks.{FORMAT}", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    figures = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    memory(figures, out)
    clicks(figures, out)
