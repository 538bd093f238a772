"""Web sessions: server memory per live dashboard session, and click → patch latency.

Runs a real ``aegis serve`` subprocess on 127.0.0.1 (free port, temporary data dir)
and drives it with protocol-level Flet clients over the real WebSocket
(:mod:`bench.flet_protocol`), each one signed in through the ``aegis_session`` cookie
on the upgrade request, as a browser tab after a reload is.

1. Memory: RSS of the server process (psutil) before and after opening 100, then 500
   sessions with the dashboard open and live, and again after ~10 s of live refresh.
2. Latency: with 100 sessions open, one of them clicks the NavigationRail, alternating
   Sessions / Dashboard; the time from sending the click to the first PATCH back.
3. Leak check: close everything, wait for Flet to evict the sessions
   (``AEGIS_FLET_SESSION_TIMEOUT_SECONDS=10``), read RSS, then open 100 again.
4. A second server seeded with an hour of metric samples (full charts): the CPU and
   memory of a few dashboard sessions there.

``python -m bench.web_sessions`` prints the figures and refreshes its section of
docs/performance.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.flet_protocol import FletClient

SMALL, LARGE = 100, 500
LIVE_SECONDS = 10.0
CLICKS, CLICKS_AT_LARGE = 200, 50
LARGE_OPEN_BUDGET_SECONDS = 45.0
"""Opening stops here if the server cannot reach LARGE sessions in time (it saturates)."""
CLICK_BUDGET_SECONDS = 25.0
OPEN_CONCURRENCY = 20
OPEN_TIMEOUT_SECONDS = 30.0
HISTORY_SESSIONS = 5
HISTORY_MINUTES = 60  # what the dashboard's charts show once the server has run an hour
SESSION_TIMEOUT_SECONDS = 10  # the lowest the settings allow
EVICTION_WAIT_SECONDS = 45.0

ADMIN = {"full_name": "Bench Admin", "email": "bench@example.com", "password": "bench-password-1"}
READY_MARK = b"Updated "  # the dashboard's "Updated HH:MM:SS": shown and loaded
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Web sessions (bench/web_sessions.py)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: SIGTERM the server if the bench dies without reaching its clean-up."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """``aegis serve`` in a subprocess with its own data dir; always stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="aegis-bench-web-"))
        self.log_path = self.data_dir / "serve.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    def start(self, timeout: float = 30.0) -> None:
        aegis = Path(sys.executable).with_name("aegis")
        command = [str(aegis)] if aegis.exists() else [sys.executable, "-m", "aegis_app.cli"]
        env = dict(
            os.environ,
            AEGIS_DATA_DIR=str(self.data_dir),
            AEGIS_FLET_SESSION_TIMEOUT_SECONDS=str(SESSION_TIMEOUT_SECONDS),
        )
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*command, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aegis serve exited: {self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"aegis serve not ready in {timeout} s: {self.log_tail()}")

    def cpu_seconds(self) -> float:
        assert self.ps is not None
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def seed_history(self, minutes: int) -> None:
        """Write ``minutes`` of 5-second metric samples, as an hour of running leaves."""
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from backend.models import MetricSample

        engine = create_engine(f"sqlite:///{self.data_dir / 'aegis.db'}")
        now = datetime.datetime.now(datetime.UTC)
        wave = [(i % 17) / 17 for i in range(minutes * 12)]
        try:
            with Session(engine) as db:
                db.add_all(
                    MetricSample(
                        at=now - datetime.timedelta(seconds=5 * (i + 1)),
                        cpu_percent=10 + 30 * w,
                        memory_percent=40 + 10 * w,
                        api_latency_ms=2 + 3 * w,
                        db_latency_ms=0.2 + w,
                    )
                    for i, w in enumerate(wave)
                )
                db.commit()
        finally:
            engine.dispose()

    def rss_kib(self) -> float:
        assert self.ps is not None
        procs = [self.ps, *self.ps.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 1024

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_text()[-chars:] if self.log_path.exists() else ""

    def sessions_left(self) -> int | None:
        """The server's own count, from its last 'Delete session (N left)' line."""
        counts = re.findall(r"Delete session \((\d+) left\)", self.log_text())
        return int(counts[-1]) if counts else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.data_dir, ignore_errors=True)


async def open_sessions(
    server: Server, token: str, count: int, *, tolerate: bool = False
) -> tuple[list[FletClient], float]:
    """Open ``count`` signed-in tabs, each waiting for its loaded dashboard."""
    limit = asyncio.Semaphore(OPEN_CONCURRENCY)
    url = f"ws://127.0.0.1:{server.port}/dashboard/ws"

    async def one() -> FletClient:
        client = FletClient(url, cookie=f"aegis_session={token}", origin=server.base)
        async with limit:
            try:
                await client.open("/", watch=READY_MARK, timeout=OPEN_TIMEOUT_SECONDS)
            except BaseException:
                await client.close()
                raise
        return client

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    clients = [r for r in results if isinstance(r, FletClient)]
    failures = [r for r in results if not isinstance(r, FletClient)]
    if failures and not tolerate:
        await close_all(clients)
        raise RuntimeError(f"{len(failures)}/{count} sessions failed, first: {failures[0]!r}")
    return clients, elapsed


async def close_all(clients: list[FletClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def stay_live(server: Server, clients: list[FletClient]) -> dict[str, float]:
    """Keep the sessions connected for LIVE_SECONDS; CPU and refresh patches meanwhile."""
    assert server.ps is not None
    before = [c.patch_count for c in clients]
    server.ps.cpu_percent(None)
    await asyncio.sleep(LIVE_SECONDS)
    cpu = server.ps.cpu_percent(None)
    per_session = [c.patch_count - b for c, b in zip(clients, before, strict=True)]
    return {
        "cpu_percent": cpu,
        "refresh_patches_mean": statistics.fmean(per_session),
        "refresh_patches_min": float(min(per_session)),
    }


async def time_clicks(client: FletClient, clicks: int) -> dict[str, float]:
    """Alternate Sessions / Dashboard on the rail: ms to the new view, and to its data.

    "First patch" is the first PATCH after the server's ``push_route`` call (a stale
    patch queued before the click does not count); "loaded" is the first one carrying
    the view's data ("This session" / "Updated ").
    """
    labels = client.rail_labels()
    targets = [
        ("/sessions", labels.index("Sessions"), b"This session"),
        ("/", labels.index("Dashboard"), READY_MARK),
    ]
    first: list[float] = []
    loaded: list[float] = []
    timeouts = 0
    client.timing = True
    try:
        deadline = time.perf_counter() + CLICK_BUDGET_SECONDS
        for i in range(clicks):
            if time.perf_counter() > deadline:
                break
            target, index, mark = targets[i % 2]
            while not client.patches.empty():
                client.patches.get_nowait()
            started = time.perf_counter()
            await client.select_rail(index)
            arrived = None
            while True:
                try:
                    at, route, raw = await asyncio.wait_for(client.patches.get(), 10)
                except TimeoutError:
                    # Saturated server: note it and end the series (the tab's state is
                    # unknown from here on).
                    timeouts += 1
                    break
                if route != target:
                    continue
                if arrived is None:
                    arrived = at
                if mark in raw:
                    break
            if timeouts:
                if arrived is not None:
                    first.append((arrived - started) * 1000)
                break
            first.append((arrived - started) * 1000)
            loaded.append((at - started) * 1000)
    finally:
        client.timing = False
    if not first or not loaded:
        return {"clicks": len(loaded), "timeouts": timeouts}
    return {
        "clicks": len(loaded),
        "timeouts": timeouts,
        "p50_ms": statistics.median(first),
        "p99_ms": percentile(first, 99),
        "max_ms": max(first),
        "loaded_p50_ms": statistics.median(loaded),
        "loaded_p99_ms": percentile(loaded, 99),
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def wait_evicted(server: Server) -> float | None:
    """Seconds until the server's log says every session is gone; None if not by the deadline."""
    assert server.proc is not None
    started = time.perf_counter()
    while time.perf_counter() - started < EVICTION_WAIT_SECONDS:
        if server.proc.poll() is not None:
            return None
        if server.sessions_left() == 0:
            return time.perf_counter() - started
        await asyncio.sleep(0.5)
    return None


async def register_admin(server: Server) -> str:
    """The first account (an admin); its cookie token is reused by every session."""
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        reply = await http.post("/api/v1/auth/register", json=ADMIN)
        reply.raise_for_status()
        return str(reply.cookies["aegis_session"])


async def measure_history(server: Server) -> dict[str, Any]:
    """A few sessions on a server with a full hour of samples behind its charts."""
    server.seed_history(HISTORY_MINUTES)
    token = await register_admin(server)
    clients: list[FletClient] = []
    try:
        warm, _ = await open_sessions(server, token, 1)
        clients += warm
        await asyncio.sleep(1)
        base, cpu = server.rss_kib(), server.cpu_seconds()
        for _ in range(HISTORY_SESSIONS):  # one at a time: the CPU cost of each open
            batch, _ = await open_sessions(server, token, 1)
            clients += batch
        opened = server.cpu_seconds()
        figures: dict[str, Any] = {
            "history_open_cpu_s_per_session": (opened - cpu) / HISTORY_SESSIONS,
            "history_open_kib_per_session": (server.rss_kib() - base) / HISTORY_SESSIONS,
        }
        before = sum(c.patch_count for c in clients)
        live = await stay_live(server, clients)
        refreshes = sum(c.patch_count for c in clients) - before
        figures["history_live_kib_per_session"] = (server.rss_kib() - base) / HISTORY_SESSIONS
        figures["history_live_cpu_percent"] = live["cpu_percent"]
        figures["history_refresh_cpu_s"] = (
            live["cpu_percent"] / 100 * LIVE_SECONDS / max(refreshes, 1)
        )
        return figures
    finally:
        await close_all(clients)


async def measure(server: Server) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    token = await register_admin(server)
    clients: list[FletClient] = []
    try:
        figures["rss_idle_kib"] = server.rss_kib()
        warm, _ = await open_sessions(server, token, 1)  # first-session imports and caches
        clients += warm
        await asyncio.sleep(1)
        base = server.rss_kib()
        figures["rss_baseline_kib"] = base

        batch, elapsed = await open_sessions(server, token, SMALL, tolerate=True)
        clients += batch
        small = len(batch)
        if small < SMALL:  # a loaded machine: measure the ones that did load
            figures["small_open_timeouts"] = SMALL - small
        figures["open_small_s"] = elapsed
        rss = server.rss_kib()
        figures["small_open_kib_per_session"] = (rss - base) / small
        live = await stay_live(server, clients[1:])
        rss_small_live = server.rss_kib()
        figures["small_live_kib_per_session"] = (rss_small_live - base) / small
        figures["small_live_cpu_percent"] = live["cpu_percent"]
        figures["small_refresh_patches"] = live["refresh_patches_mean"]

        clicks = await time_clicks(clients[1], CLICKS)
        figures.update({f"click_small_{k}": v for k, v in clicks.items()})

        started = time.perf_counter()
        while len(clients) - 1 < LARGE:
            if time.perf_counter() - started > LARGE_OPEN_BUDGET_SECONDS:
                break
            wanted = min(50, LARGE + 1 - len(clients))
            batch, _ = await open_sessions(server, token, wanted, tolerate=True)
            clients += batch
            if len(batch) < wanted:  # sessions that did not load within OPEN_TIMEOUT_SECONDS
                figures["large_open_timeouts"] = wanted - len(batch)
                break
        large = len(clients) - 1
        figures["large_sessions"] = large
        figures["open_large_s"] = time.perf_counter() - started
        rss = server.rss_kib()
        figures["large_open_kib_per_session"] = (rss - base) / large
        if large > small:
            figures["large_marginal_kib_per_session"] = (rss - rss_small_live) / (large - small)
        live = await stay_live(server, clients[1:])
        rss_large_live = server.rss_kib()
        figures["rss_large_live_kib"] = rss_large_live
        figures["large_live_kib_per_session"] = (rss_large_live - base) / large
        figures["large_live_cpu_percent"] = live["cpu_percent"]
        figures["large_refresh_patches"] = live["refresh_patches_mean"]
        figures["large_refresh_patches_min"] = live["refresh_patches_min"]

        clicks = await time_clicks(clients[1], CLICKS_AT_LARGE)
        figures.update({f"click_large_{k}": v for k, v in clicks.items()})

        crashed = [c for c in clients if c.error]
        figures["crashed_sessions"] = len(crashed)

        await close_all(clients)
        clients = []
        evicted = await wait_evicted(server)
        assert server.proc is not None
        if server.proc.poll() is not None:  # seen once: a SQLite crash during eviction
            figures["server_exit_code_during_eviction"] = server.proc.returncode
            return figures
        if evicted is None:
            # Seen: a few sockets of opens cut short by the time budget stay open.
            figures["sessions_not_evicted_after_wait"] = server.sessions_left()
        else:
            figures["eviction_wait_s"] = evicted
        await asyncio.sleep(1)
        rss_evicted = server.rss_kib()
        figures["rss_evicted_kib"] = rss_evicted
        figures["evicted_retained_kib_per_session"] = (rss_evicted - base) / (large + 1)

        batch, _ = await open_sessions(server, token, SMALL, tolerate=True)
        clients += batch
        if len(batch) < SMALL:
            figures["reopen_timeouts"] = SMALL - len(batch)
        figures["reopen_small_kib_per_session"] = (server.rss_kib() - rss_evicted) / max(
            1, len(batch)
        )
    finally:
        await close_all(clients)
    return figures


TABLE = [
    ("RSS idle (MiB)", "rss_idle_kib", 1 / 1024, ".1f"),
    ("RSS with 1 warm-up session = baseline (MiB)", "rss_baseline_kib", 1 / 1024, ".1f"),
    (f"{SMALL} sessions opened (s)", "open_small_s", 1, ".1f"),
    (f"of {SMALL}, not loaded within 30 s", "small_open_timeouts", 1, ".0f"),
    (f"KiB/session, {SMALL} open", "small_open_kib_per_session", 1, ".0f"),
    (
        f"KiB/session, {SMALL} open after {LIVE_SECONDS:.0f} s live",
        "small_live_kib_per_session",
        1,
        ".0f",
    ),
    (f"server CPU %, {SMALL} live (100 = 1 core)", "small_live_cpu_percent", 1, ".0f"),
    (
        f"refresh patches/session in {LIVE_SECONDS:.0f} s, {SMALL} live",
        "small_refresh_patches",
        1,
        ".2f",
    ),
    (f"clicks timed, {SMALL} open", "click_small_clicks", 1, ".0f"),
    (f"click → first patch p50 (ms), {SMALL} open", "click_small_p50_ms", 1, ".1f"),
    (f"click → first patch p99 (ms), {SMALL} open", "click_small_p99_ms", 1, ".1f"),
    (f"click → view loaded p50 (ms), {SMALL} open", "click_small_loaded_p50_ms", 1, ".1f"),
    (f"large step: sessions open (target {LARGE})", "large_sessions", 1, ".0f"),
    ("large step: time opening them (s)", "open_large_s", 1, ".1f"),
    ("large step: sessions not loaded within 30 s", "large_open_timeouts", 1, ".0f"),
    ("KiB/session, large step open", "large_open_kib_per_session", 1, ".0f"),
    (
        f"KiB/session, sessions {SMALL + 1}-end of large step",
        "large_marginal_kib_per_session",
        1,
        ".0f",
    ),
    (
        f"KiB/session, large step after {LIVE_SECONDS:.0f} s live",
        "large_live_kib_per_session",
        1,
        ".0f",
    ),
    ("RSS, large step live (MiB)", "rss_large_live_kib", 1 / 1024, ".1f"),
    ("server CPU %, large step live", "large_live_cpu_percent", 1, ".0f"),
    (
        f"refresh patches/session in {LIVE_SECONDS:.0f} s, large step live (mean)",
        "large_refresh_patches",
        1,
        ".2f",
    ),
    (
        f"refresh patches/session in {LIVE_SECONDS:.0f} s, large step live (min)",
        "large_refresh_patches_min",
        1,
        ".0f",
    ),
    ("clicks timed, large step live", "click_large_clicks", 1, ".0f"),
    ("clicks whose view did not load in 10 s, large step", "click_large_timeouts", 1, ".0f"),
    ("click → first patch p50 (ms), large step live", "click_large_p50_ms", 1, ".1f"),
    ("click → first patch p99 (ms), large step live", "click_large_p99_ms", 1, ".1f"),
    ("click → view loaded p50 (ms), large step live", "click_large_loaded_p50_ms", 1, ".1f"),
    ("sessions evicted after close (s)", "eviction_wait_s", 1, ".1f"),
    ("SERVER DIED while evicting, exit code", "server_exit_code_during_eviction", 1, ".0f"),
    ("RSS after eviction (MiB)", "rss_evicted_kib", 1 / 1024, ".1f"),
    ("KiB/session still held after eviction", "evicted_retained_kib_per_session", 1, ".0f"),
    (
        f"KiB/session when {SMALL} are reopened after eviction",
        "reopen_small_kib_per_session",
        1,
        ".0f",
    ),
    (f"of {SMALL} reopened after eviction, not loaded within 30 s", "reopen_timeouts", 1, ".0f"),
    ("1 h history: server CPU s to open one dashboard", "history_open_cpu_s_per_session", 1, ".2f"),
    ("1 h history: KiB/session open", "history_open_kib_per_session", 1, ".0f"),
    (
        f"1 h history: KiB/session after {LIVE_SECONDS:.0f} s live",
        "history_live_kib_per_session",
        1,
        ".0f",
    ),
    (f"1 h history: server CPU %, {HISTORY_SESSIONS} live", "history_live_cpu_percent", 1, ".0f"),
    ("1 h history: server CPU s per dashboard refresh", "history_refresh_cpu_s", 1, ".2f"),
]


def table(figures: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (label, format(figures[key] * scale, spec))
        for label, key, scale, spec in TABLE
        if key in figures
    ]


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GiB RAM, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}"
    )


def write_section(figures: dict[str, Any]) -> None:
    rows = "\n".join(f"| {label} | {value} |" for label, value in table(figures))
    section = f"""{SECTION}

Measured {datetime.date.today().isoformat()} on {machine()}; the bench client shares the
cores with the server, and the load average was {figures.get("load_before", "?")} when it
started (other work on the machine skews these figures).
`python -m bench.web_sessions` (about 2.5 minutes) starts a real `aegis serve` on
127.0.0.1 with a temporary data dir and
`AEGIS_FLET_SESSION_TIMEOUT_SECONDS={SESSION_TIMEOUT_SECONDS}`, registers one admin over
the API, and opens protocol-level Flet clients (`bench/flet_protocol.py`: msgpack frames
over the real `/dashboard/ws` WebSocket, `Cookie: aegis_session=<token>`, `Origin` set).
All sessions reuse that one sign-in token, so the backend holds one session row. Each
client registers on `/`, answers the server's method calls (theme preference,
`push_route`), and counts as open once its dashboard shows "Updated …" (loaded).

- Memory is the server process RSS (psutil). "KiB/session" is (RSS - baseline) / N,
  where the baseline is taken with one warm-up session open. Sessions are opened
  {OPEN_CONCURRENCY} at a time; "live" is after {LIVE_SECONDS:.0f} s more of connected
  sessions, while each dashboard refreshes every 5 s.
- A click is the NavigationRail's `selected_index` prop plus its `change` event, alternating
  Sessions and Dashboard on one session ({CLICKS} clicks with {SMALL} open,
  up to {CLICKS_AT_LARGE} with the large step live, each series capped at
  {CLICK_BUDGET_SECONDS:.0f} s). The time runs from sending it to the first PATCH
  back, which carries the new view; the server's `push_route` call is answered on the
  way, as the browser does. "View loaded" runs to the first patch that carries the view's data
  ("This session" / "Updated …").
- The large step opens sessions in batches of 50 towards {LARGE} and stops after
  {LARGE_OPEN_BUDGET_SECONDS:.0f} s, or at the first batch where a session's dashboard did not
  load within {OPEN_TIMEOUT_SECONDS:.0f} s: the number reached is in the table.
- After everything is closed, the bench waits for the server's log to say every session
  was evicted, then reads RSS and opens {SMALL} sessions again.
- The server above starts with an empty database, so the dashboard's charts hold only
  the few samples taken during the run. The "1 h history" rows come from a second
  server seeded with {HISTORY_MINUTES} minutes of 5-second samples (what the charts show
  after an hour of running): {HISTORY_SESSIONS} sessions opened one at a time, then
  {LIVE_SECONDS:.0f} s live. "CPU s per dashboard refresh" is the server's CPU time in that
  window divided by the refresh patches the clients received.

| figure | value |
|---|---|
{rows}
"""
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text.rstrip("\n") + "\n")


def run_phase(phase: Any, timeout: float) -> dict[str, Any]:
    server = Server()
    try:
        server.start()
        figures: dict[str, Any] = asyncio.run(asyncio.wait_for(phase(server), timeout))
        return figures
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()


def run(write_docs: bool = True) -> dict[str, Any]:
    load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    figures = run_phase(measure, 300)
    figures.update(run_phase(measure_history, 90))
    figures["load_before"] = load_before
    width = max(len(label) for label, _, _, _ in TABLE)
    print("web sessions (bench/web_sessions.py)")
    for label, value in table(figures):
        print(f"  {label:<{width}}  {value:>8}")
    if write_docs:
        write_section(figures)
    return figures


if __name__ == "__main__":
    run()
