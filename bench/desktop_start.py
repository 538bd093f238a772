"""Desktop cold start: process start → backend ready → first frame of the sign-in view.

Each run is a new ``python -m aegis_app desktop`` process with an empty data directory
(so the database is created and migrated) and no keyring (``DBUS_SESSION_BUS_ADDRESS=
disabled:``), under Xvfb. ``~/.flet/client`` is kept: the first run on a machine also
unpacks the client (~64 MB), which is not what these figures are about.

Milestones come from the app's own log lines ("backend ready … after process start",
"window connected", "first view shown"); the first frame is detected from outside: a
window titled "Sign in · Aegis" whose pixels show more than 50 colours.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUNS = 5
TITLE = "Sign in · Aegis"
MILESTONES = {
    "backend_ready": re.compile(r"backend ready in [\d.]+ s \(([\d.]+) s after process start"),
    "window_connected": re.compile(r"window connected \(([\d.]+) s after process start"),
    "first_view_sent": re.compile(r"first view shown: .* \(([\d.]+) s after process start"),
}


@contextmanager
def display() -> Iterator[str]:
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def _tool(env: dict[str, str], *args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, env=env).stdout.strip()


def first_frame(env: dict[str, str], process: subprocess.Popen[bytes], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout and process.poll() is None:
        for wid in _tool(env, "xdotool", "search", "--name", "^Sign in").split():
            if _tool(env, "xdotool", "getwindowname", wid) != TITLE:
                continue
            colours = _tool(env, "import", "-window", wid, "-format", "%k", "info:")
            if colours.isdigit() and int(colours) > 50:
                return time.monotonic()
        time.sleep(0.02)
    raise RuntimeError(f"no drawn {TITLE!r} window within {timeout} s")


def one_start(display_name: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="aegis-bench-") as data_dir:
        env = {
            **os.environ,
            "DISPLAY": display_name,
            "AEGIS_DATA_DIR": data_dir,
            "DBUS_SESSION_BUS_ADDRESS": "disabled:",
        }
        t0 = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "aegis_app", "desktop"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            frame = first_frame(env, process, timeout=60) - t0
            t_quit = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(20)
            quit_seconds = time.monotonic() - t_quit
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        log = (Path(data_dir) / "logs" / "aegis-desktop.log").read_text(encoding="utf-8")
    figures = {"first_frame": frame, "quit_after_sigterm": quit_seconds, "exit_code": code}
    for name, pattern in MILESTONES.items():
        match = pattern.search(log)
        figures[name] = float(match.group(1)) if match else float("nan")
    return figures


def run() -> dict[str, Any]:
    with display() as display_name:
        one_start(display_name)  # warm-up: OS file cache, ~/.flet client unpacked
        runs = [one_start(display_name) for _ in range(RUNS)]
    keys = [
        "backend_ready",
        "window_connected",
        "first_view_sent",
        "first_frame",
        "quit_after_sigterm",
    ]
    medians = {key: round(statistics.median(r[key] for r in runs), 3) for key in keys}
    print(f"desktop cold start, median of {RUNS} (seconds after process start):")
    for key in keys:
        values = ", ".join(f"{r[key]:.2f}" for r in runs)
        print(f"  {key:<20} {medians[key]:6.3f}   [{values}]")
    print(f"  exit codes after SIGTERM: {[int(r['exit_code']) for r in runs]}")
    return {"runs": RUNS, "median_seconds": medians, "all": runs}


if __name__ == "__main__":
    run()
