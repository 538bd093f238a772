"""The SQLite engine's pool: it keeps connections between requests, never makes a
request wait for one, and never serves a file that is no longer at the database's path."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy import exc as sa_exc

from backend.core.db import SQLITE_IDLE_CONNECTIONS, make_engine


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "aegis.db"
    with closing(sqlite3.connect(path)) as setup, setup:
        setup.execute("CREATE TABLE note (words TEXT)")
        setup.execute("INSERT INTO note VALUES ('original')")
    return path


@pytest.fixture
def engine(database: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{database}", timeout_seconds=2)
    yield engine
    engine.dispose()


def count_connects(engine: Engine) -> list[int]:
    opened = [0]

    def connected(*_args: object) -> None:
        opened[0] += 1

    event.listen(engine, "connect", connected)
    return opened


def words(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT words FROM note")).scalar_one())


def test_requests_one_after_another_share_one_connection(engine: Engine) -> None:
    opened = count_connects(engine)
    for _ in range(20):
        assert words(engine) == "original"
    assert opened[0] == 1


def test_more_connections_at_once_than_it_keeps_never_wait(engine: Engine) -> None:
    """Three times as many connections as the pool keeps, all held at once from one
    thread: a bounded pool would make the last ones wait for a connection that is never
    given back."""
    held = SQLITE_IDLE_CONNECTIONS * 3
    opened: list[object] = []

    def hold_them() -> None:
        connections = [engine.connect() for _ in range(held)]
        opened.extend(c.execute(text("SELECT 1")).scalar_one() for c in connections)
        for connection in connections:
            connection.close()

    holder = threading.Thread(target=hold_them, daemon=True)
    holder.start()
    holder.join(timeout=60)
    assert not holder.is_alive(), f"{len(opened)} of {held} connections came"
    assert opened == [1] * held


def test_a_replaced_file_is_opened_again(engine: Engine, database: Path) -> None:
    """A backup restored over the database: the next request reads the new file, not
    the one its pooled connection still has open."""
    assert words(engine) == "original"
    restored = database.with_name("restored.db")
    with closing(sqlite3.connect(restored)) as backup, backup:
        backup.execute("CREATE TABLE note (words TEXT)")
        backup.execute("INSERT INTO note VALUES ('restored')")
    restored.replace(database)
    assert words(engine) == "restored"


def test_a_file_moved_away_is_not_served_from_the_pool(engine: Engine, database: Path) -> None:
    """With a directory in the file's place, a request fails as a new connection would
    (the outage the API turns into a 503), instead of reading the moved file; once it
    is back, the pool serves it again."""
    assert words(engine) == "original"
    aside = database.with_name("aegis.db.aside")
    database.rename(aside)
    database.mkdir()
    try:
        with pytest.raises(sa_exc.OperationalError, match="unable to open database file"):
            words(engine)
    finally:
        database.rmdir()
        aside.rename(database)
    assert words(engine) == "original"


def test_an_in_memory_database_is_not_pooled() -> None:
    engine = make_engine("sqlite://")
    opened = count_connects(engine)
    for _ in range(3):
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    engine.dispose()
    assert opened[0] == 3
