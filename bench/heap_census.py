"""Where a live Aegis dashboard session's bytes go: tracemalloc in the server.

The server runs with ``bench/hooks`` on its ``PYTHONPATH`` (a ``sitecustomize`` that
only the bench puts there, see that file): after one warm-up dashboard, SIGUSR1 starts
tracemalloc with deep tracebacks and SIGUSR2 takes a snapshot; then
:data:`CENSUS_SESSIONS` more signed-in dashboards (an hour of history on their charts)
are opened and kept live for a refresh, and a second snapshot is taken. What the
second holds beyond the first, divided by the sessions, is sorted into kinds by the
innermost frame of each allocation's traceback that belongs to a known package (the
standard library's frames are skipped, except ``http.cookiejar``):

* chart data: ``flet_charts``, or a line of ``aegis_app/views`` that mentions charts;
* other controls and view state: the rest of ``aegis_app/views`` and ``flet.controls``;
* Flet diff state: ``flet/controls/object_patch.py`` (patches, and what later diffs
  compare to), except its ``__setattr__`` hook, which every control's attribute passes;
* Flet session internals: ``flet.messaging``, ``flet_web``, msgpack, websockets, uvicorn;
* HTTP client and cookie jar: httpx, httpcore, h11, ``http.cookiejar``, the API client;
* session state: the rest of ``aegis_app`` (session state, routing, subscriptions);
* backend work: ``backend``, SQLAlchemy, FastAPI, Starlette, pydantic.

The hook also counts live objects of Flet's and the app's types in each snapshot: the
controls each session holds.
"""

from __future__ import annotations

import asyncio
import linecache
import os
import shutil
import signal
import sys
import sysconfig
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.session_load import say

CENSUS_SESSIONS = 6
SNAPSHOT_TIMEOUT_SECONDS = 120.0
OPEN_TIMEOUT_SECONDS = 180.0
"""Tracing every allocation with its traceback makes the server several times slower."""
STDLIB = sysconfig.get_paths()["stdlib"]
KINDS = [
    ("chart data", ("/flet_charts/",)),
    (
        "HTTP client and cookie jar",
        ("/httpx/", "/httpcore/", "/h11/", "/http/cookiejar.py", "/aegis_app/api_client.py"),
    ),
    ("Flet diff state", ("/flet/controls/object_patch.py",)),
    (
        "Flet session internals",
        (
            "/flet/messaging/",
            "/flet_web/",
            "/flet/fastapi/",
            "/flet/pubsub/",
            "/msgpack/",
            "/websockets/",
            "/uvicorn/",
        ),
    ),
    ("other controls and view state", ("/aegis_app/views/", "/flet/")),
    ("session state", ("/aegis_app/",)),
    ("backend work", ("/backend/", "/sqlalchemy/", "/fastapi/", "/starlette/", "/pydantic")),
]


def kind_of_frame(filename: str, lineno: int) -> str | None:
    if filename.startswith("<") or (
        filename.startswith(STDLIB)
        and "site-packages" not in filename
        and not filename.endswith("http/cookiejar.py")
    ):
        return None  # the standard library and generated code: look further out
    if filename.endswith("/flet/controls/object_patch.py") and (
        "object.__setattr__" in linecache.getline(filename, lineno)
    ):
        return None  # Flet's attribute hook on every control: the caller is what counts
    if "/aegis_app/views/" in filename and (
        "chart" in Path(filename).name or "chart" in linecache.getline(filename, lineno).lower()
    ):
        return "chart data"
    for kind, fragments in KINDS:
        if any(fragment in filename for fragment in fragments):
            return kind
    return "other"


def kind_of(traceback: tracemalloc.Traceback) -> tuple[str, str]:
    """The allocation's kind, and the line that decided it (``package/file.py:line``)."""
    for frame in reversed(traceback):  # the innermost frame is the last
        kind = kind_of_frame(frame.filename, frame.lineno)
        if kind is not None:
            return kind, short_site(frame.filename, frame.lineno)
    return "other", "-"


def short_site(filename: str, lineno: int) -> str:
    marker = "site-packages/"
    if marker in filename:
        filename = filename.split(marker, 1)[1]
    else:
        for top in ("/aegis_app/", "/backend/"):
            if top in filename:
                filename = top[1:] + filename.split(top, 1)[1]
                break
    return f"{filename}:{lineno}"


async def wait_for_file(path: Path, server: Any) -> None:
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT_SECONDS
    while not path.exists():
        if not server.alive():
            raise RuntimeError(f"the server exited: {server.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {path.name} within {SNAPSHOT_TIMEOUT_SECONDS:.0f} s")
        await asyncio.sleep(0.2)


async def snapshot(server: Any, out: Path, n: int) -> tracemalloc.Snapshot:
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGUSR2)
    await wait_for_file(out / f"snapshot-{n}.pickle", server)
    return tracemalloc.Snapshot.load(str(out / f"snapshot-{n}.pickle"))


def object_counts(out: Path, n: int) -> dict[str, int]:
    import json

    counts: dict[str, int] = json.loads((out / f"objects-{n}.json").read_text())
    return counts


async def measure(source: Path | None) -> dict[str, Any]:
    from bench.web_sessions import AegisServer

    out = Path(tempfile.mkdtemp(prefix="aegis-bench-census-"))
    server = AegisServer(source, census_dir=out)
    tabs = None
    try:
        server.start("/api/v1/health")
        history = await server.sign_in_with_history()
        tabs = server.tabs(concurrency=4, timeout=OPEN_TIMEOUT_SECONDS)
        warm = await tabs.open(1)
        if not warm["opened"]:
            raise RuntimeError(f"census: the first dashboard did not open: {warm['error']}")
        await asyncio.sleep(1)  # a quiet second: the first tab's lazy work is not traced
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGUSR1)
        await wait_for_file(out / "tracing", server)  # the hook says tracing has started
        before = await snapshot(server, out, 0)
        rss = server.rss_kib()
        say(f"census: tracing; opening {CENSUS_SESSIONS} dashboards")
        opened = await tabs.open(CENSUS_SESSIONS)
        n = opened["opened"]
        if not n:
            raise RuntimeError(f"census: no dashboard opened: {opened['error']}")
        await asyncio.sleep(6)  # the measured period: at least one refresh of each
        rss = server.rss_kib() - rss
        say(f"census: {n} open in {opened['elapsed']:.0f} s; taking the snapshot")
        after = await snapshot(server, out, 1)
        say("census: sorting the allocations")
        kinds: dict[str, float] = {}
        sites: dict[str, float] = {}
        for stat in after.compare_to(before, "traceback"):
            kind, site = kind_of(stat.traceback)
            kinds[kind] = kinds.get(kind, 0.0) + stat.size_diff / 1024 / n
            sites[site] = sites.get(site, 0.0) + stat.size_diff / 1024 / n
        counts_before, counts_after = object_counts(out, 0), object_counts(out, 1)
        per_session = {
            name: (count - counts_before.get(name, 0)) / n
            for name, count in counts_after.items()
            if count - counts_before.get(name, 0) >= n
        }
        controls = sum(
            v for k, v in per_session.items() if k.startswith(("flet.controls.", "flet_charts."))
        )
        top = sorted(per_session.items(), key=lambda item: -item[1])[:12]
        say(f"census: {sum(kinds.values()):.0f} KiB traced per session")
        return {
            "sessions": n,
            "history_points": history["history_points"],
            "kib_per_session_by_kind": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
            "traced_kib_per_session": sum(kinds.values()),
            "rss_kib_per_session_while_tracing": rss / n,
            "flet_objects_per_session": controls,
            "top_objects_per_session": top,
            "top_sites_kib_per_session": sorted(sites.items(), key=lambda kv: -kv[1])[:10],
        }
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        if tabs is not None:
            await tabs.close()
        server.stop()
        shutil.rmtree(out, ignore_errors=True)
