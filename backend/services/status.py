"""System status: readings turned into healthy/degraded/down with a reason in words.

Everything here is pure: the route takes the readings, these functions judge them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from backend.services.metrics import DiskReading, HostReading
from backend.services.scheduler import Job

Status = Literal["healthy", "degraded", "down"]
_SEVERITY: dict[str, int] = {"healthy": 0, "degraded": 1, "down": 2}

API_DEGRADED_MS = 250.0
"""The in-process health check taking longer than this makes the API "degraded"."""
DB_DEGRADED_MS = 100.0
"""``SELECT 1`` taking longer than this makes the database "degraded" (failing: "down")."""
JOB_OVERDUE_INTERVALS = 3
"""A job not run for this many of its intervals is overdue: the scheduler is "degraded"."""
CPU_DEGRADED_PERCENT = 90.0
MEMORY_DEGRADED_PERCENT = 90.0
DISK_DEGRADED_FREE_PERCENT = 10.0
DISK_DOWN_FREE_PERCENT = 2.0


class Fact(BaseModel):
    label: str
    value: str


class JobOut(BaseModel):
    name: str
    interval_seconds: int | float
    last_run_at: datetime | None
    last_outcome: str
    last_error: str | None
    last_run_by: str | None = None
    """The instance that ran it last: this one or another sharing the database."""
    runs: int


class Component(BaseModel):
    key: str
    name: str
    status: Status
    reason: str
    facts: list[Fact] = Field(default_factory=list)
    metrics: dict[str, float | int | None] = Field(default_factory=dict)
    jobs: list[JobOut] = Field(default_factory=list)


class SystemStatus(BaseModel):
    overall: Status
    checked_at: datetime
    components: list[Component]
    instance: str | None = None
    """The instance that answered and that this describes: the host figures (CPU,
    memory, disk) and the scheduler are its own; the jobs name the instance that last
    ran each (they run once per period across instances)."""
    host: str | None = None
    """The host name in ``instance``."""


def format_ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def format_bytes(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def worst(statuses: Sequence[Status]) -> Status:
    return max(statuses, key=lambda s: _SEVERITY[s], default="healthy")


def api_component(response_ms: float | None, error: str | None = None) -> Component:
    if response_ms is None:
        why = f": {error}" if error else ""
        return Component(
            key="api",
            name="API",
            status="down",
            reason=f"The API did not answer its health check{why}.",
            facts=[Fact(label="Response time", value="no answer")],
            metrics={"response_ms": None},
        )
    shown = format_ms(response_ms)
    status: Status = "degraded" if response_ms > API_DEGRADED_MS else "healthy"
    reason = (
        f"Slow: responding in {shown} (over {format_ms(API_DEGRADED_MS)})."
        if status == "degraded"
        else f"Responding in {shown}."
    )
    return Component(
        key="api",
        name="API",
        status=status,
        reason=reason,
        facts=[Fact(label="Response time", value=shown)],
        metrics={"response_ms": response_ms},
    )


def api_unmeasured(window_seconds: float) -> Component:
    return Component(
        key="api",
        name="API",
        status="degraded",
        reason=(
            f"Not measured in the last {window_seconds:.0f} s: the metric sampler has not run."
        ),
        facts=[Fact(label="Response time", value="not measured")],
        metrics={"response_ms": None},
    )


def database_component(
    latency_ms: float | None, size_bytes: int | None, *, dialect: str, error: str | None = None
) -> Component:
    engine_name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(dialect, dialect)
    facts = [Fact(label="Engine", value=engine_name)]
    if size_bytes is not None:
        facts.append(Fact(label="Size", value=format_bytes(size_bytes)))
    if latency_ms is None:
        return Component(
            key="database",
            name="Database",
            status="down",
            reason=f"The database cannot be reached: {error or 'the query failed'}.",
            facts=[*facts, Fact(label="Query time", value="failed")],
            metrics={"latency_ms": None, "size_bytes": size_bytes},
        )
    shown = format_ms(latency_ms)
    status: Status = "degraded" if latency_ms > DB_DEGRADED_MS else "healthy"
    reason = (
        f"Slow: a trivial query took {shown} (over {format_ms(DB_DEGRADED_MS)})."
        if status == "degraded"
        else f"Answering in {shown}."
    )
    return Component(
        key="database",
        name="Database",
        status=status,
        reason=reason,
        facts=[*facts, Fact(label="Query time", value=shown)],
        metrics={"latency_ms": latency_ms, "size_bytes": size_bytes},
    )


def _job_out(job: Job) -> JobOut:
    return JobOut(
        name=job.name,
        interval_seconds=job.interval_seconds,
        last_run_at=job.last_run_at,
        last_outcome=job.last_outcome,
        last_error=job.last_error,
        last_run_by=job.last_run_by,
        runs=job.runs,
    )


def _overdue_for(job: Job, started_at: datetime | None, now: datetime) -> float | None:
    """Seconds since the job last ran (or the scheduler started), if that is overdue."""
    since = job.last_run_at or started_at
    if since is None:
        return None
    waited = (now - since).total_seconds()
    return waited if waited > JOB_OVERDUE_INTERVALS * job.interval_seconds else None


def scheduler_component(
    jobs: Sequence[Job], *, started_at: datetime | None, running: bool, now: datetime
) -> Component:
    outs = [_job_out(job) for job in jobs]
    facts = [Fact(label="Jobs", value=str(len(jobs)))]
    problems: list[str] = []
    for job in jobs:
        if job.last_outcome == "failed":
            problems.append(f"“{job.name}” failed last time: {job.last_error or 'no details'}.")
        overdue = _overdue_for(job, started_at, now)
        if overdue is not None:
            when = "has not run yet" if job.last_run_at is None else "is overdue"
            problems.append(
                f"“{job.name}” {when}: {format_seconds(overdue)} since "
                f"{'start' if job.last_run_at is None else 'its last run'}, "
                f"every {format_seconds(job.interval_seconds)} expected."
            )
    status: Status
    if not running:
        status, reason = "down", "The scheduler is not running, so no background jobs run."
    elif problems:
        status, reason = "degraded", " ".join(problems)
    else:
        status = "healthy"
        reason = f"All {len(jobs)} jobs ran on time." if len(jobs) != 1 else "The job ran on time."
    failed = sum(job.last_outcome == "failed" for job in jobs)
    return Component(
        key="scheduler",
        name="Scheduler",
        status=status,
        reason=reason,
        facts=[*facts, Fact(label="Failing", value=str(failed))],
        metrics={"jobs": len(jobs), "failed_jobs": failed},
        jobs=outs,
    )


def host_component(host: HostReading, disk: DiskReading) -> Component:
    free, free_pct = format_bytes(disk.free_bytes), disk.free_percent
    facts = [
        Fact(label="CPU", value=f"{host.cpu_percent:.0f} %"),
        Fact(label="Memory", value=f"{host.memory_percent:.0f} %"),
        Fact(label="Disk free", value=f"{free} ({free_pct:.0f} %)"),
    ]
    problems: list[str] = []
    status: Status = "healthy"
    if free_pct < DISK_DOWN_FREE_PERCENT:
        status = "down"
        problems.append(f"Disk full: {free} free ({free_pct:.0f} %).")
    elif free_pct < DISK_DEGRADED_FREE_PERCENT:
        status = "degraded"
        problems.append(f"Disk almost full: {free} free ({free_pct:.0f} %).")
    if host.cpu_percent > CPU_DEGRADED_PERCENT:
        status = worst([status, "degraded"])
        problems.append(f"CPU busy: {host.cpu_percent:.0f} % in use.")
    if host.memory_percent > MEMORY_DEGRADED_PERCENT:
        status = worst([status, "degraded"])
        problems.append(f"Memory nearly full: {host.memory_percent:.0f} % in use.")
    reason = (
        " ".join(problems)
        if problems
        else (
            f"CPU {host.cpu_percent:.0f} %, memory {host.memory_percent:.0f} %, "
            f"{free} free on disk ({free_pct:.0f} %)."
        )
    )
    return Component(
        key="host",
        name="Host",
        status=status,
        reason=reason,
        facts=facts,
        metrics={
            "cpu_percent": host.cpu_percent,
            "memory_percent": host.memory_percent,
            "disk_free_bytes": disk.free_bytes,
            "disk_free_percent": round(free_pct, 2),
        },
    )


def system_status(components: list[Component], now: datetime) -> SystemStatus:
    return SystemStatus(
        overall=worst([c.status for c in components]), checked_at=now, components=components
    )
