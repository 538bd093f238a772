"""A status changing colour on an open dashboard, in a real browser.

The host's CPU is kept busy by spinning processes (one more than its cores) until the
live feed reports the host "Degraded" (over 90 % CPU); then they stop and it turns back
to "Healthy". The banner's and the Host card's borders and tints follow in Chromium: the
borders are the values ``property_patch`` sends whole, as Flet's diff would.
Screenshots in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.browser_support import (
    expect_dashboard,
    pixel_row,
    signed_in_context,
    wait_for_text,
)
from tests.browser.conftest import AegisServer, open_page, screenshot, still_screenshot

pytestmark = pytest.mark.browser

DEGRADED = "Degraded. Some components need attention."
HEALTHY = "Healthy. All systems are healthy."
LIVE_FEED_TIMEOUT_MS = 30_000
"""Two readings of the host's CPU (one per 5 s period) and the push after them."""


@contextmanager
def busy_cpus() -> Iterator[None]:
    """More spinning processes than the machine has cores: the host reads 100 % CPU."""
    count = (os.cpu_count() or 1) + 1
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def banner_border(page: Page, words: str) -> tuple[int, int, int]:
    """The most colourful pixel where the banner's left border is, beside ``words``."""
    text = page.get_by_text(words, exact=False).or_(page.get_by_label(words, exact=False))
    box = text.first.bounding_box()
    source = page.get_by_text("Status of instance", exact=False).first.bounding_box()
    assert box is not None and source is not None, "the banner is not on screen"
    # The banner and the line under it start at the same left edge.
    left, middle = int(source["x"]), int(box["y"] + box["height"] / 2)
    row = pixel_row(page, still_screenshot(page, "the banner"), middle, left - 3, left + 4)
    return max(row, key=lambda rgb: max(rgb) - min(rgb))


def is_orange(rgb: tuple[int, int, int]) -> bool:
    red, green, blue = rgb
    return red > green + 30 and green > blue + 30


def is_green(rgb: tuple[int, int, int]) -> bool:
    red, green, blue = rgb
    return green > red + 30 and green > blue + 20


def test_the_host_turns_degraded_under_load_and_healthy_after(
    browser: Browser, server: AegisServer, artifacts_dir: Path
) -> None:
    server.register()
    context = signed_in_context(browser, server)
    try:
        page = context.new_page()
        open_page(page, server.url("/dashboard/"))
        expect_dashboard(page)
        wait_for_text(page, f"{HEALTHY}.*Host Healthy")
        healthy = banner_border(page, HEALTHY)
        with busy_cpus():
            wait_for_text(page, f"{DEGRADED}.*Host Degraded", timeout=LIVE_FEED_TIMEOUT_MS)
            screenshot(page, artifacts_dir / "web-status-degraded.png")
            degraded = banner_border(page, DEGRADED)
        wait_for_text(page, f"{HEALTHY}.*Host Healthy", timeout=LIVE_FEED_TIMEOUT_MS)
        screenshot(page, artifacts_dir / "web-status-healthy-again.png")
        healthy_again = banner_border(page, HEALTHY)
    finally:
        context.close()
    assert is_green(healthy), f"healthy border {healthy}"
    assert is_orange(degraded), f"degraded border {degraded}"
    assert is_green(healthy_again), f"healthy-again border {healthy_again}"
