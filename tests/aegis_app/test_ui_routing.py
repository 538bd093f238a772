"""Route table, route helpers, and the router's guards driven through a real session."""

from __future__ import annotations

from typing import Any

import flet as ft
import pytest

from aegis_app.routing import safe_next, sign_in_route, split_route
from aegis_app.views.auth import RegisterView, SignInView
from aegis_app.views.dashboard import DashboardView
from aegis_app.views.not_found import NotAllowedView, NotFoundView
from aegis_app.views.registry import PAGES, ROUTE_TO_VIEW
from aegis_app.views.sessions import SessionsView
from tests.aegis_app.pilot import Pilot
from tests.aegis_app.ui_support import PASSWORD, MakePilot


def test_route_table_holds_every_page_under_its_own_route() -> None:
    expected = {
        "/": DashboardView,
        "/sessions": SessionsView,
        "/login": SignInView,
        "/register": RegisterView,
    }
    assert expected.items() <= ROUTE_TO_VIEW.items()
    assert NotFoundView not in ROUTE_TO_VIEW.values()
    for route, view in ROUTE_TO_VIEW.items():
        assert view.route == route
        # Only the sign-in and sign-up pages may be seen signed out.
        assert view.requires_auth is (view not in (SignInView, RegisterView)), view


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("", ("/", {})),
        ("/", ("/", {})),
        ("/sessions/", ("/sessions", {})),
        ("/login?next=%2Fsessions&x=1", ("/login", {"next": "/sessions", "x": "1"})),
    ],
)
def test_split_route(route: str, expected: tuple[str, dict[str, str]]) -> None:
    assert split_route(route) == expected


@pytest.mark.parametrize("target", ["/sessions", "/sessions?x=1", "/"])
def test_safe_next_keeps_in_app_paths(target: str) -> None:
    assert safe_next({"next": target}) == target


@pytest.mark.parametrize(
    "target",
    ["//evil.com", "//evil.com/dashboard", "https://evil", "/\\evil", "\\\\evil", "evil", ""],
)
def test_safe_next_refuses_other_sites(target: str) -> None:
    assert safe_next({"next": target}) == "/"


def test_safe_next_without_next_goes_home() -> None:
    assert safe_next({}) == "/"


def test_sign_in_route_carries_the_destination() -> None:
    assert sign_in_route("/login", "/sessions") == "/login?next=%2Fsessions"
    assert sign_in_route("/login", "/sessions?x=1") == "/login?next=%2Fsessions%3Fx%3D1"
    assert split_route(sign_in_route("/login", "/sessions?x=1"))[1] == {"next": "/sessions?x=1"}
    assert sign_in_route("/login", "/") == "/login"
    assert sign_in_route("/login", "/login?next=/x") == "/login"


def test_the_router_is_handed_the_pages_and_sends_to_the_sign_in_page_they_name() -> None:
    assert PAGES.by_route is ROUTE_TO_VIEW
    assert PAGES.sign_in is SignInView and SignInView.route == "/login"
    assert (PAGES.not_found, PAGES.not_allowed) == (NotFoundView, NotAllowedView)


async def test_unknown_route_shows_not_found(make_pilot: MakePilot) -> None:
    pilot = await make_pilot("/no/such/page")
    assert isinstance(pilot.view, NotFoundView)
    assert pilot.find(ft.Text, "Not found").visible
    assert pilot.page.title == "Not found · Aegis"


async def test_not_found_links_home(make_pilot: MakePilot) -> None:
    pilot = await make_pilot("/nope")
    await pilot.click("Go to the dashboard")
    # Home needs a session, so the signed-out user lands on sign-in.
    assert isinstance(pilot.view, SignInView)
    assert pilot.route == "/login"


async def test_protected_route_signed_out_asks_to_sign_in_first(make_pilot: MakePilot) -> None:
    pilot = await make_pilot("/sessions")
    assert isinstance(pilot.view, SignInView)
    assert pilot.pushed_routes == ["/login?next=%2Fsessions"]
    assert pilot.route == "/login?next=%2Fsessions"
    assert pilot.view.params == {"next": "/sessions"}
    assert pilot.store is not None
    # The protected view was never built, so no data of it was fetched or shown.
    assert pilot.store.navigations == ["/login?next=%2Fsessions"]


async def test_sign_in_lands_on_the_asked_for_route(
    make_pilot: MakePilot, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/sessions")
    await pilot.fill("Email", "ADA@example.com ")
    await pilot.fill("Password", PASSWORD)
    await pilot.click("Sign in", ft.FilledButton)
    assert isinstance(pilot.view, SessionsView)
    assert pilot.route == "/sessions"
    assert pilot.state.user is not None and pilot.state.user.full_name == "Ada Lovelace"
    assert pilot.store is not None and pilot.store.token == pilot.api.session_token
    assert pilot.has_text("This session")


async def test_sign_in_with_enter_in_the_password_field(
    make_pilot: MakePilot, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/login")
    await pilot.fill("Email", "ada@example.com")
    await pilot.submit("Email")
    assert pilot.invoked("focus")[-1].control_id == pilot.find(ft.TextField, "Password")._i
    await pilot.fill("Password", PASSWORD)
    await pilot.submit("Password")
    assert isinstance(pilot.view, DashboardView)
    assert pilot.route == "/"


async def test_sign_in_ignores_a_next_that_leaves_the_app(
    make_pilot: MakePilot, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/login?next=%2F%2Fevil.com")
    await pilot.fill("Email", "ada@example.com")
    await pilot.fill("Password", PASSWORD)
    await pilot.click("Sign in", ft.FilledButton)
    assert isinstance(pilot.view, DashboardView)
    assert pilot.route == "/"


@pytest.mark.parametrize(
    ("route", "lands_on", "view"),
    [
        ("/login", "/", DashboardView),
        ("/register", "/", DashboardView),
        ("/login?next=%2Fsessions", "/sessions", SessionsView),
        ("/login?next=https%3A%2F%2Fevil", "/", DashboardView),
    ],
)
async def test_signed_in_user_skips_the_sign_in_pages(
    make_pilot: MakePilot,
    ada: tuple[dict[str, Any], str],
    route: str,
    lands_on: str,
    view: type,
) -> None:
    pilot = await make_pilot(route, token=ada[1])
    assert isinstance(pilot.view, view)
    assert pilot.route == lands_on
    assert pilot.pushed_routes == [lands_on]


async def test_one_mount_per_navigation(signed_in_pilot: Pilot) -> None:
    pilot = signed_in_pilot
    mounted: list[str] = []
    original = pilot.router._mount

    async def counting_mount(view_class: Any, route: str, params: dict[str, str]) -> None:
        mounted.append(route)
        await original(view_class, route, params)

    pilot.router._mount = counting_mount  # type: ignore[method-assign]
    rail = pilot.find(ft.NavigationRail)
    pilot.conn.update_props(rail._i, {"selected_index": 1})
    pilot.conn.event(rail._i, "change", "1")
    await pilot.wait_idle()
    assert mounted == ["/sessions"]
    assert isinstance(pilot.view, SessionsView)
    await pilot.visit("/login")  # e.g. the back button to a stale entry
    assert mounted == ["/sessions", "/"]
    assert isinstance(pilot.view, DashboardView)


async def test_an_echo_that_comes_back_after_the_next_click_does_not_undo_it(
    signed_in_pilot: Pilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fast user: the client's route-change echo of one click's history entry comes
    back after the next click has started. It must not take the user back (the bench saw
    the Sessions view return after a click on Dashboard)."""
    pilot = signed_in_pilot
    held: list[str] = []
    monkeypatch.setattr(pilot.conn, "client_route_change", held.append)
    rail = pilot.find(ft.NavigationRail)
    for index in (1, 0):  # Sessions, then Dashboard, each echo held back
        pilot.conn.update_props(rail._i, {"selected_index": index})
        pilot.conn.event(rail._i, "change", index)
        await pilot.wait_idle()
    assert held == ["/sessions", "/"]
    assert isinstance(pilot.view, DashboardView)
    monkeypatch.undo()
    dashboard = pilot.view
    for route in held:  # both echoes arrive now, the stale one first
        pilot.conn.client_route_change(route)
        await pilot.wait_idle()
        assert pilot.view is dashboard, f"the echo of {route} mounted a view again"
    await pilot.visit("/sessions")  # a later visit of the same route is not taken for one
    assert isinstance(pilot.view, SessionsView)
