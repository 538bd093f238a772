"""The desktop backend's door: loopback only, the launch secret, nothing leaked."""

from __future__ import annotations

import asyncio
import logging
import platform
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import flet as ft
import httpx
import psutil
import pytest

from aegis_app.launch.desktop import desktop_target
from aegis_app.launch.embedded_backend import BackendStartError, EmbeddedBackend
from aegis_app.launch.window_lifecycle import WindowLifecycle
from backend.core.config import API_PREFIX, Settings
from backend.core.guards import LAUNCH_SECRET_HEADER
from tests.conftest import make_test_settings

HEALTH = API_PREFIX + "/health"


@pytest.fixture
def embedded(settings: Settings) -> Iterator[EmbeddedBackend]:
    """A running embedded backend (named apart from tests/aegis_app's ``backend``)."""
    with EmbeddedBackend(settings) as running:
        yield running


def get(backend: EmbeddedBackend, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(backend.base_url + HEALTH, headers=headers, trust_env=False, timeout=10)


def test_only_requests_with_the_launch_secret_and_our_host_get_in(
    embedded: EmbeddedBackend,
) -> None:
    assert embedded.base_url == f"http://127.0.0.1:{embedded.port}"
    assert len(embedded.secret) >= 40
    assert get(embedded, embedded.auth_headers).json()["status"] == "ok"

    missing = get(embedded, {})
    assert missing.status_code == 403
    assert missing.json()["detail"] == "Missing or wrong launch secret."
    assert get(embedded, {LAUNCH_SECRET_HEADER: embedded.secret[:-1] + "x"}).status_code == 403

    for host in (f"evil.example:{embedded.port}", f"localhost:{embedded.port}", "127.0.0.1"):
        rebound = get(embedded, {**embedded.auth_headers, "host": host})
        assert rebound.status_code == 403, host
        assert rebound.json()["detail"] == "Unknown host."


async def test_the_windows_own_sessions_are_labelled_aegis_desktop(
    embedded: EmbeddedBackend,
) -> None:
    """Through the desktop transport (launch secret checked): "Aegis desktop"."""
    page = cast(ft.Page, None)  # the desktop transport does not look at the page
    async with desktop_target(embedded).new_http_client(page) as window:
        body = {"email": "ada@example.com", "password": "correct horse battery", "full_name": "A"}
        assert (await window.post(f"{API_PREFIX}/auth/register", json=body)).status_code == 201
        sessions = (await window.get(f"{API_PREFIX}/auth/sessions")).json()
    system = platform.system()
    assert [s["device"] for s in sessions] == [f"Aegis desktop on {system}"]


def test_it_listens_on_loopback_only(embedded: EmbeddedBackend) -> None:
    listening = [
        c
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == embedded.port
    ]
    assert [c.laddr.ip for c in listening] == ["127.0.0.1"]


def environment_of_a_new_child() -> bytes:
    """What a process started now inherits (the desktop's Flet client is one)."""
    return subprocess.run(
        ["cat", "/proc/self/environ"], capture_output=True, check=True, timeout=10
    ).stdout


def test_the_secret_stays_in_memory(settings: Settings, tmp_path: Path) -> None:
    """Not in the log, the data or log directories, nor in the environment that every
    process started after it inherits. (This process's own /proc/self/environ and
    cmdline were fixed at its start, before any secret existed: no check there.)"""
    log_file = tmp_path / "everything.log"
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with EmbeddedBackend(settings) as backend:
            secret = backend.secret.encode()
            get(backend, backend.auth_headers)
            get(backend, {})
            inherited = environment_of_a_new_child()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert b"backend ready" in log_file.read_bytes()
    assert secret not in log_file.read_bytes()
    assert any(v.startswith(b"PATH=") for v in inherited.split(b"\0")), "no environment read"
    leaked = secret in inherited  # a bool: a failure must not print the whole environment
    assert not leaked, "the launch secret is in the environment a new process inherits"
    for path in [*settings.resolved_data_dir.rglob("*"), *settings.log_dir.rglob("*")]:
        if path.is_file():
            assert secret not in path.read_bytes(), path


def test_stop_joins_the_thread_and_a_new_launch_gets_a_new_secret(settings: Settings) -> None:
    with EmbeddedBackend(settings) as first:
        assert first.running
        assert first.ready_seconds is not None and first.ready_seconds < 10
    assert not first.running
    assert not [t for t in threading.enumerate() if t.name == "aegis-backend"]
    with EmbeddedBackend(settings) as second:
        assert second.secret != first.secret


def test_a_failed_start_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the database directory should be")
    settings = make_test_settings(tmp_path / "data").model_copy(
        update={"database_url": f"sqlite:///{blocker}/aegis.db"}
    )
    backend = EmbeddedBackend(settings)
    with pytest.raises(
        BackendStartError, match=r"backend could not start: FileExistsError: .*See the log in"
    ):
        backend.start()
    assert not backend.running
    assert not [t for t in threading.enumerate() if t.name == "aegis-backend"]


async def test_a_signal_caught_by_flet_before_ours_is_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Flet's own handler resets to SIG_DFL after it ran: we must still quit."""
    lifecycle = WindowLifecycle()
    closed = asyncio.Event()

    async def close_window() -> None:
        closed.set()

    monkeypatch.setattr(lifecycle, "close_window", close_window)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    loop = asyncio.get_running_loop()
    try:
        installed = lifecycle._install_signal_handlers(loop)
        await asyncio.wait_for(closed.wait(), 5)
        assert lifecycle.quit_requested
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        signal.signal(signal.SIGTERM, previous)
