"""A real uvicorn serving ``create_api`` on 127.0.0.1, for tests with real parallel clients.

The server runs in a thread on a socket bound before it starts (an ephemeral port, so
no race for a free port). The database URL is a parameter: a fresh SQLite file by
default, any SQLAlchemy URL (PostgreSQL, issue 9) when given. ``db()`` opens the same
database from the test's side, to reset it between rounds and to check invariants
where they live.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from backend.core.config import API_PREFIX, Settings
from backend.core.db import make_engine
from backend.core.hosts import HostAllowlist
from backend.main import create_api
from tests.waiting import wait_until

LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 60.0
# Built once: each httpx.Client would otherwise load the CA bundle (~40 ms of CPU), which
# for hundreds of short-lived clients costs more than the requests they send.
_TLS = ssl.create_default_context()
T = TypeVar("T")


@dataclass
class LiveServer:
    settings: Settings
    port: int
    engine: Engine
    app: FastAPI
    """The served app itself: its state (the live hub, say) is read from the test."""

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def client(self, **headers: str) -> httpx.Client:
        """A separate "device": its own connection and cookie jar."""
        return httpx.Client(
            base_url=f"{self.base_url}{API_PREFIX}",
            headers=headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
            trust_env=False,
            verify=_TLS,
        )

    @contextmanager
    def db(self) -> Iterator[Session]:
        with Session(self.engine) as db:
            yield db

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def execute(self, *statements: str) -> None:
        with self.engine.begin() as connection:
            for sql in statements:
                connection.execute(text(sql))


def in_parallel(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls at once from separate threads; results in the calls' order.

    A barrier releases every thread together, so the requests really overlap
    instead of trickling in as threads start.
    """
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait(timeout=START_TIMEOUT_SECONDS)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@contextmanager
def live_server(
    tmp_path: Path, *, database_url: str | None = None, **overrides: Any
) -> Iterator[LiveServer]:
    """Serve a fresh app until the block ends; ``overrides`` are ``Settings`` fields."""
    url = database_url or f"sqlite:///{tmp_path / 'live.db'}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    port = int(sock.getsockname()[1])
    overrides.setdefault("allowed_hosts", f"{LOOPBACK}:{port}")
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=url, **overrides)
    app = create_api(settings, allowed_hosts=HostAllowlist.for_bound_address(LOOPBACK, port))
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="on",
        ws="none",
        access_log=False,
    )
    server = uvicorn.Server(config)
    crash: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported below, not lost in the thread
            crash.append(exc)

    thread = threading.Thread(target=serve, name="live-uvicorn", daemon=True)
    thread.start()
    engine = make_engine(url)
    try:

        def started() -> bool:
            assert thread.is_alive(), f"uvicorn stopped while starting: {crash}"
            return bool(server.started)

        wait_until(started, START_TIMEOUT_SECONDS, what="uvicorn to start")
        yield LiveServer(settings=settings, port=port, engine=engine, app=app)
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_SECONDS)
        sock.close()
        engine.dispose()
    assert not thread.is_alive(), "uvicorn did not stop"
