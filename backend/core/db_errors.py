"""When the database cannot serve right now: the words for a 503, and a quiet log.

Down, frozen, locked or out of connections is a state a request can meet at any time;
it is answered with a 503 in words and a ``Retry-After``, never a 500. Which errors
mean that depends on the engine: see :func:`database_unavailable`.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import exc as sa_exc

DATABASE_RETRY_AFTER_SECONDS = 5
"""The ``Retry-After`` of a 503 for a database that cannot serve right now."""
DATABASE_UNREACHABLE = "The database is unreachable right now; try again in a few seconds."
DATABASE_BUSY = "The database is busy right now; try again in a few seconds."
# sqlite3 raises OperationalError for schema and syntax errors too, so only these mean
# "the database cannot serve now"; every PostgreSQL OperationalError does.
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
_SQLITE_UNREACHABLE = (
    "unable to open database file",
    "disk i/o error",
    "readonly database",
    "database or disk is full",
)
_POSTGRESQL_BUSY = ("statement timeout", "canceling statement", "lock timeout", "deadlock")


def database_unavailable(exc: BaseException) -> str | None:
    """Words for an error that means the database cannot serve right now (down, frozen,
    locked, out of connections), for a 503; None for any other error.

    Covers SQLAlchemy's pool ``TimeoutError``, a DBAPI error that cost the connection
    (``connection_invalidated``), and the driver's ``OperationalError``/``InterfaceError``
    (PostgreSQL: refused or lost connections, timeouts, shutdowns; SQLite: only "locked"
    and "cannot open or write the file").
    """
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return DATABASE_BUSY
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    message = str(exc.orig).lower()
    if exc.connection_invalidated:
        return DATABASE_UNREACHABLE
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return None
    if type(exc.orig).__module__.startswith("sqlite3"):
        if any(words in message for words in _SQLITE_BUSY):
            return DATABASE_BUSY
        return DATABASE_UNREACHABLE if any(w in message for w in _SQLITE_UNREACHABLE) else None
    return (
        DATABASE_BUSY
        if any(words in message for words in _POSTGRESQL_BUSY)
        else (DATABASE_UNREACHABLE)
    )


class OutageLog:
    """One concise warning when the database starts failing requests, then at most one
    per ``period_seconds`` with the count of failures in between: an outage met by
    hundreds of requests is a few lines in the log, not a traceback per request."""

    def __init__(self, logger: logging.Logger, period_seconds: float = 30.0) -> None:
        self.logger = logger
        self.period_seconds = period_seconds
        self._lock = threading.Lock()
        self._last: float | None = None
        self._since_last = 0

    def failed(self, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last < self.period_seconds:
                self._since_last += 1
                return
            more, self._since_last, self._last = self._since_last, 0, now
        if more:
            message += f" ({more} more since the previous report)"
        self.logger.warning("%s", message)
