"""Fixtures for the packaged app (``build/``): one PyInstaller build per test session.

* ``packaged`` — runs ``build/build.py`` (what ``make dist`` runs) once per session
  into a temporary dist directory (so a developer's ``dist/`` and parallel runs do not
  clash), and records how long it took.
* ``fresh_home`` — an empty HOME and the minimal environment a new user's launch has.
* ``packaged_app`` — launches the executable under Xvfb (see ``bundle_harness``); every
  process it started is checked gone at teardown.

``xvfb`` and ``secret_service`` are the desktop tests' fixtures (tests/aegis_app/launch),
imported here, so the same skip-locally / fail-in-CI rule applies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.aegis_app.launch.conftest import secret_service, xvfb
from tests.build.bundle_harness import REPO, TIMINGS, FreshHome, Packaged, PackagedApp
from tests.conftest import ARTIFACTS, require_executable

__all__ = ["secret_service", "xvfb"]  # the desktop tests' fixtures, shared

BUILD_TIMEOUT = 300


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        require_executable("pyinstaller", "PyInstaller builds the bundle (pip install -e .[dev])")
    root = tmp_path_factory.mktemp("packaging")
    # The build runs PyInstaller, none of the product: not measured by make test's
    # coverage (which would only slow PyInstaller's analysis down).
    env = {key: value for key, value in os.environ.items() if not key.startswith("COVERAGE_")}
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "build" / "build.py"),
            f"--distpath={root / 'dist'}",
            f"--workpath={root / 'work'}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"build/build.py failed:\n{output[-6000:]}"
    TIMINGS["build incl. archive (s)"] = seconds
    return Packaged(root / "dist", seconds, output, sorted((root / "dist").glob("Aegis-*")))


@pytest.fixture
def fresh_home(tmp_path: Path) -> FreshHome:
    return FreshHome.make(tmp_path)


@pytest.fixture
def packaged_app(
    xvfb: str, packaged: Packaged, fresh_home: FreshHome
) -> Iterator[Callable[[], PackagedApp]]:
    require_executable("xdotool", "finds the native window")
    require_executable("import", "ImageMagick: screenshots of the native window")
    apps: list[PackagedApp] = []

    def make() -> PackagedApp:
        app = PackagedApp(xvfb, packaged.executable, fresh_home)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
        left = app.leftovers()
        assert not left, f"processes left behind by the packaged app: {left}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("packaged desktop app")
    for what, value in TIMINGS.items():
        terminalreporter.write_line(f"{what}: {value:.2f}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "packaging-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
