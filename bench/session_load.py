"""What the session benches share: a server process, tabs that drive it, and the steps.

A :class:`ServerProcess` is a real server in a subprocess (psutil reads its RSS and CPU
time). A driver opens tabs against it and counts what they receive: :class:`FletTabs`
speaks Flet's protocol in this process (:mod:`bench.flet_protocol`),
:class:`NiceGUITabs` drives ``bench/peers/nicegui_load.py`` in the peer venv.
:func:`climb` opens tabs step by step and, at each step, measures memory, CPU per
refresh and click latency the same way for every server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import psutil

from bench.flet_protocol import FletClient

PERIOD_SECONDS = 5.0
"""Every page here refreshes its figures every 5 s."""
OPEN_BATCH = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: SIGTERM the server if the bench dies without reaching its clean-up."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def say(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')} load {load_average()}] {text}", flush=True)


class ServerProcess:
    """A server in a subprocess, ready once ``ready_path`` answers 200; always stopped."""

    def __init__(
        self,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        log: Path,
        port: int,
        cwd: Path | None = None,
    ) -> None:
        self.command = command
        self.cwd = cwd
        self.env = env
        self.log_path = log
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    def start(self, ready_path: str, timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command[:3]} exited: {self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.base + ready_path, timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.command[:3]} not ready in {timeout} s: {self.log_tail()}")

    def processes(self) -> list[psutil.Process]:
        assert self.ps is not None
        return [self.ps, *self.ps.children(recursive=True)]

    def rss_kib(self) -> float:
        return sum(p.memory_info().rss for p in self.processes()) / 1024

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.processes():
            times = p.cpu_times()
            total += times.user + times.system
        return total

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Tabs(Protocol):
    """Tabs open against one server."""

    async def open(self, n: int) -> dict[str, Any]:
        """Open ``n`` more: ``{"opened", "failed", "elapsed", "error"}``."""

    async def refreshes(self) -> int:
        """Refreshes received so far, summed over the tabs."""

    async def clicks(self, n: int) -> dict[str, Any]:
        """``n`` clicks on one tab: ``{"ms": [...], "timeouts": k}``."""

    def lost(self) -> int:
        """Tabs whose connection closed under them."""

    async def close(self) -> None: ...


class FletTabs:
    """Flet tabs in this process: each counts as open once its page shows ``ready``."""

    def __init__(
        self,
        url: str,
        *,
        ready: bytes,
        click: Callable[[FletClient, int], Awaitable[float | tuple[float, float] | None]],
        cookie: str | None = None,
        origin: str | None = None,
        scan_types: tuple[str, ...] = ("NavigationRail",),
        concurrency: int = 20,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.ready = ready
        self.click = click
        self.cookie = cookie
        self.origin = origin
        self.scan_types = scan_types
        self.concurrency = concurrency
        self.timeout = timeout
        self.tabs: list[FletClient] = []

    async def open(self, n: int) -> dict[str, Any]:
        limit = asyncio.Semaphore(self.concurrency)

        async def one() -> FletClient:
            tab = FletClient(
                self.url,
                cookie=self.cookie,
                origin=self.origin,
                count_mark=self.ready,
                scan_types=self.scan_types,
            )
            async with limit:
                try:
                    await tab.open("/", watch=self.ready, timeout=self.timeout)
                except BaseException:
                    await tab.close()
                    raise
            return tab

        started = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
        elapsed = time.perf_counter() - started
        tabs = [r for r in results if isinstance(r, FletClient)]
        failures = [r for r in results if not isinstance(r, FletClient)]
        self.tabs += tabs
        return {
            "opened": len(tabs),
            "failed": len(failures),
            "elapsed": elapsed,
            "error": repr(failures[0]) if failures else None,
        }

    async def refreshes(self) -> int:
        return sum(t.mark_count for t in self.tabs)

    def lost(self) -> int:
        """Tabs whose connection the server closed."""
        return sum(t.reader is not None and t.reader.done() for t in self.tabs)

    async def clicks(self, n: int, budget: float = 15.0) -> dict[str, Any]:
        times: list[float] = []
        loaded: list[float] = []
        timeouts = 0
        deadline = time.perf_counter() + budget
        for i in range(n):
            if time.perf_counter() > deadline:
                break
            ms = await self.click(self.tabs[0], i)
            if ms is None:
                timeouts += 1
                break
            if isinstance(ms, tuple):  # (first patch, the new view's data shown)
                ms, shown = ms
                loaded.append(shown)
            times.append(ms)
        return {"ms": times, "loaded_ms": loaded, "timeouts": timeouts}

    async def close(self) -> None:
        await asyncio.gather(*(t.close() for t in self.tabs), return_exceptions=True)
        self.tabs = []


async def click_button(tab: FletClient, _: int) -> float | None:
    """A bare Flet button: ms from the click to the first patch after it."""
    button = tab.found["Button"]["_i"]
    tab.timing = True
    try:
        while not tab.patches.empty():
            tab.patches.get_nowait()
        started = time.perf_counter()
        await tab.click(button)
        while True:
            try:
                at, _route, raw = await asyncio.wait_for(tab.patches.get(), 10)
            except TimeoutError:
                return None
            if b"Updated " not in raw:  # not a refresh that happened to arrive first
                return (at - started) * 1000
    finally:
        tab.timing = False


class NiceGUITabs:
    """Tabs driven by ``bench/peers/nicegui_load.py`` in the peer venv."""

    def __init__(
        self, python: Path, base: str, log: Path, concurrency: int = 20, timeout: float = 30.0
    ) -> None:
        self.log = log
        self.python = python
        self.base = base
        self.concurrency = concurrency
        self.timeout = timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.disconnected = 0

    def lost(self) -> int:
        """Tabs whose connection closed, as of the last count of refreshes."""
        return self.disconnected

    async def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        if self.proc is None:
            script = Path(__file__).resolve().parent / "peers" / "nicegui_load.py"
            self.proc = await asyncio.create_subprocess_exec(
                str(self.python),
                str(script),
                self.base,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=self.log.open("ab"),
                limit=2**24,
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"nicegui_load.py ended (exit {await self.proc.wait()}): {tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def open(self, n: int) -> dict[str, Any]:
        return await self._ask(
            {"cmd": "open", "n": n, "concurrency": self.concurrency, "timeout": self.timeout}
        )

    async def refreshes(self) -> int:
        answer = await self._ask({"cmd": "refreshes"})
        self.disconnected = int(answer["disconnected"])
        return int(answer["refreshes"])

    async def clicks(self, n: int) -> dict[str, Any]:
        return await self._ask({"cmd": "click", "n": n})

    async def close(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ask({"cmd": "close"}), 30)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()


async def climb(
    name: str,
    server: ServerProcess,
    tabs: Tabs,
    steps: list[int],
    *,
    live_seconds: float = 10.0,
    clicks: int = 40,
    quiet_clicks: int = 100,
    open_budget: float = 120.0,
    first_open_timed: bool = True,
) -> dict[str, Any]:
    """One warm-up tab (the baseline), then each step of ``steps`` tabs open.

    At each step, after the opening: ``live_seconds`` of refreshes (server CPU and the
    refreshes the tabs received), RSS, then ``clicks`` on the first tab (and
    ``quiet_clicks`` before the first step, with the warm-up tab alone). Stops early
    when the opening has taken ``open_budget`` seconds in all, or a step's tabs could
    not all be opened. Returns the baseline and one dict per step reached.
    """
    warm = await tabs.open(1)
    if not warm["opened"]:
        raise RuntimeError(f"{name}: the first tab did not open: {warm['error']}")
    await asyncio.sleep(1)  # the first tab's lazy imports and caches settle
    base = server.rss_kib()
    result: dict[str, Any] = {"name": name, "baseline_rss_kib": base, "steps": []}
    say(f"{name}: baseline RSS {base / 1024:.1f} MiB with 1 tab")
    quiet = await tabs.clicks(quiet_clicks)
    if quiet["ms"]:
        result["quiet_click_p50_ms"] = statistics.median(quiet["ms"])
        result["quiet_click_p99_ms"] = percentile(quiet["ms"], 99)
        result["quiet_clicks"] = len(quiet["ms"])
    if quiet.get("loaded_ms"):
        result["quiet_loaded_p50_ms"] = statistics.median(quiet["loaded_ms"])
        result["quiet_loaded_p99_ms"] = percentile(quiet["loaded_ms"], 99)
    opened, spent = 0, 0.0
    for target in steps:
        want = target - opened
        if want <= 0:
            continue
        if spent > open_budget:
            say(f"{name}: opening budget of {open_budget:.0f} s spent; stopping at {opened}")
            result["stopped"] = f"opening budget of {open_budget:.0f} s spent"
            break
        say(f"{name}: opening {want} more tabs (to {target})")
        answer: dict[str, Any] = {"opened": 0, "failed": 0, "elapsed": 0.0, "error": None}
        while want > answer["opened"] + answer["failed"]:
            # In batches, so that a saturated server cannot hold a step for long.
            batch = await tabs.open(min(OPEN_BATCH, want - answer["opened"] - answer["failed"]))
            answer["opened"] += batch["opened"]
            answer["failed"] += batch["failed"]
            answer["elapsed"] += batch["elapsed"]
            answer["error"] = answer["error"] or batch["error"]
            if spent + answer["elapsed"] > open_budget:
                result["stopped"] = f"opening budget of {open_budget:.0f} s spent"
                break
        spent += answer["elapsed"]
        opened += answer["opened"]
        step: dict[str, Any] = {
            "sessions": opened,
            "open_s": answer["elapsed"],
            "open_failed": answer["failed"],
        }
        if answer["failed"]:
            step["open_error"] = answer["error"]
        if first_open_timed and target == steps[0]:
            result["open_first_step_s"] = answer["elapsed"]
        cpu, refreshes = server.cpu_seconds(), await tabs.refreshes()
        started = time.perf_counter()
        await asyncio.sleep(live_seconds)
        window = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu
        delivered = await tabs.refreshes() - refreshes
        rss = server.rss_kib()
        periods = window / PERIOD_SECONDS
        step.update(
            {
                "rss_kib": rss,
                "kib_per_session": (rss - base) / opened if opened else 0.0,
                "live_window_s": window,
                "cpu_s": cpu,
                "cpu_percent": 100 * cpu / window,
                "refreshes_delivered": delivered,
                "refreshes_expected": (opened + 1) * periods,
                "cpu_ms_per_refresh": 1000 * cpu / delivered if delivered else None,
                "cpu_ms_per_session_period": 1000 * cpu / ((opened + 1) * periods),
                "lost_tabs": tabs.lost(),
                "load": load_average(),
            }
        )
        step_clicks = await tabs.clicks(clicks)
        if step_clicks["ms"]:
            step["click_p50_ms"] = statistics.median(step_clicks["ms"])
            step["click_p99_ms"] = percentile(step_clicks["ms"], 99)
        if step_clicks.get("loaded_ms"):
            step["loaded_p50_ms"] = statistics.median(step_clicks["loaded_ms"])
            step["loaded_p99_ms"] = percentile(step_clicks["loaded_ms"], 99)
        step["clicks"] = len(step_clicks["ms"])
        step["click_timeouts"] = step_clicks["timeouts"]
        result["steps"].append(step)
        say(
            f"{name}: {opened} open, {step['kib_per_session']:.0f} KiB/session, "
            f"CPU {step['cpu_percent']:.0f} %, {delivered}/{step['refreshes_expected']:.0f} "
            f"refreshes, click p50 {step.get('click_p50_ms', float('nan')):.1f} ms"
        )
        if answer["failed"] > max(2, want // 20):  # more than the odd straggler
            result["stopped"] = f"{answer['failed']} tabs did not open: {answer['error']}"
            break
        if result.get("stopped"):
            say(f"{name}: {result['stopped']}; stopping at {opened}")
            break
        if not server.alive():
            result["stopped"] = "the server exited"
            break
    return result
