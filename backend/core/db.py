"""Engine, sessions and migrations."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # No pool: a request holds its connection across thread hops (dependency, route,
        # teardown) without holding a thread, so with a bounded pool every worker thread
        # could end up waiting for a connection held by a request waiting for a thread.
        # That locked the server at ~100 live dashboards. Opening a SQLite file is cheap.
        engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Room for every worker thread (anyio's default limit is 40) plus the scheduler.
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=40, pool_timeout=10)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the health sampler read while a request writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


# Any fixed number: the key of the PostgreSQL advisory lock taken around migrations.
MIGRATION_LOCK_KEY = 0x4165676973  # "Aegis"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration. Safe to call at every start.

    Several instances starting together take turns: the first migrates, the others then
    find the schema at head and do nothing. Without the lock two of them could both see
    an empty database and both try to create the tables.
    """
    with migration_lock(engine):
        command.upgrade(alembic_config(engine), "head")


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Held by one process (or thread) at a time, per database."""
    if engine.dialect.name == "postgresql":
        # A session-level advisory lock on a connection of its own, held across the
        # migration's own transactions; released explicitly, or by PostgreSQL when the
        # connection dies with its process.
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # an in-memory database belongs to one process
        return
    # SQLite: a lock file beside the database. Not a ``BEGIN EXCLUSIVE`` on the file
    # itself, which would lock out the migration's own connection as well.
    with _file_lock(Path(f"{database}.migrate-lock")):
        yield


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            handle.seek(0)
            while True:  # LK_LOCK gives up after 10 s; waiting longer is right here
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            # flock locks belong to the open file, so threads of one process exclude
            # each other as separate processes do.
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def upsert(db: Session, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An ``INSERT`` that can take ``on_conflict_do_update``, for the engine behind ``db``.

    Both dialects' inserts spell ``ON CONFLICT … DO UPDATE … RETURNING`` the same way,
    so code using this runs unchanged on SQLite and PostgreSQL.
    """
    name = db.get_bind().dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise RuntimeError(f"no upsert for the {name!r} database; Aegis supports SQLite and PostgreSQL")
