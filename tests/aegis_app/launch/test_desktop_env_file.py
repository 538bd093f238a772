"""``aegis desktop`` reads no ``.env``: not the one in the folder it was started from,
not the one ``AEGIS_ENV_FILE`` names (that is ``aegis serve``'s alone).

A real ``aegis desktop --self-test`` (the embedded backend, no window) started in a
folder whose ``.env`` would move its data directory and database elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.aegis_app.launch.desktop_harness import NO_KEYRING_ENV, REPO


def test_the_desktop_ignores_every_env_file(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / ".env").write_text(
        f"AEGIS_DATA_DIR={planted / 'cwd'}\nAEGIS_DATABASE_URL=sqlite:///{planted / 'cwd.db'}\n"
    )
    explicit = tmp_path / "serve.env"
    explicit.write_text(f"AEGIS_DATA_DIR={planted / 'explicit'}\n")
    home = tmp_path / "home"
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AEGIS_") and k != "PYTHON_KEYRING_BACKEND"
    }
    result = subprocess.run(
        [sys.executable, "-m", "aegis_app", "desktop", "--self-test"],
        cwd=folder,
        env={
            **base,
            **NO_KEYRING_ENV,
            "PYTHONPATH": str(REPO),
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "AEGIS_ENV_FILE": str(explicit),
            "DISPLAY": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line, got:\n{result.stdout}\n{result.stderr}"
    report = json.loads(lines[0])
    assert report["ok"] is True, report
    assert report["data_dir"] == str(home / "data" / "Aegis")
    assert report["database_url"] == f"sqlite:///{home / 'data' / 'Aegis' / 'aegis.db'}"
    assert not planted.exists(), "the desktop app wrote where a .env told it to"
