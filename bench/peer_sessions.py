"""The peers beside Aegis: a NiceGUI page and a bare Flet page, stepped like Aegis.

Each runs in its own server process on 127.0.0.1 (NiceGUI with the peer venv's Python,
the bare Flet page with the project's), and :func:`bench.session_load.climb` opens
tabs against it step by step. The raw WebSocket echo (the floor under any click) is
timed on the bare Flet page's own uvicorn.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import websockets

from bench.peers.venv import WORK, peer_python
from bench.session_load import (
    FletTabs,
    NiceGUITabs,
    ServerProcess,
    click_button,
    climb,
    free_port,
    percentile,
    say,
)

ROOT = Path(__file__).resolve().parent.parent
ECHOES = 500


async def echo_ms(url: str, n: int = ECHOES) -> dict[str, float]:
    """A 64-byte binary frame there and back over a real WebSocket, ``n`` times."""
    times = []
    async with websockets.connect(url, compression=None, ping_interval=None) as ws:
        for _ in range(n):
            started = time.perf_counter()
            await ws.send(b"x" * 64)
            await ws.recv()
            times.append((time.perf_counter() - started) * 1000)
    return {"echo_p50_ms": statistics.median(times), "echo_p99_ms": percentile(times, 99)}


async def measure_nicegui(steps: list[int], **climb_args: Any) -> dict[str, Any]:
    python = peer_python()
    port = free_port()
    script = ROOT / "bench" / "peers" / "nicegui_page.py"
    server = ServerProcess(
        [str(python), str(script), str(port)], log=WORK / "nicegui.log", port=port
    )
    tabs = NiceGUITabs(python, server.base, WORK / "nicegui-tabs.log")
    try:
        server.start("/")
        return await climb("NiceGUI", server, tabs, steps, **climb_args)
    finally:
        await tabs.close()
        server.stop()


async def measure_bare_flet(mode: str, steps: list[int], **climb_args: Any) -> dict[str, Any]:
    port = free_port()
    server = ServerProcess(
        [sys.executable, "-m", "bench.peers.flet_page", str(port), mode],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        log=WORK / f"flet-{mode}.log",
        port=port,
    )
    tabs = FletTabs(
        f"ws://127.0.0.1:{port}/ws",
        ready=b"Updated ",
        click=click_button,
        scan_types=("Button",),
    )
    try:
        server.start("/")
        echo = await echo_ms(f"ws://127.0.0.1:{port}/echo")
        say(f"raw WebSocket echo p50 {echo['echo_p50_ms']:.3f} ms")
        result = await climb(f"bare Flet ({mode})", server, tabs, steps, **climb_args)
        result.update(echo)
        return result
    finally:
        await tabs.close()
        server.stop()


def run_peers(steps: list[int], linechart_steps: list[int], live: float) -> dict[str, Any]:
    """Every peer, one after the other (never two servers at once on 2 cores)."""
    return {
        "nicegui": asyncio.run(measure_nicegui(steps, live_seconds=live)),
        "flet_image": asyncio.run(measure_bare_flet("image", steps, live_seconds=live)),
        "flet_linechart": asyncio.run(
            measure_bare_flet("linechart", linechart_steps, live_seconds=live)
        ),
    }


def draw_pictures(figures: dict[str, Any], out: Path) -> list[Path]:
    """The pictures, drawn by ``bench/peers/plot.py`` with the peer venv's matplotlib."""
    data = WORK / "web_sessions.json"
    data.write_text(json.dumps(figures))
    script = ROOT / "bench" / "peers" / "plot.py"
    subprocess.run([str(peer_python()), str(script), str(data), str(out)], check=True)
    return [out / "web-sessions-memory.svg", out / "web-sessions-clicks.svg"]
