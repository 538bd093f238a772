"""Fixtures for the API tests: the real app and its lifespan, on SQLite and on PostgreSQL.

``api`` is a running app on the default settings; ``make_api(**overrides)`` starts one
with other settings. Helpers live in ``api_helpers`` (a unique module name, so it imports
the same way under ``pytest`` and ``python -m pytest``).

Every test that takes ``api``, ``make_api``, ``new_database`` or ``database_url`` runs
once per engine: ``[sqlite]`` on a SQLite file in tmp_path (the default database in the
data directory), ``[postgresql]`` on a fresh database in the test run's throwaway
PostgreSQL cluster (``postgres``). All of them, not a subset: measured on a shared,
busy 2-core machine, the SQLite runs (with the tests that run once) took 195 s for 346
tests and the PostgreSQL runs 220 s for 247, where the folder took 205 s before it ran
every API test on both; a few minutes on a CI run of about 15. Each PostgreSQL database
is cloned from a migrated template (0.6 s instead of 1.0 s to create and migrate), so
the app's start only finds the schema at head. Migrating a fresh, empty PostgreSQL
database is itself tested, by the tests that take ``new_database``.

A test about one engine's own behaviour says so with ``@pytest.mark.engines("sqlite")``;
a test that asks for ``postgres`` itself has chosen its engine and runs once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from backend.core.config import Settings
from backend.core.db import make_engine, migrate
from backend.main import create_api
from tests.backend.api_helpers import Api, MakeApi
from tests.conftest import TEST_HOST
from tests.postgres_cluster import PostgresCluster

ENGINES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "engines(*names): run this backend test only on these engines (sqlite, postgresql)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is not None:
        engines = tuple(marker.args)
        unknown = set(engines) - set(ENGINES)
        assert engines and not unknown, f"engines({', '.join(engines)}): not among {ENGINES}"
    elif "postgres" in metafunc.fixturenames:
        engines = ("postgresql",)  # the test chose its engine by asking for the cluster
    else:
        engines = ENGINES
    metafunc.parametrize("engine_name", engines, scope="function")


@pytest.fixture
def engine_name(request: pytest.FixtureRequest) -> str:
    """The engine this run of the test is on (parametrised in ``pytest_generate_tests``)."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresCluster) -> str:
    """A migrated, otherwise empty PostgreSQL database to clone: ``CREATE DATABASE …
    TEMPLATE`` copies it in tens of milliseconds, migrating takes ten times that."""
    name = f"aegis_template_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(name)
    template = make_engine(url)
    try:
        migrate(template)
    finally:
        template.dispose()  # CREATE DATABASE … TEMPLATE needs it without connections
    return name


@pytest.fixture
def new_database(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], str]:
    """Makes fresh, empty databases on this run's engine: a new SQLite file, or a new
    database in the test run's throwaway PostgreSQL cluster."""
    count = 0

    def make() -> str:
        nonlocal count
        count += 1
        if engine_name == "sqlite":
            return f"sqlite:///{tmp_path / f'engine{count}.db'}"
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        return cluster.create_database()

    return make


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    """One fresh, empty database, on SQLite and on PostgreSQL (see ``new_database``)."""
    return new_database()


@pytest.fixture
def migrated_database(engine_name: str, request: pytest.FixtureRequest) -> Callable[[], str | None]:
    """Makes migrated databases on this run's engine: None on SQLite (the app's default
    file in its data directory, migrated at start), a clone of the template on PostgreSQL."""

    def make() -> str | None:
        if engine_name == "sqlite":
            return None
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        template: str = request.getfixturevalue("postgres_template")
        name = f"aegis_{uuid.uuid4().hex[:12]}"
        cluster.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return cluster.url(name)

    return make


@pytest.fixture
async def make_api(
    tmp_path: Path, migrated_database: Callable[[], str | None]
) -> AsyncIterator[MakeApi]:
    async with AsyncExitStack() as stack:
        count = 0

        async def start(**overrides: Any) -> Api:
            nonlocal count
            count += 1
            overrides.setdefault("data_dir", tmp_path / f"data{count}")
            overrides.setdefault("allowed_hosts", TEST_HOST)
            if "database_url" not in overrides:
                url = migrated_database()
                if url is not None:
                    overrides["database_url"] = url
            settings = Settings(_env_file=None, **overrides)
            app = create_api(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return Api(app=app, settings=settings, stack=stack)

        yield start


@pytest.fixture
async def api(settings: Settings, make_api: MakeApi) -> Api:
    return await make_api(data_dir=settings.data_dir)
