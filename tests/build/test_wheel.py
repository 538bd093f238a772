"""``pip install`` of the built wheel gives a working ``aegis serve``.

The wheel is built from a copy of the sources (setuptools writes ``build/`` and
``*.egg-info`` next to them, and ``build/`` here holds our sources), installed with pip
into a fresh venv, and ``aegis serve`` is started from that venv's own script in an
empty working directory holding only a ``.env``.

The boundary: the fresh venv takes the *dependencies* from the project's environment
(a ``.pth`` line naming its site-packages) instead of downloading them, so the test
needs no network and stays fast. That line adds a plain directory: the project's
editable install (a ``.pth`` hook in that directory) is not run, so ``aegis_app`` and
``backend`` can only come from the wheel, which the test checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import free_port
from tests.build.bundle_harness import REPO, VERSION
from tests.waiting import wait_until

pytestmark = pytest.mark.packaging

SOURCES = ("pyproject.toml", "README.md", "backend", "aegis_app")
START_TIMEOUT = 60.0


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    wheels = tmp_path / "wheels"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--quiet",
        "--wheel-dir",
        wheels,
        source,
    )
    [wheel] = wheels.glob(f"aegis-{VERSION}-*.whl")
    return wheel


def fresh_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    # The project's dependencies, as a plain path (its .pth hooks are not run).
    Path(site.strip(), "aegis-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_installed_wheel_serves_the_api_and_the_dashboard(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        assert "aegis_app/flet.toml" in archive.namelist(), "flet.toml is not in the wheel"

    venv = fresh_venv(tmp_path)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--quiet", wheel)  # fmt: skip

    workdir, home, data = tmp_path / "work", tmp_path / "home", tmp_path / "data"
    workdir.mkdir()
    home.mkdir()
    # The working directory's .env is how `aegis serve` is configured here (item 13).
    (workdir / ".env").write_text(f"AEGIS_DATA_DIR={data}\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AEGIS_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env |= {"HOME": str(home), "PYTHONUNBUFFERED": "1"}

    where = run(python, "-c", "import aegis_app, backend; print(aegis_app.__file__)", cwd=workdir)
    assert Path(where.strip()).is_relative_to(venv), f"aegis_app came from {where}"

    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [venv / "bin" / "aegis", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            answers: list[httpx.Response] = []

            def answered() -> bool:
                assert process.poll() is None, f"aegis serve exited:\n{log_path.read_text()}"
                try:
                    answers.append(httpx.get(f"{base}/api/v1/health", timeout=2))
                except httpx.TransportError:
                    return False
                return True

            wait_until(answered, START_TIMEOUT, what=f"aegis serve to answer (log: {log_path})")
            health = answers[-1]
            assert health.status_code == 200, health.text
            dashboard = httpx.get(f"{base}/dashboard/", timeout=10)
            assert dashboard.status_code == 200
            assert 'webSocketEndpoint="/dashboard/ws"' in dashboard.text
            assert (data / "aegis.db").is_file(), "the .env in the working directory was not read"
        finally:
            process.terminate()
            process.wait(15)
