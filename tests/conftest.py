"""Shared fixtures. System parts (Chromium, Xvfb, gnome-keyring) are checked here.

Outside CI a test whose system part cannot be found is skipped with the reason;
in CI (``CI=true``) the same situation is a failure, so nothing skips silently there.
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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # "testserver": the Host of httpx's and Starlette's in-process test clients.
    return Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", allowed_hosts=TEST_HOST, _env_file=None
    )


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
