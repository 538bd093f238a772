"""BrowserCookieStore: the token from the WebSocket handshake, and the cookie hand-off."""

from __future__ import annotations

import contextvars
from typing import Any
from urllib.parse import parse_qs, urlsplit

import flet as ft
import httpx
import pytest

from aegis_app.api_client import APIClient
from aegis_app.launch.web import BrowserCookieStore, HandshakeCookieReader, web_target
from aegis_app.launch.web_sessions import handshake_token
from aegis_app.views.dashboard import DashboardView
from aegis_app.views.sessions import SessionsView
from backend.core.config import SESSION_COOKIE
from tests.aegis_app.pilot import Pilot
from tests.aegis_app.ui_support import ADA, Backend


def test_load_returns_the_handshake_token_seen_at_construction() -> None:
    api = APIClient(httpx.AsyncClient())

    def construct() -> BrowserCookieStore:
        handshake_token.set("token-from-the-upgrade")
        return BrowserCookieStore(api, "/dashboard")

    # A fresh context, as each WebSocket connection's task has.
    store = contextvars.copy_context().run(construct)
    assert handshake_token.get() is None
    assert store.load() == "token-from-the-upgrade"
    assert BrowserCookieStore(api, "/dashboard").load() is None


@pytest.fixture
async def web_pilot(ui_backend: Backend) -> Any:
    pilots: list[Pilot] = []

    async def start(route: str) -> Pilot:
        pilot = Pilot(web_target(ui_backend.app, "/dashboard"), route=route)
        pilots.append(pilot)
        return await pilot.start()

    yield start
    for pilot in pilots:
        await pilot.close()
        assert not pilot.conn.crashes, pilot.conn.crashes


async def test_sign_in_hands_the_cookie_to_the_browser(
    web_pilot: Any, ui_backend: Backend, ada: Any
) -> None:
    pilot: Pilot = await web_pilot("/login?next=%2Fsessions")
    assert isinstance(pilot.state.cookie_store, BrowserCookieStore)
    assert pilot.invoked("launch_url") == []
    await pilot.fill("Email", ADA["email"])
    await pilot.fill("Password", ADA["password"])
    await pilot.click("Sign in", ft.FilledButton)
    assert isinstance(pilot.view, SessionsView)

    (launch,) = pilot.invoked("launch_url")
    assert launch.args["web_only_window_name"] == "_self"
    url = urlsplit(launch.args["url"])
    assert url.path.startswith("/api/v1/auth/handoff/")
    assert parse_qs(url.query) == {"next": ["/dashboard/sessions"]}
    assert launch.args["url"].endswith("?next=/dashboard/sessions")

    # The browser follows it: the one-time code becomes the HttpOnly cookie.
    browser = await ui_backend.client()
    # Chromium's header for our own page's same-tab navigation (tests/browser proves it).
    browser.headers["sec-fetch-site"] = "same-origin"
    response = await browser.get(launch.args["url"])
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/sessions"
    assert browser.cookies[SESSION_COOKIE] == pilot.api.session_token
    assert (await browser.get(launch.args["url"])).status_code == 303
    assert "set-cookie" not in (await browser.get(launch.args["url"])).headers, "one use only"

    # Later navigation does not hand off again.
    await pilot.visit("/")
    assert isinstance(pilot.view, DashboardView)
    assert len(pilot.invoked("launch_url")) == 1


async def test_save_then_a_navigation_posts_the_handoff(
    ui_backend: Backend, ada: Any, web_pilot: Any
) -> None:
    """The store on its own: save(token), then the next navigation launches the URL."""
    pilot: Pilot = await web_pilot("/login")
    api = pilot.api
    api.adopt_session_token(ada[1])
    store = BrowserCookieStore(api, "/dashboard")
    await store.save(ada[1])

    async def navigate() -> None:
        await store.hand_off("/sessions?tab=1")
        await store.hand_off("/")  # nothing pending any more

    await pilot.conn.track(navigate())
    (launch,) = pilot.invoked("launch_url")
    assert launch.args["web_only_window_name"] == "_self"
    code = urlsplit(launch.args["url"]).path.rsplit("/", 1)[1]
    assert launch.args["url"] == f"/api/v1/auth/handoff/{code}?next=/dashboard/sessions%3Ftab%3D1"
    assert store.load() == ada[1]


async def test_saving_the_handshake_token_again_hands_nothing_off(
    ui_backend: Backend, ada: Any, web_pilot: Any
) -> None:
    pilot: Pilot = await web_pilot("/login")
    reset = handshake_token.set(ada[1])
    try:
        store = BrowserCookieStore(pilot.api, "/dashboard")
    finally:
        handshake_token.reset(reset)
    await store.save(ada[1])
    await pilot.conn.track(store.hand_off("/"))
    assert pilot.invoked("launch_url") == []
    await store.save(None)
    assert store.load() is None


# -- reading the cookie from the WebSocket upgrade -------------------------------------

TOKEN = "k3Y_-tOkEn0123456789abcdefghijklmnopqrstu"
ODD_SIBLINGS = {
    "json": 'prefs={"theme":"dark","sidebar":true}',
    "json-with-space": 'prefs={"theme": "dark"}',
    "space": "greeting=hello world",
    "backslash": "path=C:\\Users\\ada",
    "unterminated-quote": 'note="half open',
}


@pytest.mark.parametrize("sibling", ODD_SIBLINGS.values(), ids=ODD_SIBLINGS.keys())
@pytest.mark.parametrize("ours_first", [True, False], ids=["ours-first", "ours-last"])
async def test_an_odd_sibling_cookie_does_not_hide_the_session(
    sibling: str, ours_first: bool
) -> None:
    """Another app on the same host may set any cookie; ours must still be read.

    The inner app stands in for Flet (the boundary): it records what ``main`` would see.
    """
    pair = f"{SESSION_COOKIE}={TOKEN}"
    header = f"{pair}; {sibling}" if ours_first else f"{sibling}; {pair}"
    seen: list[str | None] = []

    async def flet_stand_in(scope: Any, receive: Any, send: Any) -> None:
        seen.append(handshake_token.get())

    scope = {"type": "websocket", "headers": [(b"cookie", header.encode("latin-1"))]}
    await contextvars.copy_context().run(
        HandshakeCookieReader(flet_stand_in), scope, _never_receive, _never_send
    )
    assert seen == [TOKEN]


async def test_no_session_cookie_is_no_token() -> None:
    seen: list[str | None] = []

    async def flet_stand_in(scope: Any, receive: Any, send: Any) -> None:
        seen.append(handshake_token.get())

    for header in (b"", b"other=1", f"{SESSION_COOKIE}=".encode()):
        scope = {"type": "websocket", "headers": [(b"cookie", header)]}
        await contextvars.copy_context().run(
            HandshakeCookieReader(flet_stand_in), scope, _never_receive, _never_send
        )
    assert seen == [None, None, None]


async def _never_receive() -> Any:
    raise AssertionError("not reached")


async def _never_send(message: Any) -> None:
    raise AssertionError("not reached")
