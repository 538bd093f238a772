"""The desktop target's backend: the API alone, in a thread, on a loopback port.

Only this process's own window may talk to it: every request must carry a secret made
for this launch (kept in memory only) and a Host header naming ``127.0.0.1:<port>``,
which :class:`~backend.core.guards.LoopbackOnlyGuard` checks. The Flet web app is not
mounted here; the window talks to the API over HTTP like any other client.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
import time

import psutil
import uvicorn

from backend.core.config import Settings
from backend.core.guards import LAUNCH_SECRET_HEADER, LoopbackOnlyGuard
from backend.core.hosts import HostAllowlist
from backend.main import create_api

log = logging.getLogger("aegis.desktop.backend")

LOOPBACK = "127.0.0.1"


class BackendStartError(RuntimeError):
    """The embedded backend did not come up; the message says why, in words."""


def seconds_since_process_start() -> float:
    """For the timing milestones in the log (the bench reads them)."""
    return time.time() - psutil.Process().create_time()


def _first_line(error: BaseException) -> str:
    """An exception in words, without SQLAlchemy's trailing link and statement."""
    text = str(error).split("\n", 1)[0].split(" (Background on this error", 1)[0]
    return text.rstrip(".") or type(error).__name__


class _ErrorCatcher(logging.Handler):
    """Keeps the last error uvicorn logs while starting (its lifespan failures)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: logging.LogRecord | None = None
        self.cause: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # uvicorn logs the real cause first (an exception, or a lifespan failure whose
        # message is a formatted traceback), then a generic "startup failed".
        self.last = record
        if record.exc_info and record.exc_info[1] is not None:
            self.cause = _first_line(record.exc_info[1])
            return
        message = record.getMessage()
        if message.startswith("Traceback (most recent call last)"):
            lines = [line for line in message.strip().splitlines() if line.strip()]
            self.cause = lines[-1].strip()


class EmbeddedBackend:
    def __init__(self, settings: Settings, *, start_timeout: float = 30.0) -> None:
        if settings.cookie_secure == "always":
            # A Secure cookie is never sent over http, not even to loopback.
            log.warning(
                "AEGIS_COOKIE_SECURE=always ignored: the desktop backend is http on loopback"
            )
            settings = settings.model_copy(update={"cookie_secure": "auto"})
        self.settings = settings
        self.start_timeout = start_timeout
        self.secret = secrets.token_urlsafe(32)
        self.ready_seconds: float | None = None
        self._sock: socket.socket | None = None
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._crash: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the embedded backend has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {LAUNCH_SECRET_HEADER: self.secret}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Migrate the database and listen; returns once requests are answered."""
        started = time.perf_counter()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._sock.bind((LOOPBACK, 0))
        except OSError as exc:
            self._sock.close()
            self._sock = None
            raise BackendStartError(
                f"Aegis could not open a local port for its backend: {exc}."
            ) from exc
        self._port = int(self._sock.getsockname()[1])
        own_host = f"{LOOPBACK}:{self.port}"
        app = LoopbackOnlyGuard(
            create_api(self.settings, allowed_hosts=HostAllowlist.of([own_host])),
            self.secret,
            allowed_hosts={own_host},
        )
        config = uvicorn.Config(
            app,
            log_config=None,
            lifespan="on",
            proxy_headers=False,  # nothing sits in front of us; never trust X-Forwarded-*
            server_header=False,
            ws="none",
        )
        self._server = uvicorn.Server(config)
        catcher = _ErrorCatcher()
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addHandler(catcher)
        self._thread = threading.Thread(target=self._serve, name="aegis-backend", daemon=True)
        try:
            self._thread.start()
            self._wait_until_started(catcher)
        except BackendStartError:
            self.stop()
            raise
        finally:
            uvicorn_log.removeHandler(catcher)
        self.ready_seconds = time.perf_counter() - started
        log.info(
            "backend ready in %.3f s (%.3f s after process start), listening on %s",
            self.ready_seconds,
            seconds_since_process_start(),
            self.base_url,
        )

    def _serve(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start(), not lost
            self._crash = exc

    def _wait_until_started(self, catcher: _ErrorCatcher) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise BackendStartError(self._failure_reason(catcher))
            if time.monotonic() > deadline:
                raise BackendStartError(
                    f"Aegis's backend did not start within {self.start_timeout:.0f} seconds. "
                    f"See the log in {self.settings.log_dir}."
                )
            time.sleep(0.005)

    def _failure_reason(self, catcher: _ErrorCatcher) -> str:
        cause: object = self._crash
        if catcher.cause is not None:
            cause = catcher.cause
        elif catcher.last is not None:
            cause = catcher.last.getMessage()
        where = f"See the log in {self.settings.log_dir}."
        if cause is None:
            return f"Aegis's backend stopped while starting. {where}"
        return f"Aegis's backend could not start: {cause}. {where}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, join the thread (the lifespan disposes the database engine)."""
        started = time.perf_counter()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                log.warning("backend did not stop within %.0f s; forcing it", timeout)
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        stopped = self._thread is None or not self._thread.is_alive()
        if self._thread is not None:
            log.info(
                "backend %s in %.3f s",
                "stopped" if stopped else "did NOT stop",
                time.perf_counter() - started,
            )
        self._thread = None
        self._server = None

    def __enter__(self) -> EmbeddedBackend:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
