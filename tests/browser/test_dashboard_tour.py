"""A tour of every view in a real browser, the way people get around: by the navigation.

An admin walks the rail (and leaves a screenshot of each view in ``test-artifacts/``),
creates a viewer, who then sees only what a viewer may; a narrow window gets a menu
instead of the rail; and a device whose session is ended elsewhere while it shows the
live dashboard lands on the sign-in view.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from aegis_app.api_client import SESSION_ENDED
from tests.browser.browser_support import (
    WELCOME,
    add_session_cookie,
    brightness,
    expect_dashboard,
    expect_sign_in_view,
    go_via_rail,
    pixel,
    rail_titles,
    sign_in,
    signed_in_context,
    wait_for_text,
)
from tests.browser.conftest import (
    UI_TIMEOUT_MS,
    AegisServer,
    enable_semantics,
    expect_location,
    expect_not_shown,
    expect_shown,
    fill,
    new_context,
    open_page,
    screenshot,
    wait_for_form,
)
from tests.waiting import ConditionTimeout, wait_until

pytestmark = pytest.mark.browser

TOUR_VIEWPORT = {"width": 1280, "height": 900}
NARROW_VIEWPORT = {"width": 600, "height": 900}
VIEWER_NAME = "Grace Hopper"
VIEWER_EMAIL = "grace@example.com"
VIEWER_PASSWORD = "a viewer's own passphrase"
STATUS = r"(Healthy|Degraded|Down|Unknown)"
UPDATED = r"Updated (\d\d:\d\d:\d\d)"
APP_BAR = (640, 12)
"""A point of the top bar between the title and the user's name: its background."""


def wait_for_app_bar(page: Page, theme: str) -> None:
    """The top bar is drawn in ``theme`` ("light" or "dark"): the theme animates."""
    page.mouse.move(0, TOUR_VIEWPORT["height"] - 1)
    seen: list[float] = []

    def drawn() -> bool:
        seen.append(brightness(pixel(page, page.screenshot(), *APP_BAR)))
        return seen[-1] > 180 if theme == "light" else seen[-1] < 80

    try:
        wait_until(drawn, UI_TIMEOUT_MS / 1000, what=f"the {theme} theme's top bar")
    except ConditionTimeout as error:
        raise AssertionError(f"{error}; its brightness went {seen}") from None


def wait_for_live_periods(server: AegisServer, readings: int = 2) -> None:
    """Until the live feed has handed out ``readings`` readings to a new subscriber: a
    dashboard still subscribed would have had a refresh in that time."""
    cookies = {"aegis_session": server.login_token()}
    seen = 0
    with httpx.stream(
        "GET", server.url("/api/v1/system/live"), cookies=cookies, timeout=30
    ) as stream:
        for line in stream.iter_lines():
            seen += line == "event: reading"
            if seen == readings:
                return
    raise AssertionError(f"the live feed ended after {seen} readings")


def check_dashboard(page: Page, artifacts_dir: Path) -> None:
    expect_dashboard(page)
    text = wait_for_text(
        page,
        rf"{UPDATED}.*{STATUS}\. .*API {STATUS}.*Database {STATUS}.*Scheduler {STATUS}"
        rf".*Host {STATUS}.*Last hour Figures from instance .*CPU.*Memory.*API latency"
        r".*Database latency",
    )
    first = re.search(UPDATED, text)
    assert first is not None, text
    # The dashboard is live: it loads again every few seconds on its own.
    wait_for_text(page, rf"Updated (?!{first.group(1)})\d\d:\d\d:\d\d", timeout=15_000)
    screenshot(page, artifacts_dir / "web-tour-dashboard.png")


def check_sessions(page: Page, artifacts_dir: Path) -> None:
    go_via_rail(page, "Sessions", "/sessions")
    expect_shown(page, "Everywhere you are signed in")
    expect_shown(page, "This session")
    screenshot(page, artifacts_dir / "web-tour-sessions.png")


def create_viewer(page: Page, artifacts_dir: Path) -> None:
    go_via_rail(page, "Users", "/users")
    wait_for_form(page, "New user's full name")
    wait_for_text(page, r"Ada Lovelace.*ada@example\.com.*Admin.*Active")
    fill(page, "New user's full name", VIEWER_NAME)
    fill(page, "New user's email", VIEWER_EMAIL)
    fill(page, "Password (optional)", VIEWER_PASSWORD)
    page.get_by_role("button", name="Create user", exact=True).click()
    expect_shown(page, f"Created {VIEWER_EMAIL} with the password you set.")
    wait_for_text(page, rf"{VIEWER_NAME}.*{re.escape(VIEWER_EMAIL)}.*Viewer.*Active")
    expect_shown(page, "1-2 of 2")
    screenshot(page, artifacts_dir / "web-tour-users.png")


def check_audit_log(page: Page, artifacts_dir: Path) -> None:
    go_via_rail(page, "Audit log", "/audit")
    # Newest first: the user just created, then the sign-in, then the first account.
    wait_for_text(page, r"User created.*Registered")
    expect_shown(page, VIEWER_EMAIL)
    screenshot(page, artifacts_dir / "web-tour-audit.png")


def check_theme(page: Page, artifacts_dir: Path) -> None:
    go_via_rail(page, "Settings", "/settings")
    expect_shown(page, "Remembered on this device.")
    screenshot(page, artifacts_dir / "web-tour-settings.png")
    wait_for_app_bar(page, "light")

    page.get_by_role("button", name="Dark").click()
    page.wait_for_function(
        "() => Object.entries(localStorage).some(([k, v]) => k.includes('aegis.theme')"
        " && v.includes('dark'))"
    )
    wait_for_app_bar(page, "dark")
    screenshot(page, artifacts_dir / "web-tour-settings-dark.png")

    go_via_rail(page, "Dashboard", "/")
    expect_dashboard(page)
    wait_for_text(page, r"Last hour Figures from instance .*CPU")
    screenshot(page, artifacts_dir / "web-tour-dashboard-dark.png")

    go_via_rail(page, "Settings", "/settings")
    page.get_by_role("button", name="Light").click()
    page.wait_for_function(
        "() => Object.entries(localStorage).some(([k, v]) => k.includes('aegis.theme')"
        " && v.includes('light'))"
    )
    wait_for_app_bar(page, "light")


def check_viewer(browser: Browser, server: AegisServer, artifacts_dir: Path) -> None:
    """The viewer signs in on a device of their own and sees no admin pages."""
    context = new_context(browser)
    try:
        page = context.new_page()
        page.set_viewport_size(TOUR_VIEWPORT)  # type: ignore[arg-type]
        open_page(page, server.url())
        sign_in(page, VIEWER_EMAIL, VIEWER_PASSWORD)
        expect_dashboard(page, f"Welcome, {VIEWER_NAME}")
        expect_shown(page, "Viewer")
        assert rail_titles(page) == ["Dashboard", "Sessions", "Settings"]
        screenshot(page, artifacts_dir / "web-tour-viewer-dashboard.png")

        for path in ("/users", "/audit"):
            open_page(page, server.url(f"/dashboard{path}"))
            expect_shown(page, "Not allowed")
            expect_shown(page, "This page is for administrators.")
            expect_location(page, rf"/dashboard{path}$")
            expect_not_shown(page, "Create a user")
            expect_not_shown(page, "Sign-ins, sessions and changes")
        screenshot(page, artifacts_dir / "web-tour-viewer-not-allowed.png")
    finally:
        context.close()


def test_an_admin_tours_every_view_and_a_viewer_sees_only_theirs(
    server: AegisServer,
    browser: Browser,
    context: BrowserContext,
    page: Page,
    artifacts_dir: Path,
) -> None:
    server.register()
    add_session_cookie(context, server)
    page.set_viewport_size(TOUR_VIEWPORT)  # type: ignore[arg-type]
    open_page(page, server.url())
    expect_dashboard(page)
    assert rail_titles(page) == ["Dashboard", "Sessions", "Users", "Audit log", "Settings"]

    check_dashboard(page, artifacts_dir)
    check_sessions(page, artifacts_dir)
    create_viewer(page, artifacts_dir)
    check_audit_log(page, artifacts_dir)
    check_theme(page, artifacts_dir)
    check_viewer(browser, server, artifacts_dir)


def test_a_narrow_window_has_a_menu_instead_of_the_rail(
    server: AegisServer, context: BrowserContext, page: Page, artifacts_dir: Path
) -> None:
    server.register()
    add_session_cookie(context, server)
    page.set_viewport_size(NARROW_VIEWPORT)  # type: ignore[arg-type]
    open_page(page, server.url())
    expect_dashboard(page)
    assert rail_titles(page) == []

    page.get_by_role("button", name="Menu", exact=True).click()
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitemcheckbox")).to_have_count(5)
    for title in ("Dashboard", "Sessions", "Users", "Audit log", "Settings"):
        entry = menu.get_by_role("menuitemcheckbox", name=title, exact=True)
        expect(entry).to_be_checked(checked=title == "Dashboard")
    screenshot(page, artifacts_dir / "web-tour-narrow-menu.png")

    # Flutter marks menu items as not tappable in its semantics tree, so Playwright
    # sees the canvas on top; a pointer click at the item's place still chooses it.
    menu.get_by_role("menuitemcheckbox", name="Sessions").click(force=True)
    expect_location(page, r"/dashboard/sessions$")
    expect_shown(page, "This session")
    expect(page.get_by_role("menu")).to_have_count(0)
    screenshot(page, artifacts_dir / "web-tour-narrow.png")


@pytest.mark.parametrize("how", ["live refresh", "reload"])
def test_a_device_ended_elsewhere_leaves_the_live_dashboard_for_sign_in(
    server: AegisServer,
    browser: Browser,
    context: BrowserContext,
    page: Page,
    artifacts_dir: Path,
    how: str,
) -> None:
    server.register()
    device_b = signed_in_context(
        browser, server, user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/140.0"
    )
    try:
        other = device_b.new_page()
        open_page(other, server.url())
        expect_dashboard(other)
        wait_for_text(other, r"Last hour Figures from instance .*CPU")
        new_documents: list[str] = []
        other.on("load", lambda p: new_documents.append(p.url))

        # Device A ends B's session on the Sessions page.
        add_session_cookie(context, server)
        open_page(page, server.url("/dashboard/sessions"))
        expect_shown(page, "Firefox on Windows")
        end = page.get_by_role("button", name="End session")
        expect(end).to_have_count(1)
        end.click()
        expect(end).to_have_count(0)

        if how == "reload":
            other.reload()
            enable_semantics(other)
        expect_sign_in_view(other)
        expect_not_shown(other, WELCOME)
        if how == "live refresh":
            # Told why, by the dashboard's own refresh, in the same document.
            expect_shown(other, SESSION_ENDED)
            assert new_documents == [], new_documents
            screenshot(other, artifacts_dir / "web-tour-session-ended.png")
        # And it stays there: no later refresh or reconnect puts the dashboard back.
        wait_for_live_periods(server)
        expect_sign_in_view(other)
        expect_not_shown(other, WELCOME)
    finally:
        device_b.close()
