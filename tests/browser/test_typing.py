"""Typing as fast as a person in a hurry, a password manager or a paste does.

Text typed into a field before Flutter's web engine listens to it used to be dropped
(a fill then Enter sent an empty password; keys right after a click lost their first
letters), most often right after a view change. ``aegis_app/launch/early_typing.py``
keeps it. Each test starts every round right after a view change (the dashboard left
for sign-in) and types without waiting for anything but what a person sees.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from flet_web.fastapi import flet_static_files
from playwright.sync_api import Page, expect

from aegis_app.launch.early_typing import (
    EARLY_TYPING_SCRIPT,
    IndexChanged,
    keep_early_typing,
    with_early_typing,
)
from tests.browser.browser_support import expect_dashboard
from tests.browser.conftest import (
    EMAIL,
    PASSWORD,
    UI_TIMEOUT_MS,
    AegisServer,
    enable_semantics,
    open_page,
    screenshot,
    textbox,
)

pytestmark = pytest.mark.browser

ROUNDS = 3
KEY_DELAY_MS = 20


def type_fast(page: Page) -> None:
    textbox(page, "Email").click()
    page.keyboard.type(EMAIL, delay=KEY_DELAY_MS)
    page.keyboard.press("Tab")
    # Flutter moves the focus on Tab itself, a frame later; a person sees the caret
    # move before typing on (keys within that frame land in the field being left).
    expect(textbox(page, "Password")).to_be_focused()
    page.keyboard.type(PASSWORD, delay=KEY_DELAY_MS)
    page.keyboard.press("Enter")


def fill_at_once(page: Page) -> None:
    textbox(page, "Email").fill(EMAIL)
    textbox(page, "Password").fill(PASSWORD)
    page.keyboard.press("Enter")


def sign_in_rounds(page: Page, server: AegisServer, enter: Callable[[Page], None]) -> None:
    """``ROUNDS`` times: enter the credentials on a sign-in view just shown, reach the
    dashboard (through the hand-off's reload), sign out."""
    server.register()
    open_page(page, server.url())
    for round_number in range(1, ROUNDS + 1):
        expect(textbox(page, "Email")).to_be_visible()  # the view has just changed
        with page.expect_event("load", timeout=UI_TIMEOUT_MS):  # the hand-off's reload
            enter(page)
        enable_semantics(page)
        expect_dashboard(page)
        print(f"round {round_number}: signed in")
        if round_number < ROUNDS:
            page.get_by_role("button", name="Sign out").click()


def test_the_script_goes_into_the_head_once_and_a_changed_index_is_refused() -> None:
    assert with_early_typing("<html><head><title>t</title></head><body></body></html>") == (
        f"<html><head><title>t</title>{EARLY_TYPING_SCRIPT}</head><body></body></html>"
    )
    with pytest.raises(IndexChanged):
        with_early_typing("<html><body></body></html>")
    keep_early_typing()
    patched = flet_static_files.patch_index_html
    keep_early_typing()
    assert flet_static_files.patch_index_html is patched


def test_the_served_page_carries_the_early_typing_script(server: AegisServer) -> None:
    index = httpx.get(server.url("/dashboard/login"), timeout=10)
    assert index.status_code == 200
    assert index.text.count("window.aegisEarlyTyping = ") == 1
    assert index.text.index("window.aegisEarlyTyping") < index.text.index("</head>")


def test_typing_at_20_ms_a_key_right_after_a_view_change_signs_in(
    server: AegisServer, page: Page, artifacts_dir: Path
) -> None:
    sign_in_rounds(page, server, type_fast)
    screenshot(page, artifacts_dir / "web-fast-typing-dashboard.png")


def test_fields_filled_and_submitted_at_once_sign_in(server: AegisServer, page: Page) -> None:
    """A password manager or a paste: both fields filled, then Enter at once."""
    sign_in_rounds(page, server, fill_at_once)
