"""Readings of the host, the API and the database, and the stored history of them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import BigInteger, ColumnElement, Float, delete, func, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from starlette.types import ASGIApp

from backend.core.config import API_PREFIX
from backend.core.guards import InProcessMark
from backend.models import MetricSample, utcnow

MAX_SAMPLES = 2000
"""The most samples one history answer carries; longer histories are thinned evenly."""
PROBE_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class HostReading:
    cpu_percent: float
    memory_percent: float


@dataclass(frozen=True)
class DiskReading:
    free_bytes: int
    total_bytes: int

    @property
    def free_percent(self) -> float:
        return 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0


def read_host() -> HostReading:
    """CPU use since the previous call (non-blocking) and memory in use, in percent."""
    # psutil is imported at the first sample, not with the API: the start does not wait.
    import psutil

    return HostReading(
        cpu_percent=float(psutil.cpu_percent(interval=None)),
        memory_percent=read_host_memory(),
    )


def read_host_memory() -> float:
    """Memory in use, in percent."""
    import psutil

    return float(psutil.virtual_memory().percent)


def read_disk(path: Path) -> DiskReading:
    """Free space on the disk holding ``path`` (its nearest existing parent)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    import psutil

    usage = psutil.disk_usage(str(path))
    return DiskReading(free_bytes=int(usage.free), total_bytes=int(usage.total))


async def measure_api_latency(app: ASGIApp) -> float | None:
    """Milliseconds for an in-process GET of the health endpoint; None if it did not answer 200."""
    transport = httpx.ASGITransport(app=InProcessMark(app))  # its Host is not on the allowlist
    async with httpx.AsyncClient(
        transport=transport, base_url="http://aegis.internal", timeout=PROBE_TIMEOUT_SECONDS
    ) as client:
        started = time.perf_counter()
        response = await client.get(f"{API_PREFIX}/health")
        elapsed = (time.perf_counter() - started) * 1000
    return round(elapsed, 2) if response.status_code == 200 else None


def measure_db_latency(db: Session) -> float:
    """Milliseconds for ``SELECT 1``; raises if the database cannot be reached."""
    started = time.perf_counter()
    db.execute(text("SELECT 1"))
    return round((time.perf_counter() - started) * 1000, 2)


def database_size(db: Session) -> int | None:
    """Bytes the database takes on disk: the SQLite file plus its WAL, or pg_database_size."""
    bind = db.get_bind()
    if bind.dialect.name == "postgresql":
        size = db.scalar(text("SELECT pg_database_size(current_database())"))
        return int(size) if size is not None else None
    if bind.dialect.name == "sqlite":
        database = bind.engine.url.database
        if not database or database == ":memory:":
            return None
        files = [Path(database + suffix) for suffix in ("", "-wal")]
        return sum(f.stat().st_size for f in files if f.exists())
    return None


def store_sample(
    db: Session,
    host: HostReading,
    *,
    api_latency_ms: float | None,
    retention: timedelta,
    instance: str | None = None,
    now: datetime | None = None,
) -> MetricSample:
    """Measure the database, save one sample and delete those past ``retention``; commits."""
    now = now or utcnow()
    sample = MetricSample(
        at=now,
        cpu_percent=host.cpu_percent,
        memory_percent=host.memory_percent,
        api_latency_ms=api_latency_ms,
        db_latency_ms=measure_db_latency(db),
        instance=instance,
    )
    db.add(sample)
    db.execute(delete(MetricSample).where(MetricSample.at < now - retention))
    db.commit()
    return sample


def latest_sample(db: Session, instance: str | None = None) -> MetricSample | None:
    """The newest sample, of ``instance`` if given."""
    query = select(MetricSample)
    if instance is not None:
        query = query.where(MetricSample.instance == instance)
    return db.scalar(query.order_by(MetricSample.at.desc()).limit(1))


# --- history, bucketed and thinned by the database -------------------------------------
#
# A day of samples is 17,280 rows per instance at the default 5 s interval. The history
# is therefore reduced in SQL, and Python only ever sees the rows it answers with.


class _EpochSeconds(FunctionElement[float]):
    """Seconds since 1970 of a DateTime column holding naive UTC (as ``UTCDateTime`` does)."""

    type = Float()
    inherit_cache = True


@compiles(_EpochSeconds, "sqlite")
def _epoch_on_sqlite(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the column as ISO text; julianday() reads it with its fraction of a
    # second (unixepoch(..., 'subsec') would too, but only from SQLite 3.42).
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(_EpochSeconds, "postgresql")
def _epoch_on_postgresql(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # For a timestamp without time zone this is the nominal seconds since 1970: UTC here.
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


class _FloorOfPositive(FunctionElement[int]):
    """The integer part of a positive number."""

    type = BigInteger()
    inherit_cache = True


@compiles(_FloorOfPositive, "sqlite")
def _floor_on_sqlite(element: _FloorOfPositive, compiler: SQLCompiler, **kw: Any) -> str:
    # CAST truncates, which is floor for positive numbers; SQLite's floor() exists only
    # when it was built with its math functions.
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


@compiles(_FloorOfPositive, "postgresql")
def _floor_on_postgresql(element: _FloorOfPositive, compiler: SQLCompiler, **kw: Any) -> str:
    # A bare CAST would round to nearest on PostgreSQL.
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS BIGINT)"


@dataclass(frozen=True)
class Point:
    """One point of a history: a sample, or the samples of one time bucket summed up."""

    at: datetime
    """The time of the (newest) sample it stands for."""
    cpu_percent: float
    memory_percent: float
    api_latency_ms: float | None
    db_latency_ms: float | None
    samples: int
    instance: str | None


@dataclass(frozen=True)
class Reporter:
    """An instance that took samples in a window."""

    instance: str
    last_at: datetime
    samples: int


def _of(instance: str | None) -> ColumnElement[bool]:
    return (
        MetricSample.instance.is_(None) if instance is None else MetricSample.instance == instance
    )


def bucket_start(moment: datetime, bucket_seconds: float) -> datetime:
    """The start of the epoch-aligned bucket holding ``moment``."""
    start = math.floor(moment.timestamp() / bucket_seconds) * bucket_seconds
    return datetime.fromtimestamp(start, UTC)


def history(
    db: Session,
    since: datetime,
    *,
    instance: str | None,
    bucket_seconds: float | None = None,
    cap: int = MAX_SAMPLES,
) -> list[Point]:
    """The samples of ``instance`` taken at or after ``since``, oldest first.

    With ``bucket_seconds``, one point per epoch-aligned bucket of that length (see
    :func:`bucketed`); without, the samples themselves, thinned evenly to at most ``cap``.
    """
    if bucket_seconds is not None and bucket_seconds > 0:
        return thin(bucketed(db, since, instance=instance, bucket_seconds=bucket_seconds), cap)
    return thinned(db, since, instance=instance, cap=cap)


def bucketed(
    db: Session, since: datetime, *, instance: str | None, bucket_seconds: float
) -> list[Point]:
    """One point per time bucket: CPU and memory averaged over the bucket, the latencies
    its worst (a slow answer must not be averaged away), at the time of its newest sample.

    Buckets are aligned to the epoch, not to the request, so asking again a few seconds
    later gives the same points plus new ones: a chart can keep the points it drew.
    """
    bucket = _FloorOfPositive(_EpochSeconds(MetricSample.at) / bucket_seconds)
    # Grouped through a subquery: PostgreSQL would not see the expression in GROUP BY as
    # the one in the select list, each having its own bound parameter.
    rows = (
        select(
            bucket.label("bucket"),
            MetricSample.at,
            MetricSample.cpu_percent,
            MetricSample.memory_percent,
            MetricSample.api_latency_ms,
            MetricSample.db_latency_ms,
        )
        .where(MetricSample.at >= since, _of(instance))
        .subquery()
    )
    query = (
        select(
            func.max(rows.c.at),
            func.avg(rows.c.cpu_percent),
            func.avg(rows.c.memory_percent),
            func.max(rows.c.api_latency_ms),
            func.max(rows.c.db_latency_ms),
            func.count(),
        )
        .group_by(rows.c.bucket)
        .order_by(rows.c.bucket)
    )
    return [
        Point(
            at=at,
            cpu_percent=float(cpu),
            memory_percent=float(memory),
            api_latency_ms=None if api is None else float(api),
            db_latency_ms=None if db_ms is None else float(db_ms),
            samples=int(count),
            instance=instance,
        )
        for at, cpu, memory, api, db_ms, count in db.execute(query)
    ]


def thinned(db: Session, since: datetime, *, instance: str | None, cap: int) -> list[Point]:
    """The samples themselves, at most ``cap`` of them spread evenly, first and last kept.

    Of the ``n`` samples numbered 0 … n-1, sample ``i`` is kept when ``i * (cap-1) //
    (n-1)`` steps up from sample ``i-1``: that value climbs from 0 to cap-1 by at most
    one per sample, so exactly ``cap`` samples are kept, evenly.
    """
    if cap < 2:
        raise ValueError("cap must be at least 2")
    numbered = select(
        MetricSample.at,
        MetricSample.cpu_percent,
        MetricSample.memory_percent,
        MetricSample.api_latency_ms,
        MetricSample.db_latency_ms,
        (func.row_number().over(order_by=(MetricSample.at, MetricSample.id)) - 1).label("i"),
        func.count().over().label("n"),
    ).where(MetricSample.at >= since, _of(instance))
    rows = numbered.subquery()
    step_up = (rows.c.i * (cap - 1)) // (rows.c.n - 1) > ((rows.c.i - 1) * (cap - 1)) // (
        rows.c.n - 1
    )
    query = (
        select(
            rows.c.at,
            rows.c.cpu_percent,
            rows.c.memory_percent,
            rows.c.api_latency_ms,
            rows.c.db_latency_ms,
        )
        .where(or_(rows.c.n <= cap, rows.c.i == 0, step_up))
        .order_by(rows.c.i)
    )
    return [
        Point(
            at=at,
            cpu_percent=cpu,
            memory_percent=memory,
            api_latency_ms=api,
            db_latency_ms=db_ms,
            samples=1,
            instance=instance,
        )
        for at, cpu, memory, api, db_ms in db.execute(query)
    ]


def reporters(db: Session, since: datetime) -> list[Reporter]:
    """Every instance that took a sample at or after ``since``, by name."""
    query = (
        select(MetricSample.instance, func.max(MetricSample.at), func.count())
        .where(MetricSample.at >= since, MetricSample.instance.is_not(None))
        .group_by(MetricSample.instance)
        .order_by(MetricSample.instance)
    )
    return [
        Reporter(instance=str(name), last_at=last_at, samples=int(count))
        for name, last_at, count in db.execute(query)
    ]


def instance_host(instance: str | None) -> str | None:
    """The host name in an instance id (``host:pid:random``, see ``new_instance_id``)."""
    if not instance:
        return None
    parts = instance.rsplit(":", 2)
    return parts[0] if len(parts) == 3 else None


def thin(rows: list[T], cap: int) -> list[T]:
    """At most ``cap`` rows spread evenly over ``rows``, keeping the first and the last."""
    if len(rows) <= cap:
        return rows
    if cap <= 1:
        return rows[-1:]
    step = (len(rows) - 1) / (cap - 1)
    return [rows[round(i * step)] for i in range(cap)]
