"""What build/aegis.spec leaves out of the bundle is not needed by the desktop.

The packaged tests (test_packaging.py) run the frozen app as far as its self-test and
the sign-in window. Here the same excluded modules are made unimportable in a fresh
interpreter (``excluded_probe.py``), and a new user's first steps run against the real
embedded backend: registration, sign-in, status and metrics, and every view imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.build.bundle_harness import REPO, FreshHome
from tests.build.excluded_probe import spec_excludes

PROBE = Path(__file__).resolve().parent / "excluded_probe.py"
SPEC = REPO / "build" / "aegis.spec"
# Imported only inside try/except ImportError (or a lazy fallback): the probe shows that
# something tries them, and that the flow goes on without them.
OPTIONAL = {"uvloop", "httptools", "watchfiles", "httpx._main", "pygments", "rich", "yaml"}


def test_the_size_exclusions_are_in_the_spec() -> None:
    excludes = set(spec_excludes(SPEC))
    wanted = {"uvloop", "httptools", "watchfiles", "greenlet", "yaml", "pygments", "rich"}
    assert wanted <= excludes, wanted - excludes
    assert "cryptography" not in excludes, "keyring's Secret Service needs it"


def test_a_new_user_gets_in_without_the_excluded_modules(tmp_path: Path) -> None:
    home = FreshHome.make(tmp_path)
    result = subprocess.run(
        [sys.executable, str(PROBE), str(SPEC)],
        cwd=home.home,
        env={**home.env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    print(json.dumps(report, indent=2))
    assert report["answers"] == {
        "register_bad_email": 422,
        "register": 201,
        "login": 200,
        "status": 200,
        "metrics": 200,
    }, report
    assert report["window_modules"] > 4, report
    assert report["loaded"] == [], report
    # Anything else tried means a new import path: check it is optional, then list it.
    unexpected = [name for name in report["tried"] if name not in OPTIONAL]
    assert not unexpected, f"tried beyond the known optional imports: {unexpected}"
