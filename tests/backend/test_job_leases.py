"""Scheduled jobs run once per period across instances; figures say whose they are.

The two-instance test drives two schedulers' ``tick`` directly with one injected clock,
on one real database (SQLite file or PostgreSQL), instead of waiting on real periods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from backend.core.db import make_engine, migrate, session_factory
from backend.services.job_leases import JobLeases, new_instance_id
from backend.services.scheduler import METRICS_JOB, Job, Scheduler
from tests.backend.api_helpers import API, Api, FakeClock
from tests.waiting import wait_for

PERIODS = 20
INTERVAL = 60.0
ADMIN = "admin@example.com"


@pytest.fixture
def migrated_url(database_url: str) -> Iterator[str]:
    url = database_url
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def leases(url: str, name: str, clock: FakeClock, engines: list[Engine]) -> JobLeases:
    """One "process"'s lease client: its own engine on the shared database."""
    engines.append(make_engine(url))
    return JobLeases(session_factory(engines[-1]), name, clock=clock.utcnow)


def instance(
    url: str, name: str, clock: FakeClock, runs: list[str], engines: list[Engine]
) -> tuple[Scheduler, Job]:
    async def work() -> None:
        runs.append(name)

    job = Job("shared job", INTERVAL, work)
    return Scheduler(jobs=[job], leases=leases(url, name, clock, engines), instance=name), job


async def test_a_job_runs_once_per_period_across_two_instances(
    migrated_url: str, engines: list[Engine]
) -> None:
    clock = FakeClock()
    runs: list[str] = []
    a, job_a = instance(migrated_url, "instance-a", clock, runs, engines)
    b, job_b = instance(migrated_url, "instance-b", clock, runs, engines)
    for period in range(PERIODS):
        where = f"period {period + 1}/{PERIODS}"
        before = len(runs)
        ran = await asyncio.gather(a.tick(job_a), b.tick(job_b))
        assert sorted(ran) == [False, True], f"{where}: {ran}"
        assert len(runs) == before + 1, where
        winner = runs[-1]
        # Later in the same period: neither runs it again, and both report the winner.
        clock.advance(INTERVAL / 2)
        assert list(await asyncio.gather(a.tick(job_a), b.tick(job_b))) == [False, False], where
        assert job_a.last_run_by == job_b.last_run_by == winner, where
        assert job_a.last_outcome == job_b.last_outcome == "ok", where
        clock.advance(INTERVAL / 2)
    assert len(runs) == PERIODS
    print(
        f"\njob leases: {PERIODS} periods, runs by instance: "
        f"a={runs.count('instance-a')}, b={runs.count('instance-b')}"
    )


async def test_a_failed_run_is_reported_by_both_instances(
    migrated_url: str, engines: list[Engine]
) -> None:
    clock = FakeClock()

    async def broken() -> None:
        raise RuntimeError("the disk is on fire")

    def make(name: str) -> tuple[Scheduler, Job]:
        job = Job("broken job", INTERVAL, broken)
        claims = leases(migrated_url, name, clock, engines)
        return Scheduler(jobs=[job], leases=claims, instance=name), job

    (a, job_a), (b, job_b) = make("a"), make("b")
    assert await a.tick(job_a)
    assert not await b.tick(job_b)
    assert job_b.last_outcome == "failed" and job_b.last_run_by == "a"
    assert job_b.last_error is not None and "the disk is on fire" in job_b.last_error


def test_instance_ids_differ_per_process_start() -> None:
    first, second = new_instance_id(), new_instance_id()
    assert first != second  # the random suffix: pids repeat across restarts
    assert first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0]  # host and pid


async def test_status_and_metrics_name_the_instance(api: Api) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    me = api.app.state.instance_id
    scheduler: Scheduler = api.app.state.scheduler
    await wait_for(lambda: scheduler.job(METRICS_JOB).runs >= 1, what="a metrics sample")
    status = (await client.get(f"{API}/system/status")).json()
    assert status["instance"] == me
    parts = {c["key"]: c for c in status["components"]}
    metrics_job = next(j for j in parts["scheduler"]["jobs"] if j["name"] == METRICS_JOB)
    assert metrics_job["last_run_by"] == me
    assert {"label": "Instance", "value": me} in parts["host"]["facts"]
    assert {"label": "Measured by", "value": me} in parts["api"]["facts"]
    history = (await client.get(f"{API}/system/metrics")).json()
    assert history["instance"] == me and history["instances"] == [me]
    assert all(sample["instance"] == me for sample in history["samples"])
