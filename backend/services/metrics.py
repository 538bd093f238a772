"""Readings of the host, the API and the database, and the stored history of them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session
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
    return HostReading(
        cpu_percent=float(psutil.cpu_percent(interval=None)),
        memory_percent=read_host_memory(),
    )


def read_host_memory() -> float:
    """Memory in use, in percent."""
    return float(psutil.virtual_memory().percent)


def read_disk(path: Path) -> DiskReading:
    """Free space on the disk holding ``path`` (its nearest existing parent)."""
    while not path.exists() and path.parent != path:
        path = path.parent
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


def latest_sample(db: Session) -> MetricSample | None:
    return db.scalar(select(MetricSample).order_by(MetricSample.at.desc()).limit(1))


def samples_since(
    db: Session, since: datetime, *, cap: int = MAX_SAMPLES, bucket_seconds: float | None = None
) -> list[MetricSample]:
    """Samples taken at or after ``since``, oldest first, thinned to at most ``cap``.

    With ``bucket_seconds``, first one sample per time bucket of that length.
    """
    rows = list(
        db.scalars(
            select(MetricSample).where(MetricSample.at >= since).order_by(MetricSample.at.asc())
        )
    )
    if bucket_seconds is not None:
        rows = one_per_bucket(rows, bucket_seconds)
    return thin(rows, cap)


def thin(rows: list[T], cap: int) -> list[T]:
    """At most ``cap`` rows spread evenly over ``rows``, keeping the first and the last."""
    if len(rows) <= cap:
        return rows
    if cap <= 1:
        return rows[-1:]
    step = (len(rows) - 1) / (cap - 1)
    return [rows[round(i * step)] for i in range(cap)]


def one_per_bucket(rows: list[MetricSample], bucket_seconds: float) -> list[MetricSample]:
    """The newest sample in each time bucket, oldest bucket first.

    Buckets are aligned to the epoch, not to the request, so asking again a few seconds
    later returns the same samples plus new ones: a chart can keep the points it drew.
    """
    if bucket_seconds <= 0:
        return rows
    newest: dict[int, MetricSample] = {}
    for row in rows:
        newest[int(row.at.timestamp() // bucket_seconds)] = row
    return [newest[bucket] for bucket in sorted(newest)]
