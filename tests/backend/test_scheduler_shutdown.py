"""A job that is inside its database work when the process stops finishes and closes
its database session; it is not cancelled under it (which left a half-closed one that the
garbage collector later closed as an IllegalStateChangeError)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import text

from backend.core.db import make_engine, migrate, session_factory
from backend.services import scheduler as scheduler_module
from backend.services.scheduler import Job, Scheduler


async def test_a_running_job_finishes_and_closes_its_session_at_shutdown(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'aegis.db'}")
    migrate(engine)
    factory = session_factory(engine)
    inside, release = threading.Event(), threading.Event()
    closed: list[bool] = []

    def work() -> None:
        with factory() as db:
            db.execute(text("INSERT INTO rule_locks (name, taken) VALUES ('job', 1)"))
            inside.set()
            assert release.wait(30), "never released"
            db.commit()
        closed.append(True)

    async def job() -> None:
        await anyio.to_thread.run_sync(work)

    scheduler = Scheduler(jobs=[Job("slow job", 3600, job)])
    try:
        running = scheduler.run()
        await running.__aenter__()
        assert await anyio.to_thread.run_sync(inside.wait, 30)
        stopping = asyncio.ensure_future(running.__aexit__(None, None, None))
        # One turn of the loop, not a wait on the clock: the shutdown task runs up to its
        # wait for the job, which still holds its database session.
        await asyncio.sleep(0)
        assert not stopping.done()
        release.set()
        await asyncio.wait_for(stopping, 30)
        assert closed == [True], "the job's session was not closed by the job itself"
        assert scheduler.job("slow job").last_outcome == "ok"
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT taken FROM rule_locks WHERE name = 'job'")) == 1
    finally:
        release.set()
        engine.dispose()


async def test_a_deadline_around_shutdown_still_fires_while_a_job_finishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Waiting for a cancelled job must not swallow a cancellation aimed at the task
    that is stopping the scheduler: a deadline around the shutdown still fires."""
    monkeypatch.setattr(scheduler_module, "SHUTDOWN_GRACE_SECONDS", 0.05)
    started, cleaned_up = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)  # overstays the grace, so the scheduler cancels it
        finally:
            await cleaned_up.wait()  # a slow clean-up, still running at the deadline

    scheduler = Scheduler(jobs=[Job("slow clean-up", 3600, job)])
    running = scheduler.run()
    await running.__aenter__()
    await asyncio.wait_for(started.wait(), 30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await running.__aexit__(None, None, None)
