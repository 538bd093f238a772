"""An ``AEGIS_*`` variable exported in the shell never reaches the suite.

``tests/conftest.py`` removes them before collection. The first test checks what a test
sees; the second runs the first in a child pytest started with a bogus
``AEGIS_DATABASE_URL`` (and data directory) exported, as a developer's shell might
have them, and shows they were removed and ignored.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.core.config import Settings
from tests import conftest

ROOT = Path(__file__).resolve().parent.parent
# Not AEGIS_*: the child's conftest would remove it before the test could read it.
EXPECTED_REMOVED = "EXPECT_REMOVED_AEGIS_VARIABLES"
BOGUS_DATABASE_URL = "postgresql+psycopg://nobody:secret@production.invalid/aegis"


def test_tests_see_no_aegis_variable(settings: Settings, tmp_path: Path) -> None:
    assert [name for name in os.environ if name.startswith("AEGIS_")] == []
    expected = os.environ.get(EXPECTED_REMOVED)
    if expected is not None:  # run by the next test, with variables exported
        assert conftest.removed_aegis_variables == expected.split(",")
    assert settings.database_url is None
    assert settings.data_dir == tmp_path / "data"
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert str(tmp_path) in settings.resolved_database_url
    # Any Settings a test builds from the environment is as clean.
    assert Settings(_env_file=None).database_url is None


def test_exported_database_url_never_aims_the_suite(tmp_path: Path) -> None:
    exported = {
        "AEGIS_DATABASE_URL": BOGUS_DATABASE_URL,
        "AEGIS_DATA_DIR": str(tmp_path / "someone-elses-data"),
    }
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{Path(__file__).relative_to(ROOT)}::test_tests_see_no_aegis_variable",
        ],
        cwd=ROOT,
        env={**os.environ, **exported, EXPECTED_REMOVED: ",".join(sorted(exported))},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert "1 passed" in child.stdout
    assert not (tmp_path / "someone-elses-data").exists()
