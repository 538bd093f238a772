"""Web sessions: Aegis's live dashboards beside NiceGUI and a bare Flet page, one run.

``python -m bench web_sessions`` (part of ``make bench``; 10-20 minutes here):

1. The peers (:mod:`bench.peer_sessions`): a NiceGUI page and a bare Flet page of the
   same content, stepped to a few hundred tabs each; the raw WebSocket echo.
2. Aegis: a real ``aegis serve`` on 127.0.0.1 with a temporary data dir and an hour of
   5-second samples behind its charts, signed-in dashboards opened step by step
   towards 1,000 (protocol-level Flet clients, :mod:`bench.flet_protocol`, each with
   the ``aegis_session`` cookie on the upgrade request, as a tab after a reload has),
   and at each step: RSS per session, server CPU per dashboard per period, click
   latency on the rail. The clicks with a single tab open are the quiet-server figure.
3. A heap census of Aegis sessions (:mod:`bench.heap_census`).
4. The figures with their goals (:mod:`bench.sessions_report`), the pictures in
   ``docs/performance/`` (``bench/peers/plot.py``, drawn by matplotlib in the peer
   venv) and the web-session section of docs/performance.md.

``AEGIS_BENCH_SOURCE=<git ref>`` measures that commit's Aegis instead of the work tree
(``git archive`` into ``bench/.work``); ``AEGIS_BENCH_BEFORE=<git ref>`` measures an
earlier commit too (100 sessions), e.g. ``1ccaffa``, main before issue 10 (with
``AEGIS_BENCH_BEFORE_REUSE=1``, its figures from an earlier run, said so);
``AEGIS_BENCH_QUICK=1`` runs small steps only.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.flet_protocol import FletClient
from bench.peers.venv import WORK
from bench.session_load import FletTabs, ServerProcess, climb, free_port, load_average, say

ROOT = Path(__file__).resolve().parent.parent
QUICK = os.environ.get("AEGIS_BENCH_QUICK") == "1"
AEGIS_STEPS = [20, 50] if QUICK else [100, 250, 500, 1000]
if os.environ.get("AEGIS_BENCH_STEPS"):  # e.g. "100,250" for a slow earlier commit
    AEGIS_STEPS = [int(n) for n in os.environ["AEGIS_BENCH_STEPS"].split(",")]
PEER_STEPS = [20, 50] if QUICK else [100, 250, 500]
LINECHART_STEPS = [20] if QUICK else [50]
BEFORE_STEPS = [20] if QUICK else [100]
"""``AEGIS_BENCH_BEFORE=<ref>`` also measures that commit's Aegis, this far (it is slow)."""
AEGIS_OPEN_BUDGET_SECONDS = 60.0 if QUICK else 300.0
"""Aegis's steps stop once opening has taken this long in all (the 1,000 may not fit)."""
QUIET_CLICKS = 200
STEP_CLICKS = 40
LIVE_SECONDS = 20.0
"""Four 5 s periods. In a window of two, one slow period (a collection, the opening's
tail) was half of the figure: across runs, CPU per dashboard per period at 1,000 open
ranged 0.33-1.04 ms, where 40 s windows a few seconds later gave 0.27-0.30 ms."""
HISTORY_MINUTES = 60
CHART_POINTS = 120
SESSION_TIMEOUT_SECONDS = 60
ADMIN = {"full_name": "Bench Admin", "email": "bench@example.com", "password": "bench-password-1"}
READY_MARK = b"Updated "  # the dashboard's "Updated HH:MM:SS": shown and loaded
SESSIONS_MARK = b"This session"  # the Sessions view's own row: loaded


def aegis_source(ref: str | None = None) -> tuple[Path | None, str]:
    """Where the measured Aegis comes from: (PYTHONPATH entry or None, description)."""
    ref = ref or os.environ.get("AEGIS_BENCH_SOURCE")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref or "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not ref:
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "aegis_app", "backend"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return None, f"work tree at {head}" + (" with uncommitted changes" if dirty else "")
    target = WORK / f"src-{head}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", head, "aegis_app", "backend"],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target, f"commit {head}"


class AegisServer(ServerProcess):
    """``aegis serve`` with its own data dir, optionally with the heap-census hook."""

    def __init__(self, source: Path | None, *, census_dir: Path | None = None) -> None:
        port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="aegis-bench-web-"))
        paths = [str(p) for p in (source,) if p is not None]
        env = dict(
            os.environ,
            AEGIS_DATA_DIR=str(self.data_dir),
            AEGIS_FLET_SESSION_TIMEOUT_SECONDS=str(SESSION_TIMEOUT_SECONDS),
        )
        if census_dir is not None:
            paths.insert(0, str(ROOT / "bench" / "hooks"))
            env["AEGIS_BENCH_TRACEMALLOC_DIR"] = str(census_dir)
        if paths:
            env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(":")
        command = [sys.executable, "-m", "aegis_app.cli", "serve"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        # Not the repository as the working directory: ``-m`` would put it first on
        # sys.path, ahead of PYTHONPATH, and import the work tree instead of ``source``.
        super().__init__(
            command, env=env, log=self.data_dir / "serve.out", port=port, cwd=self.data_dir
        )
        self.token = ""

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    async def sign_in_with_history(self) -> dict[str, Any]:
        """Register the admin (every tab reuses its token) and write an hour of samples
        for the instance that answers, so each chart shows a full hour."""
        async with httpx.AsyncClient(base_url=self.base + "/api/v1", timeout=30) as http:
            reply = await http.post("/auth/register", json=ADMIN)
            reply.raise_for_status()
            self.token = str(reply.cookies["aegis_session"])
            query = {"minutes": HISTORY_MINUTES, "points": CHART_POINTS}
            before = (await http.get("/system/metrics", params=query)).json()
            self.seed_history(str(before["answered_by"]))
            after = (await http.get("/system/metrics", params=query)).json()
        return {"history_points": len(after["samples"]), "instance": after["instance"]}

    def seed_history(self, instance: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from backend.models import MetricSample

        engine = create_engine(f"sqlite:///{self.data_dir / 'aegis.db'}")
        now = datetime.datetime.now(datetime.UTC)
        wave = [(i % 17) / 17 for i in range(HISTORY_MINUTES * 12)]
        try:
            with Session(engine) as db:
                db.add_all(
                    MetricSample(
                        at=now - datetime.timedelta(seconds=5 * (i + 1)),
                        cpu_percent=10 + 30 * w,
                        memory_percent=40 + 10 * w,
                        api_latency_ms=2 + 3 * w,
                        db_latency_ms=0.2 + w,
                        instance=instance,
                    )
                    for i, w in enumerate(wave)
                )
                db.commit()
        finally:
            engine.dispose()

    def tabs(self, concurrency: int = 20, timeout: float = 30.0) -> FletTabs:
        return FletTabs(
            f"ws://127.0.0.1:{self.port}/dashboard/ws",
            ready=READY_MARK,
            click=click_rail,
            cookie=f"aegis_session={self.token}",
            origin=self.base,
            concurrency=concurrency,
            timeout=timeout,
        )


async def click_rail(tab: FletClient, i: int) -> tuple[float, float] | None:
    """Sessions, then Dashboard, on the rail: ms to the first patch, and to the new view
    with its data ("This session" / "Updated ...").

    The first patch is the first the server sends after the click, whatever it carries
    (the rail, the new content, or the route): only a refresh of the dashboard being
    left does not count. The click is then complete once the new view's data is shown,
    so that the next click starts from a loaded view.
    """
    labels = tab.rail_labels()
    targets = [("/sessions", "Sessions", SESSIONS_MARK), ("/", "Dashboard", READY_MARK)]
    route, label, mark = targets[i % 2]
    tab.timing = True
    try:
        while not tab.patches.empty():
            tab.patches.get_nowait()
        started = time.perf_counter()
        await tab.select_rail(labels.index(label))
        first: float | None = None
        while True:
            try:
                at, _route, raw = await asyncio.wait_for(tab.patches.get(), 10)
            except TimeoutError:
                return None
            if first is None and not (route == "/sessions" and READY_MARK in raw):
                first = at
            if mark in raw:
                break
        assert first is not None  # the patch with the mark counts
        return (first - started) * 1000, (at - started) * 1000
    finally:
        tab.timing = False


async def measure_aegis(source: Path | None, steps: list[int] | None = None) -> dict[str, Any]:
    server = AegisServer(source)
    tabs: FletTabs | None = None
    try:
        server.start("/api/v1/health")
        history = await server.sign_in_with_history()
        say(f"Aegis: {history['history_points']} points of history on each chart")
        tabs = server.tabs()
        result = await climb(
            "Aegis",
            server,
            tabs,
            steps or AEGIS_STEPS,
            live_seconds=LIVE_SECONDS,
            clicks=STEP_CLICKS,
            quiet_clicks=QUIET_CLICKS,
            open_budget=AEGIS_OPEN_BUDGET_SECONDS,
        )
        result.update(history)
        return result
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        if tabs is not None:
            await tabs.close()
        server.stop()


def run(write_docs: bool = True) -> dict[str, Any]:
    from bench import heap_census, peer_sessions, sessions_report

    started = time.perf_counter()
    source, described = aegis_source()
    figures: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "aegis_source": described,
        "load_before": load_average(),
        "quick": QUICK,
    }
    print(f"web sessions: Aegis from the {described}; load average {figures['load_before']}")
    figures["peers"] = peer_sessions.run_peers(PEER_STEPS, LINECHART_STEPS, LIVE_SECONDS)
    figures["aegis"] = asyncio.run(measure_aegis(source))
    before = os.environ.get("AEGIS_BENCH_BEFORE")  # e.g. 1ccaffa, main before issue 10
    if before:
        before_source, before_described = aegis_source(before)
        kept = WORK / f"before-{before_described.replace(' ', '-')}.json"
        if os.environ.get("AEGIS_BENCH_BEFORE_REUSE") == "1" and kept.exists():
            # The earlier commit does not change: its figures from an earlier run today.
            figures["before"] = json.loads(kept.read_text())
            figures["before"]["reused"] = True
            say(f"Aegis before: the {before_described}, as measured at {figures['before']['at']}")
        else:
            say(f"Aegis before: the {before_described}, {BEFORE_STEPS} sessions")
            figures["before"] = asyncio.run(measure_aegis(before_source, BEFORE_STEPS))
            figures["before"]["aegis_source"] = before_described
            figures["before"]["at"] = time.strftime("%Y-%m-%d %H:%M")
            kept.write_text(json.dumps(figures["before"], indent=1) + "\n")
    figures["census"] = asyncio.run(heap_census.measure(source))
    figures["load_after"] = load_average()
    figures["minutes"] = (time.perf_counter() - started) / 60
    (WORK / "web_sessions.json").write_text(json.dumps(figures, indent=1) + "\n")
    sessions_report.print_figures(figures)
    if write_docs:
        peer_sessions.draw_pictures(figures, ROOT / "docs" / "performance")
        sessions_report.write_section(figures)
    return figures


def run_aegis_only() -> dict[str, Any]:
    """``python -m bench.web_sessions aegis``: Aegis's steps alone, e.g. for an earlier
    commit with ``AEGIS_BENCH_SOURCE``; printed and kept in ``bench/.work``."""
    source, described = aegis_source()
    print(f"Aegis from the {described}; load average {load_average()}")
    figures = asyncio.run(measure_aegis(source))
    figures["aegis_source"] = described
    say(
        f"Aegis: quiet click p50 {figures.get('quiet_click_p50_ms', float('nan')):.2f} ms,"
        f" p99 {figures.get('quiet_click_p99_ms', float('nan')):.2f} ms"
        f" ({figures.get('quiet_clicks', 0)} clicks, one tab open)"
    )
    name = described.replace(" ", "-")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / f"aegis-{name}.json").write_text(json.dumps(figures, indent=1) + "\n")
    return figures


if __name__ == "__main__":
    if sys.argv[1:] == ["aegis"]:
        run_aegis_only()
    else:
        run()
