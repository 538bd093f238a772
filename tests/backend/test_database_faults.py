"""The database fails under a running server, and comes back: real uvicorn, real faults.

- PostgreSQL stopped (``pg_ctl stop -m fast``), then started again on the same port and
  data directory; PostgreSQL frozen (SIGSTOP on the postmaster and every backend), then
  resumed. Each on a private cluster: the test run's shared one is never touched.
- SQLite: another process holds the write lock (``BEGIN EXCLUSIVE``); the file made
  unreadable, then put back.

The server must answer every request in bounded time (health within 2 s, the rest
within the database timeout, or the request deadline for a frozen server) with 503,
``Retry-After`` and words starting "The database", never a 500; and recover by itself
within 10 s of the database's return, without a restart. Run with ``-s`` to see the
measured seconds.
"""

from __future__ import annotations

import itertools
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.backend.live_server import LiveServer, in_parallel, live_server
from tests.backend.postgres_faults import frozen, stop_fast
from tests.conftest import require_postgres
from tests.postgres_cluster import PostgresCluster, postgres_cluster
from tests.waiting import ConditionTimeout, wait_until

PASSWORD = "correct horse battery"
ADMIN = "ada@example.com"
HEALTH_SECONDS = 2.0  # the bound for /health
RECOVERY_SECONDS = 10.0  # the bound for coming back after the database returns
SLACK_SECONDS = 3.0  # a loaded test machine, on top of a bound the server keeps itself


@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, to stop and freeze."""
    require_postgres()
    with postgres_cluster() as cluster:
        yield cluster


def report(test: str, **seconds: float) -> None:
    print(f"\n{test}: " + ", ".join(f"{name} {value:.2f} s" for name, value in seconds.items()))


@contextmanager
def signed_in_admin(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        body = {"email": ADMIN, "password": PASSWORD, "full_name": "Ada"}
        response = client.post("/auth/register", json=body)
        assert response.status_code == 201, response.text
        yield client


def timed(call: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = call()
    return time.monotonic() - started, response


def until(call: Callable[[], httpx.Response], status: int, timeout: float) -> float:
    """Seconds until ``call`` answers ``status`` (a measured figure); fails with the last
    answer after ``timeout``."""
    started = time.monotonic()
    last: list[httpx.Response] = []

    def answered() -> bool:
        last[:] = [call()]
        return last[0].status_code == status

    try:
        wait_until(answered, timeout, what=f"a {status}")
    except ConditionTimeout as late:
        answer = f"{last[0].status_code} {last[0].text}"
        raise ConditionTimeout(f"{late}; the last answer: {answer}") from None
    return time.monotonic() - started


def assert_unavailable(response: httpx.Response, starts: str = "The database") -> None:
    assert response.status_code == 503, f"{response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert detail.startswith(starts), detail
    assert detail.endswith("try again in a few seconds."), detail
    assert int(response.headers["retry-after"]) >= 1


def scheduler_records(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "aegis.scheduler" and words in r.getMessage() and r.levelno >= logging.INFO
    ]


def wait_for_log(caplog: pytest.LogCaptureFixture, words: str, timeout: float) -> float:
    """Seconds until the scheduler logs ``words`` (a measured figure)."""
    started = time.monotonic()
    wait_until(
        lambda: scheduler_records(caplog, words), timeout, what=f"the scheduler to log {words!r}"
    )
    return time.monotonic() - started


def test_postgresql_stopped_then_started_again(
    tmp_path: Path, private_postgres: PostgresCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aegis")
    url = private_postgres.create_database()
    with (
        live_server(tmp_path, database_url=url, metrics_interval_seconds=1) as server,
        signed_in_admin(server) as admin,
        server.client() as anonymous,
    ):
        samples = int(server.scalar("SELECT count(*) FROM metric_samples"))

        stop_fast(private_postgres)
        to_health, health = timed(lambda: anonymous.get("/health"))
        assert_unavailable(health, "The database is unreachable")
        assert to_health < HEALTH_SECONDS
        to_read, read = timed(lambda: admin.get("/users"))
        assert_unavailable(read, "The database is unreachable")
        to_write, write = timed(
            lambda: anonymous.post("/auth/login", json={"email": ADMIN, "password": "wrong"})
        )
        assert_unavailable(write, "The database is unreachable")
        wait_for_log(caplog, "the database is unavailable", timeout=15)

        private_postgres.start()  # same port, same data directory; the app is not restarted
        back_health = until(lambda: anonymous.get("/health"), 200, RECOVERY_SECONDS)
        back_api = until(lambda: admin.get("/users"), 200, RECOVERY_SECONDS)
        back_scheduler = wait_for_log(caplog, "the database answers again", RECOVERY_SECONDS)
        wait_until(
            lambda: int(server.scalar("SELECT count(*) FROM metric_samples")) > samples,
            RECOVERY_SECONDS,
            what="a metric sample after the recovery",
        )
        report(
            "PostgreSQL stopped",
            health_503=to_health,
            read_503=to_read,
            write_503=to_write,
            health_back=back_health,
            api_back=back_health + back_api,
            scheduler_back=back_health + back_api + back_scheduler,
        )
    # The outage is one line in the scheduler's log, in words, without a traceback.
    assert len(scheduler_records(caplog, "the database is unavailable")) == 1
    assert not [r for r in caplog.records if r.name == "aegis.scheduler" and r.exc_info]


def test_postgresql_frozen_then_resumed(tmp_path: Path, private_postgres: PostgresCluster) -> None:
    url = private_postgres.create_database()
    with (
        live_server(tmp_path, database_url=url) as server,
        signed_in_admin(server) as admin,
        server.client() as anonymous,
    ):
        assert admin.get("/users").status_code == 200  # pooled connections are open
        deadline = server.settings.request_deadline_seconds

        with frozen(private_postgres):
            (to_health, health), (to_read, read), (to_write, write) = in_parallel(
                [
                    lambda: timed(lambda: anonymous.get("/health")),
                    lambda: timed(lambda: admin.get("/users")),
                    lambda: timed(
                        lambda: anonymous.post(
                            "/auth/login", json={"email": ADMIN, "password": "wrong"}
                        )
                    ),
                ]
            )
        resumed = time.monotonic()
        back_health = until(lambda: anonymous.get("/health"), 200, RECOVERY_SECONDS)
        back_api = until(lambda: admin.get("/users"), 200, RECOVERY_SECONDS)
        report(
            "PostgreSQL frozen",
            health_503=to_health,
            read_503=to_read,
            write_503=to_write,
            health_back=back_health,
            api_back=time.monotonic() - resumed,
        )
    assert_unavailable(health, "The database did not answer within 1.5 seconds")
    assert to_health < HEALTH_SECONDS
    for response, seconds in ((read, to_read), (write, to_write)):
        assert_unavailable(response)
        assert seconds < deadline + SLACK_SECONDS
    assert back_api < RECOVERY_SECONDS


HOLD_WRITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
connection.execute("ROLLBACK")
"""


def test_sqlite_write_lock_held_by_another_process(tmp_path: Path) -> None:
    with (
        live_server(tmp_path) as server,
        signed_in_admin(server) as admin,
    ):
        path = server.settings.resolved_database_url.removeprefix("sqlite:///")
        timeout = server.settings.database_timeout_seconds

        def create(email: str) -> httpx.Response:
            body = {"email": email, "full_name": "Bob", "password": PASSWORD}
            return admin.post("/users", json=body)

        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_WRITE_LOCK, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            to_busy, busy = timed(lambda: create("bob@example.com"))
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(timeout=10)
            assert holder.stdout is not None
            holder.stdout.close()
        back = until(lambda: create("bob@example.com"), 201, RECOVERY_SECONDS)
        report("SQLite write lock", write_503=to_busy, write_back=back)
    assert_unavailable(busy, "The database is busy")
    assert timeout - 0.5 <= to_busy < timeout + SLACK_SECONDS  # the busy timeout, then words


def test_sqlite_file_unreadable_then_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The tests run as root, whom ``chmod 000`` does not stop; so the file is moved aside
    and a directory takes its name: every new connection (SQLite opens one per request
    here) fails to open it, as it would a file it may not read. Moving it back restores
    it as it was (connections already open keep the moved file, so nothing is lost).

    The scheduler (metric sampling every second) must log the outage once, in words,
    then back off (its tries grow further apart than its period), then resume."""
    caplog.set_level(logging.DEBUG, logger="aegis.scheduler")
    with (
        live_server(tmp_path, metrics_interval_seconds=1) as server,
        signed_in_admin(server) as admin,
        server.client() as anonymous,
    ):
        path = Path(server.settings.resolved_database_url.removeprefix("sqlite:///"))
        aside = path.with_name(path.name + ".aside")

        path.rename(aside)
        path.mkdir()
        try:
            to_health, health = timed(lambda: anonymous.get("/health"))
            to_read, read = timed(lambda: admin.get("/users"))
            wait_for_log(caplog, "the database is unavailable", timeout=15)
            tries = _metric_tries_during_outage(caplog, count=4, timeout=30)
        finally:
            path.rmdir()
            aside.rename(path)
        restored = time.monotonic()
        back_health = until(lambda: anonymous.get("/health"), 200, RECOVERY_SECONDS)
        back_api = until(lambda: admin.get("/users"), 200, RECOVERY_SECONDS)
        wait_for_log(caplog, "the database answers again", RECOVERY_SECONDS)
        back_scheduler = time.monotonic() - restored
    gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
    report(
        "SQLite file unreadable",
        health_503=to_health,
        read_503=to_read,
        health_back=back_health,
        api_back=back_health + back_api,
        scheduler_back=back_scheduler,
    )
    print("scheduler tries in the outage, seconds apart: " + ", ".join(f"{g:.1f}" for g in gaps))
    assert_unavailable(health, "The database is unreachable")
    assert to_health < HEALTH_SECONDS
    assert_unavailable(read, "The database is unreachable")
    assert max(gaps) >= 3.5, "the tries never backed off past the 1 s period"
    assert back_scheduler < RECOVERY_SECONDS
    assert len(scheduler_records(caplog, "the database is unavailable")) == 1
    assert not [r for r in caplog.records if r.name == "aegis.scheduler" and r.exc_info]


def _metric_tries_during_outage(
    caplog: pytest.LogCaptureFixture, count: int, timeout: float
) -> list[float]:
    """When the metric job found the database unavailable, the first ``count`` times."""

    def tries() -> list[float]:
        return [
            r.created
            for r in caplog.records
            if r.name == "aegis.scheduler"
            and "metric sampling" in r.getMessage()
            and "unavailable" in r.getMessage()
        ]

    wait_until(lambda: len(tries()) >= count, timeout, what=f"{count} tries of metric sampling")
    return tries()[:count]
