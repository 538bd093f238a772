"""``aegis desktop --self-test``: one JSON object, exit code from the backend's health."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.aegis_app.launch.desktop_harness import NO_KEYRING_ENV, REPO, SecretService

FIELDS = {
    "ok",
    "ready_seconds",
    "health",
    "keyring_backend",
    "keyring_ok",
    "keyring_error",
    "data_dir",
    "log_dir",
    "database_url",
}


def self_test(data_dir: Path, **env: str) -> tuple[int, dict[str, Any]]:
    base = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-m", "aegis_app", "desktop", "--self-test"],
        cwd=REPO,
        env={**base, "AEGIS_DATA_DIR": str(data_dir), "DISPLAY": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line, got:\n{result.stdout}\n{result.stderr}"
    return result.returncode, json.loads(lines[0])


def test_without_a_keyring_it_passes_and_reports_the_keyring(tmp_path: Path) -> None:
    code, report = self_test(tmp_path / "data", **NO_KEYRING_ENV)
    assert code == 0, report
    assert set(report) >= FIELDS
    assert report["ok"] is True
    assert report["health"]["status"] == "ok"
    assert 0 < report["ready_seconds"] < 10
    assert report["keyring_ok"] is False
    assert "no OS keyring was found" in report["keyring_error"]
    assert report["keyring_required"] is False
    assert report["data_dir"] == str(tmp_path / "data")
    assert report["log_dir"] == str(tmp_path / "data" / "logs")
    assert report["database_url"].endswith("aegis.db")


def test_a_broken_backend_fails_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, report = self_test(
        tmp_path / "data", AEGIS_DATABASE_URL=f"sqlite:///{blocker}/x.db", **NO_KEYRING_ENV
    )
    assert code == 1
    assert report["ok"] is False and report["health"] is None
    assert "could not start" in report["backend_error"]


@pytest.mark.keyring
def test_with_a_real_secret_service(tmp_path: Path, secret_service: SecretService) -> None:
    code, report = self_test(tmp_path / "data", **secret_service.env)
    assert code == 0, report
    assert report["keyring_ok"] is True, report["keyring_error"]
    assert "SecretService" in report["keyring_backend"]
    assert report["keyring_error"] is None
