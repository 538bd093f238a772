"""System status, metric history, the scheduler, and the status thresholds (pure)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select

from backend.core.config import Settings
from backend.main import create_api
from backend.models import AuditEvent, MetricSample, ThrottleCounter, utcnow
from backend.services import metrics
from backend.services import scheduler as scheduler_module
from backend.services import status as judge
from backend.services.scheduler import (
    AUDIT_RETENTION_JOB,
    HANDOFF_CLEANUP_JOB,
    METRICS_JOB,
    SESSION_CLEANUP_JOB,
    THROTTLE_CLEANUP_JOB,
    Job,
    Scheduler,
)
from tests.backend.api_helpers import API, Api, MakeApi
from tests.backend.dashboard_helpers import ADMIN, admin_and_viewer, detail
from tests.waiting import wait_for

STATUS = f"{API}/system/status"
METRICS = f"{API}/system/metrics"
GB = 1024**3


def sample_count(api: Api) -> int:
    with api.db() as db:
        return int(db.scalar(select(func.count()).select_from(MetricSample)) or 0)


def add_samples(api: Api, ages: list[timedelta], instance: str | None = None) -> None:
    """Samples taken ``ages`` ago, by ``instance`` (by default the app's own)."""
    now = utcnow()
    with api.db() as db:
        db.add_all(
            MetricSample(
                at=now - age,
                cpu_percent=10.0,
                memory_percent=20.0,
                api_latency_ms=1.0,
                db_latency_ms=0.5,
                instance=instance or api.app.state.instance_id,
            )
            for age in ages
        )
        db.commit()


def scheduler_of(app: FastAPI) -> Scheduler:
    scheduler: Scheduler = app.state.scheduler
    return scheduler


# --- the endpoints -------------------------------------------------------------------


async def test_status_for_any_signed_in_user(api: Api) -> None:
    _, viewer = await admin_and_viewer(api)
    response = await viewer.get(STATUS)
    assert response.status_code == 200
    body = response.json()
    assert body["overall"] in ("healthy", "degraded", "down")
    assert body["checked_at"].endswith("Z")
    components = {c["key"]: c for c in body["components"]}
    assert list(components) == ["api", "database", "scheduler", "host"]
    assert [c["name"] for c in body["components"]] == ["API", "Database", "Scheduler", "Host"]
    for component in body["components"]:
        assert component["status"] in ("healthy", "degraded", "down")
        assert component["reason"].endswith("."), component
        assert all(set(f) == {"label", "value"} for f in component["facts"])
    # Healthy or slow by the measured figure (a loaded machine is slow; the thresholds
    # themselves are in test_status_thresholds.py), never a timing assertion here.
    api_part = components["api"]
    response_ms = api_part["metrics"]["response_ms"]
    assert response_ms > 0
    assert api_part["status"] == ("degraded" if response_ms > judge.API_DEGRADED_MS else "healthy")
    assert api_part["facts"][0]["label"] == "Response time"
    database = components["database"]
    latency_ms = database["metrics"]["latency_ms"]
    assert latency_ms >= 0
    assert database["status"] == ("degraded" if latency_ms > judge.DB_DEGRADED_MS else "healthy")
    assert database["metrics"]["size_bytes"] > 0
    host = components["host"]["metrics"]
    assert set(host) == {"cpu_percent", "memory_percent", "disk_free_bytes", "disk_free_percent"}
    assert 0 <= host["disk_free_percent"] <= 100
    jobs = components["scheduler"]["jobs"]
    assert [j["name"] for j in jobs] == [
        METRICS_JOB,
        SESSION_CLEANUP_JOB,
        THROTTLE_CLEANUP_JOB,
        AUDIT_RETENTION_JOB,
        HANDOFF_CLEANUP_JOB,
    ]
    assert [j["interval_seconds"] for j in jobs] == [5, 600, 60, 3600, 60]
    for job in jobs:
        assert set(job) >= {"name", "interval_seconds", "last_run_at", "last_outcome", "last_error"}
    overall = judge.worst([c["status"] for c in body["components"]])
    assert body["overall"] == overall


async def test_status_and_metrics_need_a_session(api: Api) -> None:
    stranger = await api.client()
    assert (await stranger.get(STATUS)).status_code == 401
    assert (await stranger.get(METRICS)).status_code == 401


async def test_status_shows_a_failed_job(api: Api) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    job = scheduler_of(api.app).job(SESSION_CLEANUP_JOB)
    # Its first run at start would overwrite the outcome set here (it runs every 600 s).
    await wait_for(lambda: job.runs >= 1, what=f"a run of {job.name}")
    job.last_outcome, job.last_error = "failed", "OperationalError: database is locked"
    body = (await client.get(STATUS)).json()
    scheduler = next(c for c in body["components"] if c["key"] == "scheduler")
    assert scheduler["status"] == "degraded"
    assert "database is locked" in scheduler["reason"]
    assert body["overall"] in ("degraded", "down")


async def test_status_reads_the_latest_sample_and_says_when_there_is_none(
    make_api: MakeApi,
) -> None:
    api = await make_api(metrics_interval_seconds=3600)
    client, _ = await api.signed_in(ADMIN, register=True)
    await wait_for(
        lambda: scheduler_of(api.app).job(METRICS_JOB).runs >= 1, what="a metrics sample"
    )
    with api.db() as db:
        db.add(
            MetricSample(
                at=utcnow(),
                cpu_percent=97.0,
                memory_percent=20.0,
                api_latency_ms=400.0,
                db_latency_ms=0.5,
                instance=api.app.state.instance_id,
            )
        )
        db.commit()
    body = (await client.get(STATUS)).json()
    parts = {c["key"]: c for c in body["components"]}
    assert parts["api"]["status"] == "degraded"
    assert parts["api"]["metrics"]["response_ms"] == 400.0
    assert parts["host"]["metrics"]["cpu_percent"] == 97.0
    assert "CPU busy: 97 %" in parts["host"]["reason"]
    assert body["overall"] != "healthy"
    with api.db() as db:
        db.execute(delete(MetricSample))
        db.commit()
    unmeasured = {c["key"]: c for c in (await client.get(STATUS)).json()["components"]}
    assert unmeasured["api"]["status"] == "degraded"
    assert unmeasured["api"]["reason"].startswith("Not measured in the last")
    assert unmeasured["api"]["metrics"]["response_ms"] is None


async def test_metrics_history_oldest_first_within_the_window(api: Api) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    await wait_for(
        lambda: scheduler_of(api.app).job(METRICS_JOB).runs >= 1, what="a metrics sample"
    )
    add_samples(api, [timedelta(minutes=m) for m in (90, 50, 30, 10)])
    body = (await client.get(METRICS, params={"minutes": 60})).json()
    assert body["interval_seconds"] == 5 and body["retention_hours"] == 24
    samples = body["samples"]
    ats = [s["at"] for s in samples]
    assert ats == sorted(ats)
    assert len(samples) >= 4  # 50, 30, 10 minutes ago and the scheduler's own
    assert set(samples[0]) == {
        "at",
        "cpu_percent",
        "memory_percent",
        "api_latency_ms",
        "db_latency_ms",
        "samples",
        "instance",
    }
    default = (await client.get(METRICS)).json()
    assert len(default["samples"]) == len(samples)
    wider = (await client.get(METRICS, params={"minutes": 120})).json()
    assert len(wider["samples"]) == len(samples) + 1


async def test_metrics_history_is_thinned_to_a_cap(api: Api) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    add_samples(api, [timedelta(seconds=s) for s in range(1, 3001)])
    samples = (await client.get(METRICS, params={"minutes": 1440})).json()["samples"]
    assert len(samples) == metrics.MAX_SAMPLES
    ats = [s["at"] for s in samples]
    assert ats == sorted(ats) and len(set(ats)) == len(ats)


@pytest.mark.parametrize("minutes", ["0", "1441", "-5", "an hour"])
async def test_metrics_window_is_validated(api: Api, minutes: str) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    response = await client.get(METRICS, params={"minutes": minutes})
    assert response.status_code == 422
    assert detail(response).startswith("Invalid request: minutes:")


def test_thin_keeps_the_ends_and_spreads_evenly() -> None:
    rows = list(range(10_000))
    thinned = metrics.thin(rows, 2000)
    assert len(thinned) == 2000 and thinned[0] == 0 and thinned[-1] == 9999
    gaps = {b - a for a, b in itertools.pairwise(thinned)}
    assert gaps <= {4, 5, 6}
    assert metrics.thin(rows[:5], 2000) == rows[:5]


# --- the scheduler -------------------------------------------------------------------


def job_tasks() -> list[asyncio.Task[object]]:
    """The scheduler's job tasks still alive on this loop (named by ``Scheduler.run``)."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("aegis job: ")]


async def test_the_scheduler_runs_in_the_lifespan_and_stops_at_shutdown(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", allowed_hosts="testserver")
    app = create_api(settings)
    async with app.router.lifespan_context(app):
        scheduler = scheduler_of(app)
        await wait_for(lambda: all(job.runs >= 1 for job in scheduler.jobs), what="every job's run")
        assert scheduler.running
        assert all(job.last_outcome == "ok" for job in scheduler.jobs), [
            job.last_error for job in scheduler.jobs
        ]
        with app.state.session_factory() as db:
            sample = metrics.latest_sample(db)
        assert sample is not None
        assert sample.api_latency_ms is not None and sample.api_latency_ms > 0
        assert sample.db_latency_ms is not None
    assert not scheduler.running
    assert job_tasks() == [], "the jobs' tasks ended, not just left behind"


async def test_metric_sampling_once_adds_a_row_and_drops_old_ones(make_api: MakeApi) -> None:
    api = await make_api(metrics_retention_hours=2)
    scheduler = scheduler_of(api.app)
    job = scheduler.job(METRICS_JOB)
    await wait_for(lambda: job.runs >= 1, what=f"a run of {job.name}")
    add_samples(api, [timedelta(hours=3), timedelta(hours=2, minutes=1), timedelta(hours=1)])
    before = sample_count(api)
    runs = job.runs
    await scheduler.run_once(job)
    assert job.runs == runs + 1
    assert job.last_outcome == "ok" and job.last_error is None
    assert job.last_run_at is not None and utcnow() - job.last_run_at < timedelta(seconds=5)
    with api.db() as db:
        ages = [utcnow() - at for at in db.scalars(select(MetricSample.at))]
    assert all(age < timedelta(hours=2) for age in ages)
    # Two old ones gone, one new one in (the background loop may add one more).
    assert sample_count(api) in (before - 1, before)


async def test_session_clean_up_job_deletes_expired_sessions(api: Api) -> None:
    _, token = await api.signed_in(ADMIN, register=True)
    _, other = await api.signed_in(ADMIN)
    api.update_sign_in_session(token, expires_at=utcnow() - timedelta(seconds=1))
    scheduler = scheduler_of(api.app)
    await scheduler.run_once(scheduler.job(SESSION_CLEANUP_JOB))
    assert api.sign_in_session_row(token) is None
    assert api.sign_in_session_row(other) is not None


async def test_throttle_clean_up_job_deletes_ended_windows(api: Api) -> None:
    now = utcnow()
    with api.db() as db:
        db.add(ThrottleCounter(key="ip:ended", window_ends_at=now, attempts=9))
        db.add(ThrottleCounter(key="ip:live", window_ends_at=now + timedelta(60), attempts=1))
        db.commit()
    scheduler = scheduler_of(api.app)
    await scheduler.run_once(scheduler.job(THROTTLE_CLEANUP_JOB))
    with api.db() as db:
        assert list(db.scalars(select(ThrottleCounter.key))) == ["ip:live"]


async def test_audit_retention_job_deletes_only_old_events(make_api: MakeApi) -> None:
    api = await make_api(audit_retention_days=30)
    await api.signed_in(ADMIN, register=True)
    now = utcnow()
    with api.db() as db:
        for days in (31, 29):
            db.add(AuditEvent(at=now - timedelta(days=days), kind="sign_in", detail=f"{days}"))
        db.commit()
    scheduler = scheduler_of(api.app)
    assert scheduler.job(AUDIT_RETENTION_JOB).interval_seconds == 3600
    await scheduler.run_once(scheduler.job(AUDIT_RETENTION_JOB))
    assert scheduler.job(AUDIT_RETENTION_JOB).last_outcome == "ok"
    with api.db() as db:
        kept = sorted(e.detail for e in db.scalars(select(AuditEvent)))
    assert kept == ["29", "Signed up as admin."]


async def test_a_failing_job_is_recorded_and_the_scheduler_keeps_going() -> None:
    calls = {"bad": 0, "good": 0}

    async def bad() -> None:
        calls["bad"] += 1
        if calls["bad"] < 3:
            raise RuntimeError("the disk is on fire")
        if calls["bad"] == 3:
            raise ValueError()

    async def good() -> None:
        calls["good"] += 1

    scheduler = Scheduler(jobs=[Job("bad", 0.01, bad), Job("good", 0.01, good)])
    bad_job, good_job = scheduler.jobs
    async with scheduler.run():
        await wait_for(lambda: bad_job.runs >= 1 and good_job.runs >= 1, what="a run of each job")
        assert bad_job.last_outcome == "failed"
        assert bad_job.last_error == "RuntimeError: the disk is on fire"
        await wait_for(lambda: bad_job.runs >= 3, what="the failing job's third run")
        assert scheduler.running
        await wait_for(lambda: bad_job.runs >= 4, what="the failing job's fourth run")
        assert good_job.last_outcome == "ok" and good_job.runs >= 2
    # `running` is False after any exit (the task list is emptied): the tasks themselves
    # must have ended.
    assert job_tasks() == []
    assert bad_job.last_outcome == "ok" and bad_job.last_error is None


async def test_shutdown_lets_a_running_job_finish() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(0.2)  # the slow job under test, not a wait for something
        finished.set()

    job = Job("slow", 60, slow)
    scheduler = Scheduler(jobs=[job])
    async with scheduler.run():
        await started.wait()
    assert finished.is_set()
    assert (job.last_outcome, job.runs) == ("ok", 1)


async def test_shutdown_cancels_a_job_that_overstays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "SHUTDOWN_GRACE_SECONDS", 0.05)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def stuck() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)  # the job that never ends, under test
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler = Scheduler(jobs=[Job("stuck", 60, stuck)])

    async def run_then_leave() -> None:
        async with scheduler.run():
            await started.wait()

    # The block is left in a task of its own, so that nothing but the scheduler can cancel
    # the job (`scheduler.running` is False after any exit: its task list is emptied).
    leaving = asyncio.create_task(run_then_leave())
    try:
        # Not a timing assertion: without the cancel, the job would run for its hour.
        await asyncio.wait_for(cancelled.wait(), 30)
        await leaving
    finally:
        leaving.cancel()


async def test_run_once_describes_an_error_without_a_message() -> None:
    async def broken() -> None:
        raise KeyError

    job = Job("broken", 60, broken)
    await Scheduler(jobs=[job]).run_once(job)
    assert (job.last_outcome, job.last_error, job.runs) == ("failed", "KeyError (no message)", 1)


async def test_metrics_points_keeps_one_sample_per_time_bucket(api: Api) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    await wait_for(
        lambda: scheduler_of(api.app).job(METRICS_JOB).runs >= 1, what="a metrics sample"
    )
    add_samples(api, [timedelta(seconds=s) for s in range(5, 3600, 5)])  # an hour, every 5 s
    first = (await client.get(METRICS, params={"minutes": 60, "points": 120})).json()["samples"]
    assert 110 <= len(first) <= 122, "about one per 30-second bucket"
    again = (await client.get(METRICS, params={"minutes": 60, "points": 120})).json()["samples"]
    shared = {s["at"] for s in first} & {s["at"] for s in again}
    assert len(shared) >= len(first) - 2, "the same buckets pick the same samples"
    bad = await client.get(METRICS, params={"points": 3})
    assert bad.status_code == 422 and "points" in bad.json()["detail"]
