"""Named locks in the database, for rules that span rows ("exactly one first admin",
"never zero active admins") and so cannot be a constraint on one row.

A unit of work that keeps such a rule calls ``take(db, name)`` as its FIRST write, then
reads whatever its decision depends on, writes, and commits. Two of them can never
interleave, on either engine, so check-then-act becomes safe:

- SQLite allows one writer per database. pysqlite (the driver's default, legacy
  transaction control, which SQLAlchemy keeps) sends a deferred ``BEGIN`` just before the
  first INSERT/UPDATE/DELETE of a transaction, and that statement takes the database's
  write lock, waiting (``busy_timeout``) while another writer holds it. Because nothing
  was read inside this transaction before it, SQLite takes a fresh snapshot while it
  waits, so every read after ``take`` sees all that was committed before. The lock is
  held until commit or rollback. (Python 3.12's ``autocommit=False`` mode would begin
  transactions earlier and break this; Aegis does not use it.)
- PostgreSQL: ``INSERT … ON CONFLICT DO UPDATE`` on the lock's row takes that row's lock
  until the transaction ends; a second taker blocks on it. Under READ COMMITTED (the
  default, which Aegis keeps) each later statement takes a new snapshot, so the reads
  after ``take`` see what the first transaction committed. (Under REPEATABLE READ the
  second would fail with a serialisation error instead of reading the new state.)

So: read after ``take``, never before. ORM objects loaded earlier in the request hold
values read before the lock; refresh them.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session

from backend.core.db import upsert
from backend.models import RuleLock

ADMINS = "admins"
"""Taken by every change that could add the first admin or remove an active admin."""


def take(db: Session, name: str) -> None:
    """Hold the lock ``name`` until ``db``'s transaction ends (commit or rollback)."""
    table = RuleLock.__table__
    assert isinstance(table, Table)
    # An upsert, not a plain UPDATE: the row need not exist beforehand, and two first
    # takers still serialise on the primary key (the second waits, then updates).
    statement = (
        upsert(db, table)
        .values(name=name, taken=1)
        .on_conflict_do_update(index_elements=[table.c.name], set_={"taken": table.c.taken + 1})
    )
    db.execute(statement)
