"""Shared fixtures. System parts (Chromium, Xvfb, gnome-keyring) are checked here.

Outside CI a test whose system part cannot be found is skipped with the reason;
in CI (``CI=true``) the same situation is a failure, so nothing skips silently there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from backend.core.config import Settings

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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
