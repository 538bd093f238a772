"""Who reads a ``.env`` file: ``aegis serve`` only, from its working directory or from
``AEGIS_ENV_FILE``; never ``Settings()`` (the desktop app and everything else).

Real files in a temporary working directory. The desktop app's own check (a real
``aegis desktop --self-test`` started in a folder holding a ``.env``) is in
``tests/aegis_app/launch/test_desktop_env_file.py``; a real ``aegis serve`` reading its
``.env`` is in ``tests/build/test_wheel.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.core.config import (
    ENV_FILE_VARIABLE,
    ConfigurationError,
    Settings,
    server_settings,
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AEGIS_DATA_DIR", "AEGIS_MIN_PASSWORD_LENGTH", ENV_FILE_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "cwd"
    folder.mkdir()
    (folder / ".env").write_text(
        f"AEGIS_DATA_DIR={tmp_path / 'from-cwd-env'}\nAEGIS_MIN_PASSWORD_LENGTH=33\n"
    )
    monkeypatch.chdir(folder)
    return folder


def test_settings_read_no_env_file(workdir: Path) -> None:
    """Before: any ``.env`` in the working directory reconfigured every Settings()."""
    settings = Settings()
    assert settings.data_dir is None
    assert settings.min_password_length == 10


def test_the_server_reads_the_env_file_in_its_working_directory(
    workdir: Path, tmp_path: Path
) -> None:
    settings = server_settings()
    assert settings.data_dir == tmp_path / "from-cwd-env"
    assert settings.min_password_length == 33


def test_the_environment_wins_over_the_env_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEGIS_MIN_PASSWORD_LENGTH", "12")
    assert server_settings().min_password_length == 12


def test_an_explicit_env_file_replaces_the_working_directory_one(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = tmp_path / "aegis.env"
    explicit.write_text("AEGIS_MIN_PASSWORD_LENGTH=20\n")
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(explicit))
    settings = server_settings()
    assert settings.min_password_length == 20
    assert settings.data_dir is None  # nothing from ./.env


def test_a_missing_explicit_env_file_is_an_error_in_words(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(tmp_path / "missing.env"))
    with pytest.raises(ConfigurationError, match=r"AEGIS_ENV_FILE=.*missing\.env is not"):
        server_settings()


def test_no_env_file_at_all_is_fine_for_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_FILE_VARIABLE, raising=False)
    monkeypatch.delenv("AEGIS_MIN_PASSWORD_LENGTH", raising=False)
    monkeypatch.chdir(tmp_path)
    assert server_settings().min_password_length == 10
