"""What a person sees when a limit applies: words on the screen, not a dead page.

Both states are new with the concurrency and hostile-input work, and both are driven
through the real product: a tab over the per-address cap of signed-out sessions, and
refused sign-ins folded into one audit row with a count.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from aegis_app.launch.web_sessions import TOO_MANY_SESSIONS
from tests.browser.browser_support import (
    add_session_cookie,
    expect_dashboard,
    expect_sign_in_view,
    go_via_rail,
    wait_for_text,
)
from tests.browser.conftest import (
    EMAIL,
    AegisServer,
    enable_semantics,
    expect_shown,
    new_context,
    open_page,
    screenshot,
)

pytestmark = pytest.mark.browser

FAILURES_ALLOWED = 5
REFUSED = 3


def test_a_tab_over_the_anonymous_cap_is_told_why(
    server: AegisServer, browser: Browser, page: Page, artifacts_dir: Path
) -> None:
    server.settings["AEGIS_ANONYMOUS_SESSIONS_PER_IP"] = "1"
    server.restart()
    open_page(page, server.url())
    expect_sign_in_view(page)  # the one signed-out session this address may hold

    second: BrowserContext = new_context(browser)
    try:
        tab = second.new_page()
        open_page(tab, server.url())
        enable_semantics(tab)
        expect_shown(tab, TOO_MANY_SESSIONS)
        screenshot(tab, artifacts_dir / "web-too-many-sessions.png")
    finally:
        second.close()


def test_refused_sign_ins_are_one_audit_row_with_a_count(
    server: AegisServer, context: BrowserContext, page: Page, artifacts_dir: Path
) -> None:
    server.register()
    # Signed in first: once refused, the email cannot sign in until its window ends.
    add_session_cookie(context, server)
    wrong = {"email": EMAIL, "password": "not the password"}
    statuses = [
        httpx.post(server.url("/api/v1/auth/login"), json=wrong).status_code
        for _ in range(FAILURES_ALLOWED + REFUSED)
    ]
    assert statuses == [401] * FAILURES_ALLOWED + [429] * REFUSED
    open_page(page, server.url())
    expect_dashboard(page)
    go_via_rail(page, "Audit log", "/audit")
    wait_for_text(page, rf"{REFUSED} times: Sign-ins for this email refused")
    screenshot(page, artifacts_dir / "web-audit-refused-sign-ins.png")
