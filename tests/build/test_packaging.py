"""The PyInstaller bundle (``make dist``) behaves as ``aegis desktop`` for a new user."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.bundle import GOAL_MB, largest_items, pyz_modules
from tests.build.bundle_harness import (
    REPO,
    TIMINGS,
    VERSION,
    FreshHome,
    Packaged,
    PackagedApp,
    elf_section_names,
)
from tests.build.excluded_probe import spec_excludes

pytestmark = pytest.mark.packaging

SIGN_IN = "Sign in · Aegis"


def self_test(packaged: Packaged, env: dict[str, str], cwd: Path) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    result = subprocess.run(
        [str(packaged.executable), "--self-test"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    seconds = time.perf_counter() - started
    lines = result.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be one JSON object:\n{result.stdout}\n{result.stderr}"
    report = json.loads(lines[0])
    assert result.returncode == (0 if report["ok"] else 1), report
    return report, seconds


def test_build_produces_the_bundle_and_its_archive(packaged: Packaged) -> None:
    print(f"build: {packaged.build_seconds:.1f} s")
    assert not (REPO / "build" / "linux").exists(), "Flet would run a client found there"
    bundle = packaged.bundle
    internal = bundle / "_internal"
    assert packaged.executable.is_file()
    assert (internal / "flet.toml").is_file()
    # alembic loads migrations by path: they must be real .py files, not in the PYZ.
    migrations = internal / "backend" / "migrations"
    assert (migrations / "env.py").is_file()
    source_versions = {p.name for p in (REPO / "backend/migrations/versions").glob("*.py")}
    assert {p.name for p in (migrations / "versions").glob("*.py")} == source_versions
    if sys.platform.startswith("linux"):
        assert (internal / "flet-client" / "flet" / "flet").is_file()
        assert not (internal / "flet_desktop" / "app").exists(), "the archive is not needed"
        assert not any(internal.glob("libgtk-3*")), "GTK must come from the system"
    size_mb = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file()) / 1e6
    TIMINGS["bundle size MB"] = size_mb
    print(f"bundle: {size_mb:.1f} MB")

    [archive] = packaged.archives
    assert archive.name.startswith(f"Aegis-{VERSION}-"), archive.name
    if archive.suffix == ".gz":
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
        assert "Aegis/Aegis" in names and "Aegis/_internal/flet.toml" in names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the spec strips on Linux")
def test_bundle_is_stripped_small_and_without_the_excluded_modules(packaged: Packaged) -> None:
    bundle = packaged.bundle
    size_mb = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file()) / 1e6
    largest = ", ".join(f"{name} {size / 1e6:.1f}" for name, size in largest_items(bundle, 5))
    print(f"bundle: {size_mb:.1f} MB (goal ≤ {GOAL_MB} MB); largest: {largest}")
    assert size_mb <= GOAL_MB, f"{size_mb:.1f} MB; largest: {largest}"

    unstripped = []
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink():
            sections = elf_section_names(path)
            if sections and (
                ".symtab" in sections or any(s.startswith(".debug") for s in sections)
            ):
                unstripped.append(str(path.relative_to(bundle)))
    assert not unstripped, f"not stripped: {unstripped}"

    modules = pyz_modules(packaged.executable)
    assert "aegis_app.launch.desktop" in modules, "the PYZ was not read"
    internal = bundle / "_internal"
    for name in spec_excludes(REPO / "build" / "aegis.spec"):
        found = [m for m in modules if m == name or m.startswith(name + ".")]
        assert not found, f"{name} is excluded but in the PYZ: {found[:5]}"
        assert not (internal / name.replace(".", "/")).exists(), f"{name} is in _internal"


def test_self_test_with_a_fresh_home(packaged: Packaged, fresh_home: FreshHome) -> None:
    report, seconds = self_test(packaged, fresh_home.env, fresh_home.home)
    TIMINGS["self-test s"] = seconds
    print(f"self-test: {seconds:.2f} s")
    assert report["ok"] is True, report
    assert report["health"]["database"] == "ok", report
    assert report["data_dir"] == str(fresh_home.data_dir)
    assert report["log_dir"] == str(fresh_home.log_dir)
    assert report["database_url"] == f"sqlite:///{fresh_home.data_dir / 'aegis.db'}"
    assert report["keyring_ok"] is False and report["keyring_error"]  # no session bus here
    assert not (fresh_home.home / ".flet").exists()


@pytest.mark.keyring
def test_self_test_reaches_a_real_keyring(
    packaged: Packaged, fresh_home: FreshHome, secret_service: Any
) -> None:
    """keyring's Secret Service backend (and its D-Bus stack) made it into the bundle."""
    env = {**fresh_home.env, **secret_service.env}
    report, _ = self_test(packaged, env, fresh_home.home)
    assert report["ok"] is True, report
    assert report["keyring_ok"] is True, report
    assert "SecretService" in report["keyring_backend"], report


@pytest.mark.desktop
def test_window_opens_and_sigterm_leaves_nothing_behind(
    packaged: Packaged,
    packaged_app: Callable[[], PackagedApp],
    fresh_home: FreshHome,
    artifacts_dir: Path,
) -> None:
    app = packaged_app()
    app.launch()
    wid = app.window(SIGN_IN)
    TIMINGS["first frame (cold, fresh HOME) s"] = time.monotonic() - app.started_at
    colours = app.screenshot(wid, artifacts_dir / "packaged-sign-in.png")
    assert colours > 50, f"the window looks blank ({colours} colours)"

    clients = [psutil.Process(pid) for pid in app.seen_pids if psutil.pid_exists(pid)]
    bundle = str(packaged.bundle)
    assert any(c.exe().startswith(bundle) for c in clients), "the bundled client was not used"

    assert app.terminate() == 0, app.tail()
    assert not app.leftovers(), "the window or a helper outlived the app"
    log = app.log_text()
    assert "backend stopped" in log, log[-3000:]
    assert "Flet View is set via FLET_VIEW_PATH" in log
    assert not (fresh_home.home / ".flet").exists(), "the client was unpacked into ~/.flet"
