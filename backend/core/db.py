"""Engine, sessions and migrations.

Alembic is imported only when the schema is not at head: at every start :func:`migrate`
first compares the ``alembic_version`` table with the head revisions read from the
migration files, and only a database behind them pays for Alembic's import (about a
quarter of a second of CPU here, with Mako and Pygments).
"""

from __future__ import annotations

import ast
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, create_engine, event, inspect, make_url, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.dialects import postgresql, sqlite

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
DEFAULT_DATABASE_TIMEOUT_SECONDS = 5.0
"""Default of ``AEGIS_DATABASE_TIMEOUT_SECONDS`` (see :func:`make_engine`)."""


def make_engine(url: str, *, timeout_seconds: float = DEFAULT_DATABASE_TIMEOUT_SECONDS) -> Engine:
    """An engine whose every wait on the database ends after ``timeout_seconds``.

    - SQLite: the busy timeout (waiting for another writer's lock), then "database is
      locked".
    - PostgreSQL: ``connect_timeout`` (a server that is down or frozen), a server-side
      ``statement_timeout`` (a slow statement, or one waiting on a row lock), and the
      wait for a free pooled connection (``pool_timeout``).

    What these cannot bound is a PostgreSQL frozen (SIGSTOP, a stalled VM) under a
    connection that is already open: the kernel keeps the TCP connection up, the server
    never runs its own ``statement_timeout``, and the driver waits on the socket for
    good. That case is bounded per request by :class:`backend.core.deadline.RequestDeadline`.
    """
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        in_memory = path in ("", ":memory:")
        if not in_memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            # Never waits for a connection: a request holds its connection across thread
            # hops (dependency, route, teardown) without holding a thread, so with a
            # bounded pool every worker thread could end up waiting for a connection held
            # by a request waiting for a thread. That locked the server at ~100 live
            # dashboards. Unbounded overflow cannot; the pool only keeps a few idle ones,
            # so a request does not pay for opening the file and its PRAGMAs (about a
            # tenth of the CPU of opening a dashboard).
            poolclass=NullPool if in_memory else QueuePool,
            **({} if in_memory else {"pool_size": SQLITE_IDLE_CONNECTIONS, "max_overflow": -1}),
            connect_args={"check_same_thread": False, "timeout": timeout_seconds},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if not in_memory:
            event.listen(engine, "connect", _remember_file(path))
            event.listen(engine, "checkout", _still_the_same_file(path))
        return engine
    # Room for every worker thread (anyio's default limit is 40) plus the scheduler.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=20,
        max_overflow=40,
        pool_timeout=timeout_seconds,
        connect_args=_postgresql_timeouts(url, timeout_seconds, statement_timeout=True),
    )


def _postgresql_timeouts(
    url: str, timeout_seconds: float, *, statement_timeout: bool
) -> dict[str, Any]:
    """libpq's ``connect_timeout`` (whole seconds) and, through the startup ``options``,
    the server's ``statement_timeout`` (0: none). ``options`` given in the URL are kept
    (ours come last, so they win), and so is a ``connect_timeout`` given there."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return {}  # another database: its driver would refuse libpq's parameters
    given = parsed.query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    milliseconds = int(timeout_seconds * 1000) if statement_timeout else 0
    timeouts: dict[str, Any] = {"options": f"{given} -c statement_timeout={milliseconds}".strip()}
    if "connect_timeout" not in parsed.query:
        timeouts["connect_timeout"] = max(1, math.ceil(timeout_seconds))
    return timeouts


SQLITE_IDLE_CONNECTIONS = 8
"""How many open SQLite connections the pool keeps between requests."""
_FILE = "aegis_file"
"""Where a pooled SQLite connection's record keeps the (device, inode) it opened."""


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def _remember_file(path: str) -> Callable[[Any, Any], None]:
    def remember(_dbapi_connection: Any, record: Any) -> None:
        record.info[_FILE] = _file_identity(path)

    return remember


def _still_the_same_file(path: str) -> Callable[[Any, Any, Any], None]:
    """A pooled connection keeps the file it opened, even once that file is moved,
    replaced (a backup restored) or deleted. Each checkout checks that the path still
    names that file (one ``stat``). Otherwise every pooled connection is closed (they
    would share the path's ``-wal`` and ``-shm`` files with the new one) and the path is
    opened again, as a connection per request would: the request sees what is there now."""

    def check(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get(_FILE) != _file_identity(path):
            raise sa_exc.InvalidatePoolError(f"{path} is no longer the file it opened")

    return check


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the health sampler read while a request writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


# Any fixed number: the key of the PostgreSQL advisory lock taken around migrations.
MIGRATION_LOCK_KEY = 0x4165676973  # "Aegis"


def migrate(engine: Engine, *, timeout_seconds: float = DEFAULT_DATABASE_TIMEOUT_SECONDS) -> None:
    """Bring the schema to the newest migration. Safe to call at every start.

    Several instances starting together take turns: the first migrates, the others then
    find the schema at head and do nothing. Without the lock two of them could both see
    an empty database and both try to create the tables. ``timeout_seconds`` bounds
    connecting to PostgreSQL; its statements have no time limit here.

    A schema already at head (every start but the first after an upgrade) is left as
    it is without Alembic, see :func:`at_head`. On PostgreSQL that check needs no lock
    either. On SQLite it is made under the lock (a file lock: microseconds when free),
    because the first connection to a new file switches it to WAL, which needs the file
    to itself: several starting together on a new file got "database is locked" there.
    """
    if engine.dialect.name != "postgresql":
        with migration_lock(engine):
            if at_head(engine):
                return
            from alembic import command

            command.upgrade(alembic_config(engine), "head")
        return
    if at_head(engine):
        return
    from alembic import command

    # Waiting for another instance's migration, and the migration itself, may well take
    # longer than a request's statement_timeout: its own connections, with none.
    url = engine.url.render_as_string(hide_password=False)
    migrating = create_engine(
        url,
        poolclass=NullPool,
        connect_args=_postgresql_timeouts(url, timeout_seconds, statement_timeout=False),
    )
    try:
        with migration_lock(migrating):
            command.upgrade(alembic_config(migrating), "head")
    finally:
        migrating.dispose()


REVISION_NAMES = ("revision", "down_revision")


def _revision_ids(value: object) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def read_head_revisions(versions: Path = MIGRATIONS_DIR / "versions") -> frozenset[str] | None:
    """The head revision ids of the migration files (those no other file revises), read
    from their literal ``revision``/``down_revision`` lines without importing Alembic
    or the files. None when any file says it in another way (Alembic decides then)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        found: dict[str, list[str] | None] = {}
        for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            if isinstance(target, ast.Name) and target.id in REVISION_NAMES and value:
                try:
                    found[target.id] = _revision_ids(ast.literal_eval(value))
                except ValueError:
                    return None
        revision, down = found.get("revision"), found.get("down_revision")
        if revision is None or len(revision) != 1 or down is None:
            return None
        revisions.update(revision)
        revised.update(down)
    heads = revisions - revised
    return frozenset(heads) if heads else None


_heads: frozenset[str] | None = None


def head_revisions() -> frozenset[str] | None:
    """:func:`read_head_revisions` of this install's migrations, read once per process
    (two threads reading them together both get the same answer)."""
    global _heads
    if _heads is None:
        _heads = read_head_revisions()
    return _heads


def at_head(engine: Engine) -> bool:
    """Whether ``alembic_version`` holds exactly the migrations' heads: a cheap read.

    Safe without the migration lock (on PostgreSQL, see :func:`migrate`): Alembic runs
    every step of a migration in one transaction (``migrations/env.py``) and sets the
    version last, so another process's migration shows its head only once all of it is
    committed; what is still being migrated reads as behind, and then :func:`migrate`
    waits for the lock as before.
    False when unsure (no table, a head that cannot be read from the files, an error
    once connected): Alembic, under the lock, decides then. An error connecting is
    raised as it would be by Alembic.
    """
    heads = head_revisions()
    if heads is None:
        return False
    with engine.connect() as connection:
        try:
            if not inspect(connection).has_table("alembic_version"):
                return False
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        except sa_exc.DBAPIError as error:
            logging.getLogger(__name__).info(
                "could not read the schema's version (%s); migrating", error.orig
            )
            return False
    versions = [version for (version,) in rows]
    return len(versions) == len(heads) and set(versions) == heads


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
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    raise RuntimeError(f"no upsert for the {name!r} database; Aegis supports SQLite and PostgreSQL")
