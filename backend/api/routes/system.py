"""System status and metric history, for any signed-in user."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from backend.api.deps import CurrentUser, SessionDep, SettingsDep
from backend.api.problems import SIGNED_IN
from backend.api.schemas import MetricSampleOut, MetricsOut
from backend.models import MetricSample, utcnow
from backend.services import metrics
from backend.services import status as judge
from backend.services.scheduler import Scheduler, describe_error

router = APIRouter(prefix="/system", tags=["system"], responses=SIGNED_IN)


NO_200 = "it did not answer 200"


def _fresh_sample(db: SessionDep, settings: SettingsDep) -> MetricSample | None:
    """The scheduler's latest sample, if it is recent enough to stand for "now"."""
    try:
        latest = metrics.latest_sample(db)
    except Exception:
        db.rollback()
        return None
    fresh = timedelta(seconds=settings.metrics_interval_seconds * judge.JOB_OVERDUE_INTERVALS)
    return latest if latest is not None and utcnow() - latest.at <= fresh else None


def _api(sample: MetricSample | None, settings: SettingsDep) -> judge.Component:
    # Only the scheduler probes the API. Probing from here would hold this worker thread
    # while the probe waits for another one: under load every thread ends up waiting.
    if sample is None:
        return judge.api_unmeasured(settings.metrics_interval_seconds * judge.JOB_OVERDUE_INTERVALS)
    latency = sample.api_latency_ms
    component = judge.api_component(latency, None if latency is not None else NO_200)
    if sample.instance:  # several instances take turns sampling: say whose probe this was
        component.facts.append(judge.Fact(label="Measured by", value=sample.instance))
    return component


def _database(db: SessionDep) -> judge.Component:
    dialect = db.get_bind().dialect.name
    try:
        latency = metrics.measure_db_latency(db)
        size = metrics.database_size(db)
    except Exception as exc:
        db.rollback()
        return judge.database_component(None, None, dialect=dialect, error=describe_error(exc))
    return judge.database_component(latency, size, dialect=dialect)


def _scheduler(request: Request) -> judge.Component:
    scheduler: Scheduler | None = getattr(request.app.state, "scheduler", None)
    now = utcnow()
    if scheduler is None:
        return judge.scheduler_component([], started_at=None, running=False, now=now)
    return judge.scheduler_component(
        scheduler.jobs, started_at=scheduler.started_at, running=scheduler.running, now=now
    )


def _host(settings: SettingsDep, sample: MetricSample | None, instance: str) -> judge.Component:
    # Prefer the scheduler's CPU figure: it covers a whole interval, a fresh call does not.
    # But only this instance's own: memory and disk are read here, and one component
    # must not mix two hosts' figures.
    own = sample is not None and sample.instance == instance
    cpu = sample.cpu_percent if sample is not None and own else metrics.read_host().cpu_percent
    reading = metrics.HostReading(cpu_percent=cpu, memory_percent=metrics.read_host_memory())
    component = judge.host_component(reading, metrics.read_disk(settings.resolved_data_dir))
    component.facts.append(judge.Fact(label="Instance", value=instance))
    return component


@router.get("/status")
def system_status(
    request: Request, user: CurrentUser, db: SessionDep, settings: SettingsDep
) -> judge.SystemStatus:
    instance: str = request.app.state.instance_id
    sample = _fresh_sample(db, settings)
    components = [
        _api(sample, settings),
        _database(db),
        _scheduler(request),
        _host(settings, sample, instance),
    ]
    answer = judge.system_status(components, utcnow())
    answer.instance = instance
    return answer


@router.get("/metrics")
def metric_history(
    user: CurrentUser,
    db: SessionDep,
    settings: SettingsDep,
    minutes: Annotated[int, Query(ge=1, le=1440, description="How far back, 1 to 1440.")] = 60,
    points: Annotated[
        int | None,
        Query(ge=10, le=2000, description="At most one sample per 1/points of the window."),
    ] = None,
) -> MetricsOut:
    samples = metrics.samples_since(
        db,
        utcnow() - timedelta(minutes=minutes),
        # Fixed by the request, not by the clock: the same buckets on every refresh.
        bucket_seconds=minutes * 60 / points if points else None,
    )
    return MetricsOut(
        interval_seconds=settings.metrics_interval_seconds,
        retention_hours=settings.metrics_retention_hours,
        samples=[MetricSampleOut.model_validate(s) for s in samples],
        instance=samples[-1].instance if samples else None,
        instances=list(dict.fromkeys(s.instance for s in samples if s.instance)),
    )
