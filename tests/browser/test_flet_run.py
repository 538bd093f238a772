"""The development flow: ``flet run --web aegis_app/flet_entry.py`` serves the real app.

``flet run`` (flet-cli) starts the entry script, which starts the embedded backend and
the shared view tree; the page must draw the sign-in view in a real browser. The desktop
variant (``flet run -d``) runs the same entry script in a native window, which the
window tests already cover through ``python -m aegis_app``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REPO, expect_location, free_port, open_page, screenshot, textbox
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

FLET = Path(sys.executable).with_name("flet")
START_TIMEOUT = 60.0


@pytest.fixture
def flet_run_web(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "AEGIS_DATA_DIR": str(tmp_path / "data")}
    log = (tmp_path / "flet-run.txt").open("wb")
    process = subprocess.Popen(
        [str(FLET), "run", "--web", "-p", str(port), "aegis_app/flet_entry.py"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # flet run leaves its child behind on a plain SIGTERM
    )
    url = f"http://127.0.0.1:{port}/"

    def answers() -> bool:
        assert process.poll() is None, (tmp_path / "flet-run.txt").read_text()
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, START_TIMEOUT, what="flet run --web to answer")
        yield url
    finally:
        group = [psutil.Process(process.pid), *_children(process.pid)]
        os.killpg(process.pid, signal.SIGINT)
        _, alive = psutil.wait_procs(group, timeout=15)
        for proc in alive:
            proc.kill()
        process.wait(5)
        log.close()
        assert not alive, f"flet run left {alive} running after Ctrl+C"


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_flet_run_web_serves_the_app_with_its_embedded_backend(
    flet_run_web: str, page: Page, tmp_path: Path, artifacts_dir: Path
) -> None:
    open_page(page, flet_run_web)
    expect(textbox(page, "Email")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect_location(page, r"^/login$")  # served at the root, not under /dashboard
    screenshot(page, artifacts_dir / "flet-run-web-sign-in.png")
    log = (tmp_path / "data" / "logs" / "aegis-desktop.log").read_text()
    assert "backend ready" in log, "the entry script started the embedded backend"
