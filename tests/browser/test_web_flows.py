"""The web dashboard end to end: a real ``aegis serve``, Debian's Chromium, Playwright.

Every sign-in sends the tab through the cookie hand-off, so the page reloads once:
:func:`~tests.browser.browser_support.submit_and_reload` waits for that new document
and turns semantics back on.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgpack
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.browser.browser_support import (
    WELCOME,
    expect_dashboard,
    expect_sign_in_view,
    go_to_sessions,
    screen_text,
    sign_in,
    signed_in_context,
    submit_and_reload,
    wait_for_text,
)
from tests.browser.conftest import (
    EMAIL,
    FULL_NAME,
    PASSWORD,
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
    textbox,
    wait_for_form,
)
from tests.waiting import wait_until

UPDATED = r"Updated (\d\d:\d\d:\d\d)"

pytestmark = pytest.mark.browser


def test_first_account_sign_out_and_sign_in_again(
    server: AegisServer, page: Page, artifacts_dir: Path
) -> None:
    open_page(page, server.url())
    expect_sign_in_view(page)
    expect_shown(page, "No account exists yet")
    screenshot(page, artifacts_dir / "web-sign-in.png")

    page.get_by_role("button", name="Create account").click()
    expect_location(page, r"/dashboard/register$")
    wait_for_form(page, "Full name")
    screenshot(page, artifacts_dir / "web-create-account.png")
    fill(page, "Full name", FULL_NAME)
    fill(page, "Email", EMAIL)
    fill(page, "Password", PASSWORD)
    submit_and_reload(page, "Create account")

    expect_dashboard(page)
    expect_shown(page, "Healthy")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, artifacts_dir / "web-dashboard.png")

    page.get_by_role("button", name="Sign out").click()
    expect_sign_in_view(page)
    expect_not_shown(page, WELCOME)
    # The browser may still hold the old cookie, but the server has ended that session.
    page.reload()
    enable_semantics(page)
    expect_sign_in_view(page)

    sign_in(page)
    expect_dashboard(page)


def test_session_cookie_is_http_only_and_never_visible_to_scripts(
    server: AegisServer, page: Page, context: BrowserContext
) -> None:
    server.register()
    open_page(page, server.url())
    sign_in(page)
    expect_dashboard(page)

    cookies = {c["name"]: c for c in context.cookies()}
    assert "aegis_session" in cookies, cookies
    session = cookies["aegis_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    token = session["value"]
    assert len(token) >= 32

    script_cookies = page.evaluate("document.cookie")
    assert token not in script_cookies
    assert "aegis_session" not in script_cookies
    storage = page.evaluate(
        """() => {
            const dump = (s) => Object.keys(s).map((k) => k + "=" + s.getItem(k));
            return [...dump(localStorage), ...dump(sessionStorage)];
        }"""
    )
    assert not [entry for entry in storage if token in entry], storage


def test_reload_keeps_the_user_signed_in(server: AegisServer, page: Page) -> None:
    server.register()
    open_page(page, server.url())
    sign_in(page)
    expect_dashboard(page)

    page.reload()
    enable_semantics(page)
    expect_dashboard(page)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    go_to_sessions(page)  # the re-attached session still answers clicks


def test_server_restart_keeps_the_user_signed_in(server: AegisServer, page: Page) -> None:
    server.register()
    open_page(page, server.url())
    sign_in(page)
    expect_dashboard(page)
    wait_for_text(page, UPDATED)
    first_pid = server.process.pid if server.process else None

    server.stop()
    last_shown = re.search(UPDATED, screen_text(page))  # the old session's last reading
    server.start()
    assert server.process is not None and server.process.pid != first_pid

    # The client reconnects by itself and a new Python session reads the cookie from
    # the WebSocket handshake: navigating works without typing the password. Until the
    # new session has drawn its view, clicks go to controls only the old one knew: a
    # reading the old session never showed says it has.
    old_time = re.escape(last_shown.group(1)) if last_shown else "(?!)"
    wait_for_text(page, rf"Updated (?!{old_time})\d\d:\d\d:\d\d")
    go_to_sessions(page)
    expect(textbox(page, "Password")).to_have_count(0)

    page.reload()
    enable_semantics(page)
    expect_shown(page, "This session")
    expect_location(page, r"/dashboard/sessions$")


def test_protected_deep_link_returns_there_after_sign_in(server: AegisServer, page: Page) -> None:
    server.register()
    open_page(page, server.url("/dashboard/sessions"))
    expect_sign_in_view(page)
    expect_location(page, r"/dashboard/login\?next=(%2F|/)sessions$")
    expect_not_shown(page, "This session")

    sign_in(page)
    expect_location(page, r"/dashboard/sessions$")
    expect_shown(page, "This session")


def test_wrong_password_is_reported_in_the_view(server: AegisServer, page: Page) -> None:
    server.register()
    open_page(page, server.url())
    wait_for_form(page, "Email")
    fill(page, "Email", EMAIL)
    fill(page, "Password", "not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect_shown(page, "Incorrect email or password.")
    expect_not_shown(page, "Traceback")
    expect_sign_in_view(page)
    expect(textbox(page, "Password")).to_have_value("")
    assert "Traceback" not in server.log()


def test_unknown_route_shows_not_found(
    server: AegisServer, page: Page, artifacts_dir: Path
) -> None:
    open_page(page, server.url("/dashboard/nope"))
    expect_shown(page, "Not found")
    expect_shown(page, "There is no page at this address.")
    expect_location(page, r"/dashboard/nope$")
    screenshot(page, artifacts_dir / "web-not-found.png")

    page.get_by_role("button", name="Go to the dashboard").click()
    expect_sign_in_view(page)  # the dashboard needs a signed-in user


def flet_session_id(page: Page) -> str | None:
    value: str | None = page.evaluate(
        """() => Object.keys(sessionStorage)
                .filter((k) => k.includes("flet_session_id"))
                .map((k) => sessionStorage.getItem(k))[0] ?? null"""
    )
    return value


def test_each_tab_gets_its_own_session(
    server: AegisServer, browser: Browser, context: BrowserContext
) -> None:
    server.register()
    context.add_cookies(
        [
            {
                "name": "aegis_session",
                "value": server.login_token(),
                "url": server.base_url,
                "httpOnly": True,
            }
        ]
    )
    first = context.new_page()
    open_page(first, server.url())
    expect_dashboard(first)

    second = context.new_page()  # a new tab: empty sessionStorage
    open_page(second, server.url())
    expect_dashboard(second)

    # A duplicated tab copies sessionStorage, and with it the first tab's session id.
    with first.expect_popup() as popup_info:
        first.evaluate("window.open(location.href)")
    duplicate = popup_info.value
    duplicate.set_default_timeout(UI_TIMEOUT_MS)
    enable_semantics(duplicate)
    expect_dashboard(duplicate)

    ids = [flet_session_id(p) for p in (first, second, duplicate)]
    assert all(ids), ids
    assert len(set(ids)) == 3, f"tabs share a Flet session: {ids}"

    # The first tab is still alive: it answers a click, and only it navigates.
    first.bring_to_front()
    go_to_sessions(first)
    for other in (second, duplicate):
        expect_shown(other, WELCOME)
        expect_location(other, r"/dashboard/$")
    go_to_sessions(duplicate)


def test_ending_another_session_signs_that_device_out(
    server: AegisServer, browser: Browser, page: Page, artifacts_dir: Path
) -> None:
    server.register()
    other = signed_in_context(
        browser, server, user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/140.0"
    )
    try:
        # The other device waits on the Sessions page, which does not poll: only the
        # reload can notice the ended session. A device on the live dashboard, whose
        # refresh notices it by itself (with or without a reload), is covered in
        # test_dashboard_tour.py.
        other_page = other.new_page()
        open_page(other_page, server.url("/dashboard/sessions"))
        expect_shown(other_page, "This session")

        open_page(page, server.url("/dashboard/sessions"))
        sign_in(page)
        expect_shown(page, "This session")
        expect_shown(page, "Firefox on Windows")
        # Only the other session can be ended from here.
        end_buttons = page.get_by_role("button", name="End session")
        expect(end_buttons).to_have_count(1)
        screenshot(page, artifacts_dir / "web-sessions.png")

        end_buttons.click()
        expect(end_buttons).to_have_count(0)
        expect_shown(page, "This session")

        other_page.reload()
        enable_semantics(other_page)
        expect_sign_in_view(other_page)
        expect_not_shown(other_page, WELCOME)
    finally:
        other.close()


def register_frame(route: str = "/") -> bytes:
    page = {"route": route, "width": 800, "height": 600, "web": True, "platform": "linux"}
    frame: bytes = msgpack.packb([1, {"session_id": None, "page_name": "", "page": page}])
    return frame


def test_websocket_from_a_foreign_origin_is_refused(server: AegisServer) -> None:
    endpoint = f"ws://127.0.0.1:{server.port}/dashboard/ws"

    with pytest.raises(InvalidStatus) as refused:
        connect(endpoint, origin=Origin("http://evil.example"), open_timeout=10)
    assert refused.value.response.status_code == 403

    with connect(endpoint, origin=Origin(server.base_url), open_timeout=10) as ws:
        ws.send(register_frame())
        action, body = msgpack.unpackb(ws.recv(timeout=10))
    assert action == 1
    assert body["session_id"] and not body["error"]


def test_a_flet_session_id_without_its_cookie_gets_a_fresh_sign_in_page(
    server: AegisServer, browser: Browser, context: BrowserContext, page: Page
) -> None:
    """Item 5: the hand-off's reload keeps the signed-in Python session (same cookie);
    the id alone (sessionStorage is readable by scripts) gets nothing."""
    server.register()
    open_page(page, server.url())
    expect_sign_in_view(page)
    (key,) = page.evaluate(
        "() => Object.keys(sessionStorage).filter((k) => k.includes('flet_session_id'))"
    )
    signed_out_id = flet_session_id(page)
    sign_in(page)  # the hand-off navigates this tab and the page loads again
    expect_dashboard(page)
    signed_in_id = flet_session_id(page)
    assert signed_in_id == signed_out_id, "the hand-off's reload did not re-attach"

    disconnects = server.log().count("Session disconnected")
    page.close()  # the tab goes away; its Python session waits for a reconnect
    wait_until(
        lambda: server.log().count("Session disconnected") > disconnects,
        UI_TIMEOUT_MS / 1000,
        what="the server to notice the closed tab",
    )

    present_id = f"sessionStorage.setItem({key!r}, {signed_in_id!r})"
    thief_context = new_context(browser)  # same browser and address, no cookie
    try:
        thief = thief_context.new_page()
        thief.add_init_script(present_id)
        open_page(thief, server.url())
        expect_sign_in_view(thief)
        expect_not_shown(thief, WELCOME)
        assert flet_session_id(thief) != signed_in_id
    finally:
        thief_context.close()

    owner = context.new_page()  # the owner's browser, cookie and all
    owner.add_init_script(present_id)
    open_page(owner, server.url())
    expect_dashboard(owner)
    assert flet_session_id(owner) == signed_in_id, "the owner did not get the session back"
    assert signed_in_id is not None and signed_in_id not in server.log()
