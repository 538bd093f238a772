"""System status and metric history, for any signed-in user."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from backend.api.bounds import KeyText
from backend.api.deps import CurrentUser, DbSession, SettingsDep
from backend.api.problems import SIGNED_IN
from backend.api.schemas import InstanceReport, MetricSampleOut, MetricsOut
from backend.core.config import Settings
from backend.models import MetricSample, utcnow
from backend.services import metrics
from backend.services import status as judge
from backend.services.scheduler import Scheduler, describe_error

router = APIRouter(prefix="/system", tags=["system"], responses=SIGNED_IN)


NO_200 = "it did not answer 200"


def _fresh_sample(db: Session, settings: Settings, instance: str) -> MetricSample | None:
    """A sample recent enough to stand for "now": this instance's own if it has one,
    else (its sampler has not run yet, or another instance holds the sampling) the
    newest of any instance, which the API component then names."""
    fresh = timedelta(seconds=settings.metrics_interval_seconds * judge.JOB_OVERDUE_INTERVALS)
    try:
        for whose in (instance, None):
            latest = metrics.latest_sample(db, whose)
            if latest is not None and utcnow() - latest.at <= fresh:
                return latest
    except Exception:
        db.rollback()
    return None


def _api(sample: MetricSample | None, settings: Settings) -> judge.Component:
    # Only the scheduler probes the API. Probing from here would hold this worker thread
    # while the probe waits for another one: under load every thread ends up waiting.
    if sample is None:
        return judge.api_unmeasured(settings.metrics_interval_seconds * judge.JOB_OVERDUE_INTERVALS)
    latency = sample.api_latency_ms
    component = judge.api_component(latency, None if latency is not None else NO_200)
    if sample.instance:  # whose probe: another instance's when this one has not sampled lately
        component.facts.append(judge.Fact(label="Measured by", value=sample.instance))
    return component


def _database(db: Session) -> judge.Component:
    dialect = db.get_bind().dialect.name
    try:
        latency = metrics.measure_db_latency(db)
        size = metrics.database_size(db)
    except Exception as exc:
        db.rollback()
        return judge.database_component(None, None, dialect=dialect, error=describe_error(exc))
    return judge.database_component(latency, size, dialect=dialect)


def _scheduler(scheduler: Scheduler | None) -> judge.Component:
    now = utcnow()
    if scheduler is None:
        return judge.scheduler_component([], started_at=None, running=False, now=now)
    return judge.scheduler_component(
        scheduler.jobs, started_at=scheduler.started_at, running=scheduler.running, now=now
    )


def _host(settings: Settings, sample: MetricSample | None, instance: str) -> judge.Component:
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
    request: Request, user: CurrentUser, db: DbSession, settings: SettingsDep
) -> judge.SystemStatus:
    return build_status(
        db, settings, request.app.state.instance_id, getattr(request.app.state, "scheduler", None)
    )


def build_status(
    db: Session, settings: Settings, instance: str, scheduler: Scheduler | None
) -> judge.SystemStatus:
    """The status as this instance sees it now (the route's answer and the live feed's)."""
    sample = _fresh_sample(db, settings, instance)
    components = [
        _api(sample, settings),
        _database(db),
        _scheduler(scheduler),
        _host(settings, sample, instance),
    ]
    answer = judge.system_status(components, utcnow())
    answer.instance = instance
    answer.host = metrics.instance_host(instance)
    return answer


@router.get("/metrics")
def metric_history(
    request: Request,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
    minutes: Annotated[int, Query(ge=1, le=1440, description="How far back, 1 to 1440.")] = 60,
    points: Annotated[
        int | None,
        Query(
            ge=10,
            le=2000,
            description=(
                "Bucket the window into this many equal time buckets, one point each; "
                "without it, the samples themselves (at most 2000, evenly thinned)."
            ),
        ),
    ] = None,
    instance: Annotated[
        KeyText | None,
        Query(
            description=(
                "Whose samples: an instance id from `instances`. By default the instance "
                "answering, or if it took none in the window, the one that sampled last."
            )
        ),
    ] = None,
) -> MetricsOut:
    return build_metrics(
        db,
        settings,
        answering=request.app.state.instance_id,
        minutes=minutes,
        points=points,
        instance=instance,
    )


def build_metrics(
    db: Session,
    settings: Settings,
    *,
    answering: str,
    minutes: int,
    points: int | None,
    instance: str | None,
) -> MetricsOut:
    """The last ``minutes`` of one instance's samples, bucketed into ``points``."""
    window_start = utcnow() - timedelta(minutes=minutes)
    # Fixed by the request, not by the clock: the same buckets on every refresh.
    bucket_seconds = minutes * 60 / points if points else None
    if bucket_seconds is not None:
        # Start at a bucket's edge, so the oldest point is a whole bucket, not a shrinking one.
        window_start = metrics.bucket_start(window_start, bucket_seconds)
    reporting = metrics.reporters(db, window_start)
    whose = instance or _default_instance(reporting, answering)
    series = metrics.history(db, window_start, instance=whose, bucket_seconds=bucket_seconds)
    return MetricsOut(
        interval_seconds=settings.metrics_interval_seconds,
        retention_hours=settings.metrics_retention_hours,
        bucket_seconds=bucket_seconds,
        samples=[MetricSampleOut.model_validate(point) for point in series],
        instance=whose,
        host=metrics.instance_host(whose),
        answered_by=answering,
        instances=[r.instance for r in reporting],
        reporting=[
            InstanceReport(
                instance=r.instance,
                host=metrics.instance_host(r.instance),
                last_sample_at=r.last_at,
                samples=r.samples,
            )
            for r in reporting
        ],
    )


def _default_instance(reporting: list[metrics.Reporter], answering: str) -> str:
    """The answering instance, unless it took no sample in the window and another did
    (it has just started, say): then the one that sampled last, rather than no figures."""
    if not reporting or any(r.instance == answering for r in reporting):
        return answering
    return max(reporting, key=lambda r: r.last_at).instance
