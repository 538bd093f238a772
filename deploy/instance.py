"""One ``aegis serve`` process on a loopback port, started, stopped, killed and restarted.

Used by ``make cluster`` (``deploy/cluster.py``) and by ``tests/cluster``. Its output
goes to a log file; every wait polls a condition against a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parent.parent
HEALTH = "/api/v1/health"
POLL_SECONDS = 0.05  # how often a wait looks again; never a synchronisation by itself


class InstanceError(RuntimeError):
    """An instance did not start or stop as asked; the message says how, with its log."""


class AegisInstance:
    """``python -m aegis_app.cli serve`` with its own data directory (logs, SQLite file).

    ``env`` holds the ``AEGIS_*`` settings (database URL, allowed hosts) and ``flags``
    the extra ``aegis serve`` flags; both stay the same across restarts.
    """

    def __init__(
        self,
        name: str,
        port: int,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        flags: list[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.env = dict(env or {})
        self.flags = list(flags or [])
        self.base_url = f"http://{host}:{port}"
        self.log_path = data_dir / "aegis-serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def url(self, path: str = "/dashboard/") -> str:
        return self.base_url + path

    def start(self, timeout: float = 60.0) -> None:
        if self.running:
            raise InstanceError(f"instance {self.name} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env = {
            **os.environ,
            "AEGIS_DATA_DIR": str(self.data_dir),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": pythonpath,
            **self.env,
        }
        self._log = self.log_path.open("ab")
        self._log.write(f"----- instance {self.name} starting on port {self.port}\n".encode())
        self._log.flush()
        # cwd is the data dir, so a developer's .env in the repository changes nothing.
        # A session of its own: Ctrl+C in the terminal reaches only the supervisor, which
        # stops the parts in order.
        self.process = subprocess.Popen(  # noqa: S603 (our own argv, no shell)
            [
                sys.executable,
                "-m",
                "aegis_app.cli",
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
                *self.flags,
            ],
            cwd=self.data_dir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.kill()
            raise

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise InstanceError(
                    f"instance {self.name} exited with {code} while starting:\n{self.log()}"
                )
            try:
                if httpx.get(self.url(HEALTH), timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise InstanceError(
                    f"instance {self.name} not healthy in {timeout} s:\n{self.log()}"
                )
            time.sleep(POLL_SECONDS)

    def send(self, signum: int) -> None:
        if self.process is None:
            raise InstanceError(f"instance {self.name} is not running")
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; its exit code (negative: the signal)."""
        if self.process is None:
            raise InstanceError(f"instance {self.name} is not running")
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise InstanceError(
                f"instance {self.name} still running after {timeout} s:\n{self.log()}"
            ) from None
        self._close_log()
        self.process = None
        return code

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Ask it to stop (SIGTERM drains when started with --drain-seconds; SIGINT
        does not) and wait; a clean exit is 0 or the signal re-raised by uvicorn."""
        self.send(signum)
        code = self.wait(timeout)
        if code not in (0, -signum):
            raise InstanceError(f"instance {self.name} exited with {code}:\n{self.log()}")
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash would: no drain, no shutdown, nothing flushed."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
