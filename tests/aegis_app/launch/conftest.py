"""Fixtures for the desktop target: a display, a private Secret Service, the real app.

* ``xvfb`` — one Xvfb per test session on a display number it picks itself
  (``-displayfd``); yields the ``DISPLAY`` value.
* ``secret_service`` — a private ``dbus-daemon`` and an unlocked ``gnome-keyring-daemon``
  on it, for one test. The test process's environment points at it (so ``keyring`` in
  the test sees the same keyring as the app), and ``.env`` is what to give the app.
  Teardown stops everything it started and fails if anything is left.
* ``fresh_keyring`` — ``keyring`` with its per-process backend caches reset.
* ``desktop_app`` — starts ``python -m aegis_app desktop`` under ``xvfb`` and drives
  it with xdotool; every process it started is checked gone at teardown.

Outside CI a missing system tool skips the test; in CI it fails (``require_executable``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.aegis_app.launch.desktop_harness import (
    DesktopApp,
    SecretService,
    pids_with_env,
    reset_keyring_caches,
    stop_pids,
)
from tests.conftest import require_executable
from tests.waiting import ConditionTimeout, wait_until


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    require_executable("Xvfb", "a display for the native window")
    read_fd, write_fd = os.pipe()
    # -noreset: by default the X server resets whenever its last client leaves, and a
    # client that connects during that reset is dropped. The tests' own xdotool and
    # import calls come and go all the time, so now and then a window's client that was
    # starting just then died with "cannot open display" (1 launch in 12 here).
    server = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    assert number.isdigit(), f"Xvfb did not report a display (exit code {server.poll()})"
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def secret_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretService]:
    require_executable("dbus-daemon", "a private session bus for the keyring")
    require_executable("gnome-keyring-daemon", "a real Secret Service")
    root = tmp_path / "secret-service"
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    for name in ("data", "run"):
        (root / name).mkdir(parents=True, mode=0o700)
    env["XDG_DATA_HOME"] = str(root / "data")  # keyrings/ go here
    env["XDG_RUNTIME_DIR"] = str(root / "run")  # the daemon's control socket
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    marker = f"DBUS_SESSION_BUS_ADDRESS={address}"
    try:
        assert address.startswith("unix:"), f"dbus-daemon printed {address!r}"
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = subprocess.run(
            ["gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize"],
            input="test-keyring-password",
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
        )
        assert daemon.returncode == 0, daemon.stderr
        keys = ("DBUS_SESSION_BUS_ADDRESS", "XDG_DATA_HOME", "XDG_RUNTIME_DIR")
        for key in keys:
            monkeypatch.setenv(key, env[key])
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
        yield SecretService(address, {key: env[key] for key in keys})
    finally:
        # gnome-keyring daemonizes away from us: find it by the bus address in its env.
        stop_pids(pids_with_env(marker))
        bus.terminate()
        bus.wait(10)
        bus.stdout.close()
        try:
            wait_until(lambda: not pids_with_env(marker), 5, what="the private bus's processes")
        except ConditionTimeout:
            left = pids_with_env(marker)
            stop_pids(left, timeout=1)
            assert not left, f"processes left on the private bus: {left}"


@pytest.fixture
def fresh_keyring() -> Iterator[Any]:
    import keyring

    reset_keyring_caches()
    yield keyring
    reset_keyring_caches()


@pytest.fixture
def desktop_app(xvfb: str, tmp_path: Path) -> Iterator[Any]:
    require_executable("xdotool", "finds and drives the native window")
    require_executable("import", "ImageMagick: screenshots of the native window")
    require_executable("xwininfo", "window geometry")
    apps: list[DesktopApp] = []

    def make(env: dict[str, str], data_dir: Path | None = None) -> DesktopApp:
        app = DesktopApp(xvfb, data_dir or tmp_path / "data", env)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
        left = app.leftovers()
        assert not left, f"processes left behind by the app: {left}"
