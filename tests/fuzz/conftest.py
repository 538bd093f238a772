"""A real ``aegis serve`` for the fuzzer, and the fuzz totals in the terminal summary.

pytest captures what a passing test prints, so the totals are handed over through the
config stash and written by ``pytest_terminal_summary``: they show in every ``make test``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
HEALTH = "/api/v1/health"
START_TIMEOUT_SECONDS = 60.0


@dataclass
class FuzzTotals:
    requests: Counter[str] = field(default_factory=Counter)
    """Requests sent, per auth context."""
    statuses: Counter[int] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)
    failures: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        contexts = ", ".join(f"{name} {count}" for name, count in self.requests.items())
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{sum(self.requests.values())} requests ({contexts}) over "
            f"{len(self.operations)} operations in {self.seconds:.0f} s, "
            f"{self.failures} failures\nstatus codes: {statuses}"
        )


FUZZ_TOTALS = pytest.StashKey[FuzzTotals]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    totals = terminalreporter.config.stash.get(FUZZ_TOTALS, None)
    if totals is not None:
        terminalreporter.write_sep("=", "API fuzz (schemathesis)")
        terminalreporter.write_line(totals.summary())


@pytest.fixture
def fuzz_totals(request: pytest.FixtureRequest) -> FuzzTotals:
    totals = FuzzTotals()
    request.config.stash[FUZZ_TOTALS] = totals
    return totals


@dataclass
class ServedApp:
    base_url: str
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[ServedApp]:
    """``aegis serve`` (real uvicorn, the whole web stack) on a fresh SQLite file."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = _free_port()
    served = ServedApp(f"http://127.0.0.1:{port}", data_dir, tmp_path / "aegis-serve.log")
    env = {
        **os.environ,
        "AEGIS_DATA_DIR": str(data_dir),
        # Open sign-up, so that the fuzzer reaches the whole of /auth/register.
        "AEGIS_ALLOW_REGISTRATION": "true",
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
        try:
            _wait_healthy(process, served)
            yield served
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_healthy(process: subprocess.Popen[bytes], served: ServedApp) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"aegis serve exited with {process.returncode}:\n{served.log()}")
        try:
            if httpx.get(served.base_url + HEALTH, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"aegis serve not healthy after {START_TIMEOUT_SECONDS} s")
