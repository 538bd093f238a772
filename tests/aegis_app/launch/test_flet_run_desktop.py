"""The development flow on the desktop: ``flet run -d -r aegis_app/flet_entry.py``.

flet-cli runs the entry script with the embedded backend in a native window under Xvfb,
reloads it when a watched file changes, and Ctrl+C stops everything.

It runs on a copy of the ``aegis_app`` package in a temporary project folder, so that the
"save in the editor" that triggers the reload rewrites the copy, never a tracked file.
The copy's entry script imports the copied package (it puts its own project folder
first on ``sys.path``) and the repository's ``backend``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.aegis_app.launch.desktop_harness import FRAME_COLOURS, NO_KEYRING_ENV, REPO, run_tool
from tests.waiting import wait_until

pytestmark = pytest.mark.desktop

FLET = Path(sys.executable).with_name("flet")
SIGN_IN = "Sign in · Aegis"


def drawn_window(display: str, title: str) -> str | None:
    """The id of a window with exactly this title that shows a drawn frame, if any."""
    found = run_tool("xdotool", "search", "--name", "^Sign in", display=display, check=False)
    for wid in found.split():
        name = run_tool("xdotool", "getwindowname", wid, display=display, check=False)
        colours = run_tool(
            "import", "-window", wid, "-format", "%k", "info:", display=display, check=False
        )
        if name == title and colours.isdigit() and int(colours) > FRAME_COLOURS:
            return wid
    return None


def backend_starts(log: Path) -> int:
    return log.read_text(encoding="utf-8").count("backend ready") if log.exists() else 0


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder holding a copy of the app package, for flet run to watch."""
    root = tmp_path / "project"
    shutil.copytree(
        REPO / "aegis_app", root / "aegis_app", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


@pytest.fixture
def flet_run(
    xvfb: str, tmp_path: Path, project: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    data_dir = tmp_path / "data"
    env = {**os.environ, **NO_KEYRING_ENV, "DISPLAY": xvfb, "AEGIS_DATA_DIR": str(data_dir)}
    with (tmp_path / "flet-run.txt").open("wb") as out:
        process = subprocess.Popen(
            [str(FLET), "run", "-d", "-r", "aegis_app/flet_entry.py"],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl+C reaches the whole group, as in a terminal
        )
    try:
        yield process, data_dir / "logs" / "aegis-desktop.log"
    finally:
        if process.poll() is None:
            for proc in psutil.Process(process.pid).children(recursive=True):
                proc.kill()
            process.kill()
        process.wait(10)


def test_flet_run_opens_the_window_reloads_on_change_and_stops_on_ctrl_c(
    flet_run: tuple[subprocess.Popen[bytes], Path], xvfb: str, project: Path
) -> None:
    process, log = flet_run
    wait_until(lambda: drawn_window(xvfb, SIGN_IN), 60, what="the drawn sign-in window")
    assert backend_starts(log) == 1
    group = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]

    entry = project / "aegis_app" / "flet_entry.py"  # the copy: never a tracked file
    entry.write_bytes(entry.read_bytes())  # a save in the editor: flet run restarts the app
    wait_until(lambda: backend_starts(log) >= 2, 60, what="the reload to start the backend")
    assert backend_starts(log) == 2, "the reload started the app (and its backend) again"
    wait_until(lambda: drawn_window(xvfb, SIGN_IN), 60, what="the window after the reload")

    group += psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal.SIGINT)
    _, alive = psutil.wait_procs(group, timeout=20)
    assert not alive, f"left running after Ctrl+C: {alive}"
