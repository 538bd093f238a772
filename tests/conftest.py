"""Shared fixtures. System parts (Chromium, Xvfb, gnome-keyring) are checked here.

Outside CI a test whose system part cannot be found is skipped with the reason;
in CI (``CI=true``) the same situation is a failure, so nothing skips silently there.

The suite's settings come from the tests alone: every ``AEGIS_*`` variable exported in
the shell that starts pytest is removed before any test runs, so an exported
``AEGIS_DATABASE_URL`` can never aim the suite (or an ``aegis serve`` it starts, which
inherits the environment) at a real database.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.core.config import Settings
from tests.postgres_cluster import PostgresCluster, find_pg_bin, postgres_cluster

TEST_HOST = "testserver"  # the Host of httpx's and Starlette's in-process test clients
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
AEGIS_PREFIX = "AEGIS_"

# The AEGIS_* variables the shell had exported, removed by pytest_configure (names only).
removed_aegis_variables: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Drop AEGIS_* from this process's environment before any test is collected.

    Before collection, so that no test module, fixture or child process ever sees them;
    a test that needs one sets it itself (``monkeypatch.setenv`` or a child's ``env``).
    """
    for name in sorted(os.environ):
        if name.startswith(AEGIS_PREFIX):
            del os.environ[name]
            removed_aegis_variables.append(name)


def require_executable(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed ({why}); .ci/run installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_postgres() -> None:
    """Skip (outside CI) or fail (in CI) when PostgreSQL's server is not installed."""
    if find_pg_bin() is None:
        message = "PostgreSQL is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def make_test_settings(data_dir: Path) -> Settings:
    """Settings from the test alone: no ``.env`` file, and (see pytest_configure) no
    ``AEGIS_*`` variable from the shell. ``testserver``: the Host of httpx's and
    Starlette's in-process test clients."""
    return Settings(data_dir=data_dir, allowed_hosts=TEST_HOST, _env_file=None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_test_settings(tmp_path / "data")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole run; tests take fresh databases."""
    require_postgres()
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
