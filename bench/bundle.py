"""The packaged desktop app (``dist/Aegis``): bundle size and cold start for a new user.

``python -m bench bundle``. Uses ``dist/Aegis`` as ``make dist`` left it, building it
first when it is missing (``AEGIS_BENCH_BUILD=1`` rebuilds it anyway, and the build time
is reported).

Each run launches the executable under Xvfb with a fresh, empty HOME (XDG directories
inside it: no database, no font cache, no ``~/.flet``) and no keyring. After one
warm-up run (OS file cache), the median of 5 is reported for the app's log milestones
(backend ready, window connected, first view sent; seconds after process start) and the
first frame, detected from outside as in ``desktop_start`` (whose helpers are used).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.desktop_start import MILESTONES, display, first_frame

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "dist"
EXECUTABLE = DIST / "Aegis" / ("Aegis.exe" if sys.platform == "win32" else "Aegis")
RUNS = 5


def tree_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def build() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, str(REPO / "build" / "build.py")], cwd=REPO, check=True)
    return time.monotonic() - started


def fresh_home_env(root: Path, display_name: str) -> dict[str, str]:
    home, runtime = root / "home", root / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "DBUS_SESSION_BUS_ADDRESS": "disabled:",
        "DISPLAY": display_name,
    }


def one_start(display_name: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="aegis-bench-bundle-") as root:
        env = fresh_home_env(Path(root), display_name)
        home = Path(env["HOME"])
        output = Path(root) / "output.txt"
        t0 = time.monotonic()
        with output.open("wb") as out:
            process = subprocess.Popen(
                [str(EXECUTABLE)], cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            try:
                frame = first_frame(env, process, timeout=60) - t0
            except RuntimeError as error:
                tail = "\n".join(output.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"{error} (exit code {process.poll()})\n{tail}") from None
            process.send_signal(signal.SIGTERM)
            code = process.wait(20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        log_file = home / ".local" / "state" / "Aegis" / "log" / "aegis-desktop.log"
        log = log_file.read_text(encoding="utf-8")
        wrote_dot_flet = (home / ".flet").exists()
    figures = {"first_frame": frame, "exit_code": code, "wrote_dot_flet": float(wrote_dot_flet)}
    for name, pattern in MILESTONES.items():
        match = pattern.search(log)
        figures[name] = float(match.group(1)) if match else float("nan")
    return figures


def run() -> dict[str, Any]:
    build_seconds = None
    if os.environ.get("AEGIS_BENCH_BUILD") == "1" or not EXECUTABLE.exists():
        build_seconds = round(build(), 1)
    size_mb = round(tree_mb(EXECUTABLE.parent), 1)
    client_mb = round(tree_mb(EXECUTABLE.parent / "_internal" / "flet-client"), 1)
    with display() as display_name:
        one_start(display_name)  # warm-up: OS file cache only; every HOME is fresh
        runs = [one_start(display_name) for _ in range(RUNS)]
    load = round(os.getloadavg()[0], 2)
    keys = ["backend_ready", "window_connected", "first_view_sent", "first_frame"]
    medians = {key: round(statistics.median(r[key] for r in runs), 3) for key in keys}

    if build_seconds is not None:
        print(f"build (build/build.py, incl. archive): {build_seconds} s")
    print(f"bundle size: {size_mb} MB (dist/Aegis; the Flet client is {client_mb} MB of it)")
    print(f"packaged cold start, fresh HOME, median of {RUNS} (seconds after process start):")
    for key in keys:
        values = ", ".join(f"{r[key]:.2f}" for r in runs)
        print(f"  {key:<20} {medians[key]:6.3f}   [{values}]")
    print(f"  exit codes after SIGTERM: {[int(r['exit_code']) for r in runs]}")
    print(f"  wrote ~/.flet: {any(r['wrote_dot_flet'] for r in runs)}")
    print(f"  load average after the runs: {load} on {os.cpu_count()} CPUs")
    return {
        "build_seconds": build_seconds,
        "bundle_mb": size_mb,
        "flet_client_mb": client_mb,
        "runs": RUNS,
        "median_seconds": medians,
        "all": runs,
        "load_average_1min": load,
    }


if __name__ == "__main__":
    run()
