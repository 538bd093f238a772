"""How the desktop starts: what it imports when, its start clock, and its milestones.

The order (issue 10): the start clock is read first; the backend's thread starts
before Flet and the views are imported; the window's client starts while the backend
migrates; the self-test's module is imported only for ``--self-test``. Times are
printed by ``bench/desktop_start.py``, never asserted here.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from aegis_app.launch import window_lifecycle
from aegis_app.launch.embedded_backend import EmbeddedBackend
from backend.core.config import Settings
from bench.desktop_start import MILESTONES
from tests.aegis_app.launch.desktop_harness import NO_KEYRING_ENV, REPO

SIGN_IN = "Sign in · Aegis"

# None of these is needed before the backend's thread starts.
HEAVY = [
    "flet",
    "flet_charts",
    "flet_desktop",
    "aegis_app.app",
    "aegis_app.views.registry",
    "aegis_app.launch.desktop_self_test",
    "aegis_app.launch.keyring_store",
    "keyring",
    "httpx",
    "uvicorn",
    "fastapi",
    "sqlalchemy",
    "alembic",
    "backend.main",
]


def fresh_python(code: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_desktop_module_imports_nothing_heavy() -> None:
    loaded = fresh_python(
        "import json, sys\nimport aegis_app.launch.desktop\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    assert loaded == []


def test_asking_for_the_self_test_imports_its_module() -> None:
    loaded = fresh_python(
        "import json, sys\nfrom aegis_app.launch.desktop import self_test\n"
        "before = 'aegis_app.launch.desktop_self_test' in sys.modules\n"
        "from aegis_app.launch import desktop_self_test\n"
        "print(json.dumps([before, self_test.__module__]))\n"
    )
    assert loaded == [False, "aegis_app.launch.desktop"]


def test_httpx_works_without_its_command_line_client() -> None:
    loaded = fresh_python(
        "import json, sys\nfrom aegis_app.launch.desktop import leave_out_httpx_cli\n"
        "leave_out_httpx_cli()\nimport httpx\n"
        "print(json.dumps([m in sys.modules for m in ('rich', 'pygments')]"
        " + [callable(httpx.main), httpx.AsyncClient.__name__]))\n"
    )
    assert loaded == [False, False, True, "AsyncClient"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's start time")
def test_the_start_clock_counts_from_the_process_start_not_from_its_first_line() -> None:
    """psutil's create_time() was off by up to a second (a boot time in whole seconds)."""
    spawned = time.monotonic()
    figures = fresh_python(
        # The sleep is what is measured: time spent before the start clock's first line.
        "import time; time.sleep(0.3)\n"
        "import json\nfrom aegis_app.launch import start_clock\n"
        "print(json.dumps([start_clock.BEFORE_FIRST_LINE,"
        " start_clock.seconds_since_process_start()]))\n"
    )
    exited = time.monotonic()
    before_first_line, age = figures
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert before_first_line >= 0.3 - tick, "the sleep before the first line is counted"
    assert age >= before_first_line
    assert age <= exited - spawned + tick, "no older than the time since it was spawned"


@pytest.mark.parametrize("display", [None, ":0"])
@pytest.mark.parametrize("platform_name", [None, "android"])
def test_the_display_check_is_flets_own_without_importing_flet(
    monkeypatch: pytest.MonkeyPatch, display: str | None, platform_name: str | None
) -> None:
    from flet.utils import is_linux_server

    for name, value in (("DISPLAY", display), ("FLET_PLATFORM", platform_name)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert window_lifecycle.is_linux_server() == is_linux_server()  # type: ignore[no-untyped-call]


def test_a_backend_stopped_while_it_starts_leaves_nothing(settings: Settings) -> None:
    backend = EmbeddedBackend(settings)
    backend.begin()  # the thread is importing or starting the API now
    backend.stop()
    assert not backend.running
    assert not [t for t in threading.enumerate() if t.name == "aegis-backend"]
    assert backend.ready_seconds is None


def test_waiting_twice_says_ready_once(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    backend = EmbeddedBackend(settings)
    backend.begin()
    try:
        with caplog.at_level(logging.INFO, logger="aegis.desktop.backend"):
            backend.wait_ready()
            backend.wait_ready()
    finally:
        backend.stop()
    assert sum("backend ready" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.desktop
def test_the_window_logs_each_milestone_in_order(desktop_app: Any) -> None:
    app = desktop_app(NO_KEYRING_ENV)
    app.launch()
    app.window(SIGN_IN)
    assert app.terminate() == 0, app.tail()
    log = app.log_text()
    assert "Flet diff: 5 eager debug f-strings skipped" in log
    # Each is logged once it happened: the view needs the window and the views, and
    # the views are imported once the backend answers.
    for earlier, later in [
        ("backend ready in", "views ready"),
        ("Flet imported", "window connected"),
        ("window connected", "first view shown"),
        ("views ready", "first view shown"),
    ]:
        assert earlier in log and later in log, (earlier, later)
        assert log.index(earlier) < log.index(later), (earlier, later)
    for name, pattern in MILESTONES.items():  # what bench/desktop_start.py reads
        assert pattern.search(log), name
