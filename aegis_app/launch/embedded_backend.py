"""The desktop target's backend: the API alone, in a thread, on a loopback port.

Only this process's own window may talk to it: every request must carry a secret made
for this launch (kept in memory only) and a Host header naming ``127.0.0.1:<port>``,
which :class:`~backend.core.guards.LoopbackOnlyGuard` checks. The Flet web app is not
mounted here; the window talks to the API over HTTP like any other client.

Starting is split in two so the window can start meanwhile: :meth:`EmbeddedBackend.begin`
takes the port and returns at once; the thread it starts imports the API (FastAPI,
SQLAlchemy, Alembic, uvicorn: most of the backend's start-up time), migrates and listens.
:meth:`EmbeddedBackend.wait_ready` waits for that. :meth:`EmbeddedBackend.start` does both.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
import time
from typing import TYPE_CHECKING

from aegis_app.launch.start_clock import since_start
from backend.core.config import Settings
from backend.core.guards import LAUNCH_SECRET_HEADER

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("aegis.desktop.backend")

LOOPBACK = "127.0.0.1"

__all__ = ["BackendStartError", "EmbeddedBackend"]


class BackendStartError(RuntimeError):
    """The embedded backend did not come up; the message says why, in words."""


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
        self._catcher: _ErrorCatcher | None = None
        self._began = 0.0
        self._lock = threading.Lock()  # _server and _stopping, between stop() and the thread
        self._stopping = False

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
        self.begin()
        try:
            self.wait_ready()
        except BackendStartError:
            self.stop()
            raise

    def begin(self) -> None:
        """Take a port and start the backend's thread; returns at once.

        A port that cannot be had is a :class:`BackendStartError` here; anything that
        goes wrong in the thread is one from :meth:`wait_ready`.
        """
        self._began = time.perf_counter()
        self._stopping = False
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
        self._catcher = _ErrorCatcher()
        logging.getLogger("uvicorn.error").addHandler(self._catcher)
        self._thread = threading.Thread(target=self._serve, name="aegis-backend", daemon=True)
        self._thread.start()

    def wait_ready(self) -> None:
        """Block until the backend answers requests, or say in words why it never will.

        It is left running or stopped as it is: the caller stops it.
        """
        thread, catcher = self._thread, self._catcher
        if thread is None or catcher is None:
            raise RuntimeError("the embedded backend has not been started")
        try:
            self._wait_until_started(thread, catcher)
        finally:
            logging.getLogger("uvicorn.error").removeHandler(catcher)
        if self.ready_seconds is None:
            self.ready_seconds = time.perf_counter() - self._began
            log.info(
                "backend ready in %.3f s (%s), listening on %s",
                self.ready_seconds,
                since_start(),
                self.base_url,
            )

    def _new_server(self) -> uvicorn.Server:
        # Imported here, in the backend's thread: these imports are most of its start.
        import uvicorn

        from backend.core.guards import LoopbackOnlyGuard
        from backend.core.hosts import HostAllowlist
        from backend.main import create_api

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
        return uvicorn.Server(config)

    def _serve(self) -> None:
        assert self._sock is not None
        try:
            server = self._new_server()
            with self._lock:
                if self._stopping:  # stop() came while we were importing
                    return
                self._server = server
            server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by wait_ready(), not lost
            log.debug("backend thread ended with %r", exc)
            self._crash = exc

    def _wait_until_started(self, thread: threading.Thread, catcher: _ErrorCatcher) -> None:
        deadline = time.monotonic() + self.start_timeout
        while (server := self._server) is None or not server.started:
            if not thread.is_alive():
                raise BackendStartError(self._failure_reason(catcher))
            if time.monotonic() > deadline:
                raise BackendStartError(
                    f"Aegis's backend did not start within {self.start_timeout:.0f} seconds. "
                    f"See the log in {self.settings.log_dir}."
                )
            time.sleep(0.005)

    def _failure_reason(self, catcher: _ErrorCatcher) -> str:
        cause: object = self._crash
        if self._crash is not None and not isinstance(self._crash, SystemExit):
            text, kind = _first_line(self._crash), type(self._crash).__name__
            cause = text if text == kind else f"{kind}: {text}"
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
        with self._lock:
            self._stopping = True
            server = self._server
        if server is not None:
            server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                log.warning("backend did not stop within %.0f s; forcing it", timeout)
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        if self._catcher is not None:  # wait_ready() was never called
            logging.getLogger("uvicorn.error").removeHandler(self._catcher)
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
