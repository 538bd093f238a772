"""An open dashboard while the database goes away and comes back, in a real browser.

The SQLite file of a real ``aegis serve`` is taken away (a directory in its place, which
SQLite cannot open), so every API call answers 503 "The database is unreachable …". The
dashboard shows a banner saying so over the last figures, in the light and the dark
theme (screenshots in ``test-artifacts/``), and clears it by itself once the file is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.browser_support import (
    brightness,
    expect_dashboard,
    go_via_rail,
    pixel,
    signed_in_context,
    wait_for_text,
)
from tests.browser.conftest import VIEWPORT, AegisServer, expect_shown, open_page, screenshot

pytestmark = pytest.mark.browser

OUTAGE_TEXT = "The database is unreachable"
OUTAGE = OUTAGE_TEXT
KEPT = r"The figures below are from \d\d:\d\d:\d\d"
FIGURES = r"Updated \d\d:\d\d:\d\d.*Last hour.*CPU"


@contextmanager
def database_gone(server: AegisServer) -> Iterator[None]:
    path = server.data_dir / "aegis.db"
    aside = path.with_name("aegis.db.away")
    path.rename(aside)
    path.mkdir()
    try:
        yield
    finally:
        path.rmdir()
        aside.rename(path)


def banner_brightness(page: Page) -> float:
    """The brightness of the banner's background, near its right end (it spans the page)."""
    message = page.get_by_text(OUTAGE_TEXT, exact=False).or_(
        page.get_by_label(OUTAGE_TEXT, exact=False)
    )
    box = message.first.bounding_box()
    assert box is not None, "the banner is not on screen"
    x, y = VIEWPORT["width"] - 60, int(box["y"] + box["height"] / 2)
    return brightness(pixel(page, page.screenshot(), x, y))


def outage_and_back(page: Page, server: AegisServer, shot: Path) -> float:
    wait_for_text(page, FIGURES)
    with database_gone(server):
        text = wait_for_text(page, rf"{OUTAGE}.*{KEPT}", timeout=15_000)
        assert "Last hour" in text and "CPU" in text, "the last figures stay on screen"
        screenshot(page, shot)
        background = banner_brightness(page)
    wait_for_text(page, rf"^(?!.*{OUTAGE}).*{FIGURES}", timeout=15_000)
    return background


def test_the_dashboard_says_the_database_is_unreachable_and_recovers(
    browser: Browser, server: AegisServer, artifacts_dir: Path
) -> None:
    server.register()
    context = signed_in_context(browser, server)
    try:
        page = context.new_page()
        open_page(page, server.url("/dashboard/"))
        expect_dashboard(page)
        light = outage_and_back(page, server, artifacts_dir / "web-database-outage.png")

        go_via_rail(page, "Settings", "/settings")
        page.get_by_role("button", name="Dark").click()
        go_via_rail(page, "Dashboard", "/")
        expect_shown(page, "Live system health")
        dark = outage_and_back(page, server, artifacts_dir / "web-database-outage-dark.png")
    finally:
        context.close()
    # The theme's error container: a light tint in the light theme, a deep one in the dark.
    assert light > 150, f"light theme banner brightness {light}"
    assert dark < 110, f"dark theme banner brightness {dark}"
