"""N instances starting together on a fresh database migrate it once, without an error.

Threads (each with its own engine, released together by a barrier) and separate
processes, on a fresh SQLite file and a fresh PostgreSQL database.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from backend.core.db import alembic_config, make_engine, migrate

INSTANCES = 4
ROUNDS = 5
REPO = Path(__file__).resolve().parents[2]


def head() -> str:
    engine = make_engine("sqlite://")
    try:
        revision = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()
    assert revision is not None
    return revision


def assert_migrated_once(url: str, where: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert [v for (v,) in versions] == [head()], f"{where}: {versions}"
    assert {"users", "handoff_codes", "job_leases"} <= tables, f"{where}: {tables}"


def migrate_fresh(url: str, barrier: threading.Barrier) -> None:
    engine = make_engine(url)
    try:
        barrier.wait(timeout=30)
        migrate(engine)
    finally:
        engine.dispose()


def test_threads_starting_together_migrate_once(new_database: Callable[[], str]) -> None:
    for round_no in range(ROUNDS):
        url = new_database()
        barrier = threading.Barrier(INSTANCES)
        with ThreadPoolExecutor(max_workers=INSTANCES) as pool:
            futures = [pool.submit(migrate_fresh, url, barrier) for _ in range(INSTANCES)]
            for future in futures:
                future.result()  # re-raises a migration error
        assert_migrated_once(url, f"round {round_no + 1}/{ROUNDS}")
    print(f"\nmigration lock: {ROUNDS} rounds of {INSTANCES} threads")


def test_processes_starting_together_migrate_once(new_database: Callable[[], str]) -> None:
    url = new_database()
    script = (
        "import sys; from backend.core.db import make_engine, migrate; "
        "engine = make_engine(sys.argv[1]); migrate(engine); engine.dispose()"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(INSTANCES)
    ]
    outcomes = [p.communicate(timeout=120) for p in processes]
    for process, (_, stderr) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, stderr.decode()
    assert_migrated_once(url, f"{INSTANCES} processes")
