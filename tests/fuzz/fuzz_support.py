"""The fuzzer's server and its totals (a module of its own: ``conftest`` is no unique
name to import from, with one conftest.py per test folder)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
HEALTH = "/api/v1/health"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


@dataclass
class FuzzTotals:
    requests: Counter[str] = field(default_factory=Counter)
    """Requests sent, per auth context."""
    statuses: Counter[int] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)
    failures: int = 0
    seconds: float = 0.0
    no_invalid_inputs: list[str] = field(default_factory=list)
    restored: int = 0
    """How often an auth context's account or session had to be put back."""
    """Operations with inputs for which no invalid request could be generated."""

    def summary(self) -> str:
        contexts = ", ".join(f"{name} {count}" for name, count in self.requests.items())
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{sum(self.requests.values())} requests ({contexts}) over "
            f"{len(self.operations)} operations in {self.seconds:.0f} s, "
            f"{self.failures} failures\nstatus codes: {statuses}; auth contexts put back "
            f"{self.restored} times"
            + "".join(f"\nno invalid input generated for {op}" for op in self.no_invalid_inputs)
        )


FUZZ_TOTALS = pytest.StashKey[FuzzTotals]()


@dataclass
class ServedApp:
    base_url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def aegis_serve(tmp_path: Path, **environment: str) -> Iterator[ServedApp]:
    """``aegis serve`` (real uvicorn, the whole web stack) on a fresh SQLite file."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = _free_port()
    served = ServedApp(f"http://127.0.0.1:{port}", data_dir, tmp_path / "aegis-serve.log")
    env = {
        **os.environ,
        **environment,
        "AEGIS_DATA_DIR": str(data_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    with served.log_path.open("wb") as log:
        # cwd is the data dir: a developer's .env in the repo cannot change the server.
        process = subprocess.Popen(
            [sys.executable, "-m", "aegis_app.cli", "serve", "--port", str(port)],
            cwd=data_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        served.process = process
        try:
            _wait_healthy(process, served)
            yield served
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_SECONDS)


def _wait_healthy(process: subprocess.Popen[bytes], served: ServedApp) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"aegis serve exited with {process.returncode}:\n{served.log()}")
        try:
            return httpx.get(served.base_url + HEALTH, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, START_TIMEOUT_SECONDS, what="aegis serve to answer its health check")
