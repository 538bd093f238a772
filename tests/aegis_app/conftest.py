"""Fixtures for the frontend logic tests: a real backend, and pilots driving the view tree.

* ``ui_backend`` — the real API (``create_api``) with its lifespan, on SQLite in tmp_path;
  ``make_backend(**settings)`` starts one with other settings.
* ``make_pilot(route=..., token=...)`` — a started :class:`pilot.Pilot` (one Flet
  session, i.e. one browser tab) against ``ui_backend``; with ``token`` its cookie store
  already holds that session, so ``main`` signs in silently. ``pilot`` is one at "/".
* ``signed_in_pilot`` — registers Ada (the first account, so an admin) and starts a
  pilot holding her session.

Every pilot is closed at teardown, and a test fails if an exception escaped one of
the app's event handlers (Flet would only log it and tell the client).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from backend.core.config import Settings
from backend.core.db import make_engine, migrate
from backend.main import create_api
from tests.aegis_app.pilot import InMemorySessionCookieStore, Pilot, in_process_target
from tests.aegis_app.ui_support import Backend, MakeBackend, MakePilot
from tests.conftest import TEST_HOST

IN_PROCESS_HOST = "aegis.internal"  # pilot.BASE_URL's host


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite file: copying it is ~10x faster than migrating."""
    path = tmp_path_factory.mktemp("template") / "aegis.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return path


LIVE_PERIOD_SECONDS = 0.05


@pytest.fixture
async def make_backend(tmp_path: Path, migrated_database: Path) -> AsyncIterator[MakeBackend]:
    async with AsyncExitStack() as stack:
        count = 0

        async def start(**overrides: Any) -> Backend:
            nonlocal count
            count += 1
            data_dir = overrides.setdefault("data_dir", tmp_path / f"data{count}")
            # The UI tests reach the API at the web target's in-process URL, some through
            # plain ASGITransport (no InProcessMark); the Host checks have their own tests.
            overrides.setdefault("allowed_hosts", f"{TEST_HOST},{IN_PROCESS_HOST}")
            # The dashboard's live feed pushes this often: tests wait on readings.
            overrides.setdefault("live_period_seconds", LIVE_PERIOD_SECONDS)
            if "database_url" not in overrides:
                data_dir.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(migrated_database, data_dir / "aegis.db")
            settings = Settings(_env_file=None, **overrides)
            app = create_api(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return Backend(app=app, settings=settings, stack=stack)

        yield start


@pytest.fixture
async def ui_backend(make_backend: MakeBackend) -> Backend:
    return await make_backend()


@pytest.fixture
async def make_pilot(ui_backend: Backend) -> AsyncIterator[MakePilot]:
    pilots: list[Pilot] = []

    async def start(route: str = "/", token: str | None = None) -> Pilot:
        store = InMemorySessionCookieStore(token)
        pilot = Pilot(in_process_target(ui_backend.app, store), route=route, store=store)
        pilots.append(pilot)
        return await pilot.start()

    yield start
    crashes = []
    for pilot in pilots:
        await pilot.close()
        crashes += pilot.conn.crashes
    assert not crashes, "an event handler raised:\n" + "\n".join(crashes)


@pytest.fixture
async def pilot(make_pilot: MakePilot) -> Pilot:
    return await make_pilot("/")


@pytest.fixture
async def ada(ui_backend: Backend) -> tuple[dict[str, Any], str]:
    """Ada's account (the first, so an admin) and a session token from another device."""
    return await ui_backend.register()


@pytest.fixture
async def signed_in_pilot(make_pilot: MakePilot, ada: tuple[dict[str, Any], str]) -> Pilot:
    return await make_pilot("/", token=ada[1])
