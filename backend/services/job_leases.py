"""Leases that let one instance at a time run each scheduled job, once per period.

Every ``aegis serve`` runs the same scheduler. Before a job runs, its instance claims
the job's row in ``job_leases`` with one conditional ``UPDATE … WHERE name = :job AND
until <= :now``: the database lets exactly one claimer change the row (rowcount 1), and
the lease then lasts one period, so the job runs once per period whichever instance
gets there first. Plain SQL, so it works the same on SQLite and PostgreSQL.

The row also keeps how the last run went and which instance ran it, so every instance
can report the same job status.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.core.db import upsert
from backend.models import JobLease, utcnow

Clock = Callable[[], datetime]
NEVER = datetime(2000, 1, 1, tzinfo=UTC)
MAX_ERROR_CHARS = 1000


def new_instance_id() -> str:
    """This process among all instances: host name, pid, and a short random suffix (pids
    are reused after a restart, and containers often all run as pid 1)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _leases() -> Table:
    table = JobLease.__table__
    assert isinstance(table, Table)
    return table


class JobLeases:
    def __init__(
        self, factory: sessionmaker[Session], instance: str, clock: Clock = utcnow
    ) -> None:
        self.factory = factory
        self.instance = instance
        self.clock = clock

    def ensure(self, names: Iterable[str]) -> None:
        """A row for each job, free to claim; rows that exist are left alone."""
        with self.factory() as db:
            for name in names:
                statement = (
                    upsert(db, _leases())
                    .values(name=name, holder="", until=NEVER, last_outcome="never run")
                    .on_conflict_do_nothing(index_elements=["name"])
                )
                db.execute(statement)
            db.commit()

    def claim(self, name: str, period_seconds: float) -> bool:
        """True when this instance may run ``name`` now: the lease was free and is now ours
        for one period."""
        now = self.clock()
        with self.factory() as db:
            result = db.execute(
                update(JobLease)
                .where(JobLease.name == name, JobLease.until <= now)
                .values(holder=self.instance, until=now + timedelta(seconds=period_seconds))
            )
            db.commit()
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def record(self, name: str, *, at: datetime, outcome: str, error: str | None) -> None:
        with self.factory() as db:
            db.execute(
                update(JobLease)
                .where(JobLease.name == name)
                .values(
                    last_run_at=at,
                    last_run_by=self.instance,
                    last_outcome=outcome,
                    last_error=error[:MAX_ERROR_CHARS] if error else None,
                )
            )
            db.commit()

    def read(self, name: str) -> JobLease | None:
        with self.factory() as db:
            return db.scalar(select(JobLease).where(JobLease.name == name))
