"""Periodic background jobs, run on the backend's own event loop.

Each job runs once at start and then every ``interval_seconds``. With ``leases`` (as
``aegis serve`` runs it) each tick of a shared job first claims the job's lease row in
the database, so of several instances only one runs it in each period; the others take
the outcome and the name of the instance that ran it from the row. A job about this
instance itself (metric sampling: its own host's CPU and memory, its own API's
latency) is not shared: every instance runs it, or its series would have gaps. Blocking work (the
database, psutil) goes to a worker thread. A job that raises is logged and marked
"failed"; the scheduler keeps going and tries it again next time. At shutdown a job
that is running is allowed to finish (a worker thread cannot be interrupted, and
cancelling the task under it would leave its database session half-closed); only one
that overstays ``SHUTDOWN_GRACE_SECONDS`` is cancelled.

When the database cannot serve (down, frozen, locked: :func:`database_unavailable`) the
scheduler says so once, in words and without a traceback, and each job then retries
after 1, 2, 4, then every ``OUTAGE_RETRY_MAX_SECONDS`` instead of its own period, so
it neither hammers a database that is down nor waits a whole period (ten minutes for
some jobs) once it is back. The first job that gets through logs the recovery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from backend.core.config import Settings
from backend.core.db_errors import database_unavailable
from backend.models import utcnow
from backend.services import audit, metrics, throttle
from backend.services.handoff import CookieHandoffStore
from backend.services.job_leases import JobLeases
from backend.services.sessions import delete_expired_sessions

log = logging.getLogger("aegis.scheduler")

SESSION_CLEANUP_INTERVAL_SECONDS = 600
# Often, so rows of sign-in counters whose window has ended do not pile up.
THROTTLE_CLEANUP_INTERVAL_SECONDS = 60
AUDIT_RETENTION_INTERVAL_SECONDS = 3600
SHUTDOWN_GRACE_SECONDS = 15.0
METRICS_JOB = "metric sampling"
SESSION_CLEANUP_JOB = "expired-session clean-up"
THROTTLE_CLEANUP_JOB = "expired sign-in counters"
AUDIT_RETENTION_JOB = "audit retention"
HANDOFF_CLEANUP_JOB = "expired hand-off codes"
HANDOFF_CLEANUP_INTERVAL_SECONDS = 60
OUTAGE_RETRY_FIRST_SECONDS = 1.0
OUTAGE_RETRY_MAX_SECONDS = 8.0
"""The longest a job waits between tries while the database is unavailable: it runs
again at most this long (plus the database's own timeouts) after the database is back."""

JobFunc = Callable[[], Awaitable[None]]


@dataclass
class Job:
    name: str
    interval_seconds: float
    func: JobFunc
    shared: bool = True
    """Once per period across every instance on the database (a lease); False: each
    instance runs it for itself."""
    last_run_at: datetime | None = None
    last_outcome: str = "never run"
    last_error: str | None = None
    last_run_by: str | None = None
    """The instance that ran it last (this one, or another sharing the database)."""
    runs: int = 0
    """Runs by this instance."""
    outage_failures: int = 0
    """Tries in a row that failed because the database was unavailable."""

    def next_delay(self) -> float:
        """Seconds to the next try: the period, or the outage back-off."""
        if self.outage_failures == 0:
            return self.interval_seconds
        backoff = OUTAGE_RETRY_FIRST_SECONDS * 2.0 ** (self.outage_failures - 1)
        return min(backoff, OUTAGE_RETRY_MAX_SECONDS)


def describe_error(exc: BaseException) -> str:
    """An exception in words: its message, or its type when it has none."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {message}" if message else f"{name} (no message)"


@dataclass
class Scheduler:
    jobs: list[Job]
    leases: JobLeases | None = None
    instance: str | None = None
    started_at: datetime | None = None
    database_down_since: float | None = None
    """``time.monotonic()`` when a job first found the database unavailable; None while
    it answers."""
    _leases_ready: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def job(self, name: str) -> Job:
        return next(job for job in self.jobs if job.name == name)

    @property
    def running(self) -> bool:
        return any(not task.done() for task in self._tasks)

    def _database_answered(self, job: Job) -> None:
        job.outage_failures = 0
        if self.database_down_since is not None:
            down_for = time.monotonic() - self.database_down_since
            self.database_down_since = None
            log.info(
                "the database answers again after %.1f s; scheduled jobs are back on their periods",
                down_for,
            )

    def _database_failed(self, job: Job, exc: BaseException, doing: str) -> bool:
        """If ``exc`` means the database is unavailable: note it on ``job``, log the outage
        once, and return True; False for any other error."""
        if database_unavailable(exc) is None:
            return False
        cause = describe_error(getattr(exc, "orig", None) or exc)
        job.last_outcome = "failed"
        job.last_error = f"The database is unavailable ({doing}): {cause}"
        job.outage_failures += 1
        if self.database_down_since is None:
            self.database_down_since = time.monotonic()
            log.warning(
                "the database is unavailable (%s, %s: %s); scheduled jobs retry every few "
                "seconds, at most %g s apart, until it answers",
                job.name,
                doing,
                cause,
                OUTAGE_RETRY_MAX_SECONDS,
            )
        else:
            log.debug("%s: the database is still unavailable: %s", job.name, cause)
        return True

    async def run_once(self, job: Job) -> None:
        """Run ``job`` now and record how it went; never raises (except cancellation)."""
        try:
            await job.func()
        except Exception as exc:
            if not self._database_failed(job, exc, "running the job"):
                job.outage_failures = 0
                job.last_outcome = "failed"
                job.last_error = describe_error(exc)
                log.exception("scheduled job %r failed", job.name)
        else:
            job.last_outcome = "ok"
            job.last_error = None
            self._database_answered(job)
        finally:
            job.last_run_at = utcnow()
            job.last_run_by = self.instance
            job.runs += 1

    async def tick(self, job: Job) -> bool:
        """Run ``job`` if its period is this instance's to run; True if it ran here.

        Without leases, or when the job is not shared, it always runs. Otherwise it runs
        only when this instance claims the lease; either way the job's status is then
        read back from the lease row, so it tells the last run by whichever instance
        made it.
        """
        if self.leases is None or not job.shared:
            await self.run_once(job)
            return True
        leases = self.leases
        try:
            if not self._leases_ready:
                shared = [j.name for j in self.jobs if j.shared]
                await anyio.to_thread.run_sync(leases.ensure, shared)
                self._leases_ready = True
            claimed = await anyio.to_thread.run_sync(leases.claim, job.name, job.interval_seconds)
        except Exception as exc:
            if not self._database_failed(job, exc, "claiming its lease"):
                job.last_outcome = "failed"
                job.last_error = f"Could not claim the job in the database: {describe_error(exc)}"
                log.exception("could not claim scheduled job %r", job.name)
            return False
        if claimed:
            await self.run_once(job)
            try:
                await anyio.to_thread.run_sync(
                    partial(
                        leases.record,
                        job.name,
                        at=job.last_run_at or utcnow(),
                        outcome=job.last_outcome,
                        error=job.last_error,
                    )
                )
            except Exception as exc:  # the run is recorded in memory; other instances miss it
                if database_unavailable(exc) is None:  # an outage is logged once, above
                    log.warning("could not record the run of %r for other instances", job.name)
            return True
        try:
            row = await anyio.to_thread.run_sync(leases.read, job.name)
        except Exception as exc:  # keep what this instance knew; the next tick tries again
            if not self._database_failed(job, exc, "reading its status"):
                log.warning("could not read the status of %r from the database", job.name)
            return False
        self._database_answered(job)  # the claim and the read got through
        if row is not None and row.last_run_at is not None:
            job.last_run_at = row.last_run_at
            job.last_run_by = row.last_run_by
            job.last_outcome = row.last_outcome
            job.last_error = row.last_error
        return False

    async def _loop(self, job: Job, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.tick(job)
            # asyncio.timeout rather than wait_for, which would start a task per wait.
            with suppress(TimeoutError):
                async with asyncio.timeout(job.next_delay()):
                    await stopping.wait()

    @asynccontextmanager
    async def run(self) -> AsyncIterator[Scheduler]:
        """Run every job in the background until the block ends, then stop them.

        Plain asyncio tasks rather than an anyio task group, so the block may be entered
        and left in different tasks (as test fixtures and some servers do).
        """
        self.started_at = utcnow()
        stopping = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._loop(job, stopping), name=f"aegis job: {job.name}")
            for job in self.jobs
        ]
        try:
            yield self
        finally:
            stopping.set()
            if self._tasks:
                _, overstaying = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
                for task in overstaying:
                    log.warning("cancelling %s: still running at shutdown", task.get_name())
                    task.cancel()
                for task in self._tasks:
                    try:
                        await task
                    except asyncio.CancelledError:
                        # The job's own cancellation ends here; one aimed at the task
                        # stopping the scheduler (a deadline around shutdown) goes on.
                        current = asyncio.current_task()
                        if current is not None and current.cancelling():
                            raise
            self._tasks = []


async def sample_metrics(app: FastAPI, factory: sessionmaker[Session], settings: Settings) -> None:
    api_latency = await metrics.measure_api_latency(app)
    host = await anyio.to_thread.run_sync(metrics.read_host)

    def store() -> None:
        with factory() as db:
            metrics.store_sample(
                db,
                host,
                instance=app.state.instance_id,
                api_latency_ms=api_latency,
                retention=settings.metrics_retention,
            )

    await anyio.to_thread.run_sync(store)


async def clean_up_sessions(factory: sessionmaker[Session], settings: Settings) -> None:
    def clean() -> None:
        with factory() as db:
            ended = delete_expired_sessions(db, settings)
        if ended:
            log.info("deleted %d expired sessions", ended)

    await anyio.to_thread.run_sync(clean)


async def clean_up_throttle_counters(factory: sessionmaker[Session]) -> None:
    def clean() -> None:
        with factory() as db:
            throttle.delete_expired(db)

    await anyio.to_thread.run_sync(clean)


async def clean_up_handoff_codes(
    factory: sessionmaker[Session], handoffs: CookieHandoffStore
) -> None:
    def clean() -> None:
        with factory() as db:
            handoffs.delete_expired(db)

    await anyio.to_thread.run_sync(clean)


async def prune_audit_events(factory: sessionmaker[Session], settings: Settings) -> None:
    def prune() -> None:
        with factory() as db:
            deleted = audit.delete_older_than(db, settings.audit_retention)
        if deleted:
            log.info(
                "deleted %d audit events older than %d days",
                deleted,
                settings.audit_retention_days,
            )

    await anyio.to_thread.run_sync(prune)


def default_scheduler(
    app: FastAPI, factory: sessionmaker[Session], settings: Settings
) -> Scheduler:
    instance: str = app.state.instance_id
    return Scheduler(
        leases=JobLeases(factory, instance),
        instance=instance,
        jobs=[
            Job(
                METRICS_JOB,
                settings.metrics_interval_seconds,
                partial(sample_metrics, app, factory, settings),
                shared=False,  # each instance samples its own host
            ),
            Job(
                SESSION_CLEANUP_JOB,
                SESSION_CLEANUP_INTERVAL_SECONDS,
                partial(clean_up_sessions, factory, settings),
            ),
            Job(
                THROTTLE_CLEANUP_JOB,
                THROTTLE_CLEANUP_INTERVAL_SECONDS,
                partial(clean_up_throttle_counters, factory),
            ),
            Job(
                AUDIT_RETENTION_JOB,
                AUDIT_RETENTION_INTERVAL_SECONDS,
                partial(prune_audit_events, factory, settings),
            ),
            Job(
                HANDOFF_CLEANUP_JOB,
                HANDOFF_CLEANUP_INTERVAL_SECONDS,
                partial(clean_up_handoff_codes, factory, app.state.handoffs),
            ),
        ],
    )
