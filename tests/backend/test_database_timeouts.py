"""The engine's timeouts, and which database errors are an outage (503) rather than a bug.

A busy PostgreSQL is met with its own ``statement_timeout``: a row lock held by another
transaction makes a request that needs it a 503 in words after the timeout, not a hang.
Migrations run without that timeout (they, and the wait for another instance's
migration, may take longer). The classification is checked on the real drivers' errors.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from backend.core.db import make_engine
from backend.core.db_errors import (
    DATABASE_BUSY,
    DATABASE_UNREACHABLE,
    OutageLog,
    database_unavailable,
)
from backend.services.scheduler import OUTAGE_RETRY_MAX_SECONDS, Job
from tests.backend.live_server import live_server
from tests.postgres_cluster import PostgresCluster

PASSWORD = "correct horse battery"


def _dbapi(error: Exception) -> sa_exc.DBAPIError:
    wrapped = sa_exc.DBAPIError.instance("SELECT 1", {}, error, sqlite3.DatabaseError)
    assert isinstance(wrapped, sa_exc.DBAPIError)
    return wrapped


def test_sqlite_errors_that_mean_an_outage_and_those_that_do_not() -> None:
    assert database_unavailable(_dbapi(sqlite3.OperationalError("database is locked"))) == (
        DATABASE_BUSY
    )
    unopenable = _dbapi(sqlite3.OperationalError("unable to open database file"))
    assert database_unavailable(unopenable) == DATABASE_UNREACHABLE
    # sqlite3 calls these OperationalError too: they are bugs, a 500.
    assert database_unavailable(_dbapi(sqlite3.OperationalError("no such table: users"))) is None
    assert database_unavailable(_dbapi(sqlite3.IntegrityError("UNIQUE constraint"))) is None
    assert database_unavailable(ValueError("not a database error")) is None
    pool = sa_exc.TimeoutError("QueuePool limit of size 20 overflow 40 reached")
    assert database_unavailable(pool) == DATABASE_BUSY
    for words in (DATABASE_BUSY, DATABASE_UNREACHABLE):
        assert words.startswith("The database")  # the dashboard's banner keys on it


def test_postgresql_refusing_connections_is_an_outage(postgres: PostgresCluster) -> None:
    engine = make_engine(postgres.url("no_such_database"), timeout_seconds=2)
    try:
        with pytest.raises(sa_exc.OperationalError) as refused, engine.connect():
            pass
    finally:
        engine.dispose()
    # A missing database is a refusal by the server: the same 503, no traceback to the client.
    assert database_unavailable(refused.value) == DATABASE_UNREACHABLE


def test_postgresql_connections_carry_the_statement_timeout(postgres: PostgresCluster) -> None:
    url = postgres.create_database()
    engine = make_engine(url, timeout_seconds=2)
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW statement_timeout")) == "2s"
            started = time.monotonic()
            with pytest.raises(sa_exc.OperationalError) as cancelled:
                connection.execute(text("SELECT pg_sleep(30)"))
            seconds = time.monotonic() - started
    finally:
        engine.dispose()
    print(f"\nstatement cancelled by the server after {seconds:.2f} s")
    assert 1.5 < seconds < 10
    assert database_unavailable(cancelled.value) == DATABASE_BUSY


def test_a_row_lock_held_elsewhere_is_a_503_after_the_timeout(
    tmp_path: Path, postgres: PostgresCluster
) -> None:
    """Another session holds the "admins" rule lock; demoting an admin needs it."""
    url = postgres.create_database()
    with (
        live_server(
            tmp_path, database_url=url, database_timeout_seconds=2, allow_registration=True
        ) as server,
        server.client() as admin,
    ):
        for email in ("ada@example.com", "bob@example.com"):
            body = {"email": email, "password": PASSWORD, "full_name": email}
            with server.client() as client:
                response = client.post("/auth/register", json=body)
            assert response.status_code == 201, response.text
        login = {"email": "ada@example.com", "password": PASSWORD}
        assert admin.post("/auth/login", json=login).status_code == 200
        bob = int(server.scalar("SELECT id FROM users WHERE email = 'bob@example.com'"))
        assert admin.patch(f"/users/{bob}", json={"role": "admin"}).status_code == 200

        def bobs_role() -> str:
            return str(server.scalar("SELECT role FROM users WHERE id = :id", id=bob))

        with server.engine.begin() as holder:
            holder.execute(text("SELECT * FROM rule_locks WHERE name = 'admins' FOR UPDATE"))
            started = time.monotonic()
            response = admin.patch(f"/users/{bob}", json={"role": "viewer"})
            seconds = time.monotonic() - started
            assert bobs_role() == "admin", "nothing was changed"
        print(f"\nrule lock held elsewhere: 503 after {seconds:.2f} s")
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == DATABASE_BUSY
        assert int(response.headers["retry-after"]) >= 1
        assert 1.5 < seconds < server.settings.request_deadline_seconds + 3
        # Once the lock is free, the same request works.
        assert admin.patch(f"/users/{bob}", json={"role": "viewer"}).status_code == 200
        assert bobs_role() == "viewer"


def test_outage_log_says_it_once_then_counts(caplog: pytest.LogCaptureFixture) -> None:
    outages = OutageLog(logging.getLogger("aegis.test"), period_seconds=3600)
    with caplog.at_level(logging.WARNING, logger="aegis.test"):
        for _ in range(50):
            outages.failed("database unavailable on GET /api/v1/users")
    assert [r.getMessage() for r in caplog.records] == ["database unavailable on GET /api/v1/users"]


async def _noop() -> None:
    return None


def test_jobs_back_off_while_the_database_is_unavailable() -> None:
    job = Job("metric sampling", 5, _noop)
    assert job.next_delay() == 5
    delays = []
    for failures in range(1, 7):
        job.outage_failures = failures
        delays.append(job.next_delay())
    assert delays == [1, 2, 4, OUTAGE_RETRY_MAX_SECONDS, OUTAGE_RETRY_MAX_SECONDS, 8]
