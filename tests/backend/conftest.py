"""Fixtures for the API tests: the real app, its lifespan, a real SQLite file in tmp_path.

``api`` is a running app on the default settings; ``make_api(**overrides)`` starts one
with other settings. Helpers live in ``api_helpers`` (a unique module name, so it imports
the same way under ``pytest`` and ``python -m pytest``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, MakeApi

from backend.core.config import Settings
from backend.main import create_api
from tests.conftest import TEST_HOST
from tests.postgres_cluster import PostgresCluster


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes fresh, empty databases on this run's engine: a new SQLite file, or a new
    database in the session's throwaway PostgreSQL cluster. A test that takes it (or
    ``database_url``) runs once on each engine we support."""
    count = 0

    def make() -> str:
        nonlocal count
        count += 1
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / f'engine{count}.db'}"
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        return cluster.create_database()

    return make


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    """One fresh database, on SQLite and on PostgreSQL (see ``new_database``)."""
    return new_database()


@pytest.fixture
async def make_api(tmp_path: Path) -> AsyncIterator[MakeApi]:
    async with AsyncExitStack() as stack:
        count = 0

        async def start(**overrides: Any) -> Api:
            nonlocal count
            count += 1
            overrides.setdefault("data_dir", tmp_path / f"data{count}")
            overrides.setdefault("allowed_hosts", TEST_HOST)
            settings = Settings(_env_file=None, **overrides)  # type: ignore[call-arg]
            app = create_api(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return Api(app=app, settings=settings, stack=stack)

        yield start


@pytest.fixture
async def api(settings: Settings, make_api: MakeApi) -> Api:
    return await make_api(data_dir=settings.data_dir)
