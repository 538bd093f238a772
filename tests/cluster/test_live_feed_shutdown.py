"""A stopping ``aegis serve`` ends the live feed's streams instead of waiting on them.

Uvicorn's graceful shutdown waits for every open response, and a live feed never ends
by itself: without the hook, SIGTERM would wait the whole graceful timeout (30 s).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from aegis_app.cli import DEFAULT_GRACEFUL_SHUTDOWN_SECONDS
from backend.core.config import API_PREFIX
from tests.fuzz.fuzz_support import aegis_serve

PASSWORD = "correct horse battery"


def test_sigterm_closes_open_streams_without_signing_anyone_out(tmp_path: Path) -> None:
    with (
        aegis_serve(tmp_path, AEGIS_ALLOW_REGISTRATION="true") as served,
        httpx.Client(base_url=served.base_url + API_PREFIX, timeout=30) as http,
    ):
        assert served.process is not None
        signed_up = http.post(
            "/auth/register",
            json={"full_name": "Ada", "email": "ada@example.com", "password": PASSWORD},
        )
        assert signed_up.status_code == 201, signed_up.text
        names: list[str] = []
        first = threading.Event()

        def watch() -> None:
            with http.stream("GET", "/system/live", headers={"accept": "text/event-stream"}) as r:
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        names.append(line.removeprefix("event: "))
                        first.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        assert first.wait(30), "no first reading"
        stopping = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(DEFAULT_GRACEFUL_SHUTDOWN_SECONDS)
        stopped = time.monotonic() - stopping
        watcher.join(10)
        assert not watcher.is_alive(), "the stream was left open"
        print(f"aegis serve stopped {stopped:.2f} s after SIGTERM with a live stream open")
        assert stopped < DEFAULT_GRACEFUL_SHUTDOWN_SECONDS / 2, "it waited on the stream"
        assert names and set(names) == {"reading"}, f"no 'ended' at shutdown: {names}"
        assert "Traceback" not in served.log()
