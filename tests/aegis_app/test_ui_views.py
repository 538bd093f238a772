"""The views, driven like a user would: sign in, sign up, dashboard, sessions."""

from __future__ import annotations

from typing import Any

import flet as ft

from aegis_app.views.auth import RegisterView, SignInView
from aegis_app.views.dashboard import DashboardView
from aegis_app.views.sessions import SessionsView
from tests.aegis_app.pilot import InMemorySessionCookieStore, Pilot, in_process_target
from tests.aegis_app.ui_support import ADA, SAFARI_ON_MACOS, Backend, MakeBackend, MakePilot
from tests.waiting import wait_for

FIRST_ACCOUNT = "No account exists yet. Create the first one: it will be the admin."


async def start(backend: Backend, route: str, token: str | None = None) -> Pilot:
    store = InMemorySessionCookieStore(token)
    return await Pilot(in_process_target(backend.app, store), route=route, store=store).start()


# -- sign in -----------------------------------------------------------------------


async def test_first_visit_offers_to_create_the_first_account(pilot: Pilot) -> None:
    assert isinstance(pilot.view, SignInView)
    assert pilot.find(ft.Text, FIRST_ACCOUNT).visible
    assert pilot.find(ft.TextButton, "Create account").visible


async def test_registration_closed_hides_create_account(make_pilot: MakePilot, ada: Any) -> None:
    pilot = await make_pilot("/login")
    assert pilot.find_all(ft.TextButton, "Create account") == []
    assert not pilot.has_text(FIRST_ACCOUNT)


async def test_registration_open_shows_create_account(make_backend: MakeBackend) -> None:
    backend = await make_backend(allow_registration=True)
    await backend.register()
    pilot = await start(backend, "/login")
    try:
        assert pilot.find(ft.TextButton, "Create account").visible
        assert not pilot.has_text(FIRST_ACCOUNT)
        await pilot.click("Create account")
        assert isinstance(pilot.view, RegisterView)
    finally:
        await pilot.close()


async def test_create_account_keeps_the_destination(make_pilot: MakePilot) -> None:
    pilot = await make_pilot("/sessions")
    await pilot.click("Create account")
    assert isinstance(pilot.view, RegisterView)
    assert pilot.route == "/register?next=%2Fsessions"
    await pilot.click("Sign in", ft.TextButton)
    assert pilot.route == "/login?next=%2Fsessions"


async def test_empty_fields_are_refused_before_asking_the_server(pilot: Pilot) -> None:
    view = pilot.view_as(SignInView)
    await pilot.fill("Email", "   ")
    await pilot.click("Sign in", ft.FilledButton)
    assert view.error_text.visible
    assert view.error_text.value == "Enter your email and password."
    assert pilot.view is view


async def test_wrong_password_says_so_and_clears_the_password(pilot: Pilot, ada: Any) -> None:
    view = pilot.view_as(SignInView)
    await pilot.fill("Email", ADA["email"])
    await pilot.fill("Password", "not the password")
    await pilot.click("Sign in", ft.FilledButton)
    assert pilot.find(ft.Text, "Incorrect email or password.").visible
    assert view.password.value == ""
    assert view.email.value == ADA["email"]
    assert not view.submit_button.disabled, "the form can be tried again"
    assert not pilot.state.signed_in


# -- sign up -----------------------------------------------------------------------


async def test_register_with_a_short_password_shows_the_backends_message(
    make_pilot: MakePilot,
) -> None:
    pilot = await make_pilot("/register")
    view = pilot.view_as(RegisterView)
    assert view.password.helper == "At least 10 characters."
    await pilot.fill("Full name", "Ada Lovelace")
    await pilot.fill("Email", ADA["email"])
    await pilot.fill("Password", "short")
    await pilot.click("Create account", ft.FilledButton)
    assert pilot.find(ft.Text, "Password must be at least 10 characters.").visible
    assert pilot.view is view
    assert not view.submit_button.disabled


async def test_register_the_first_account_signs_in_as_admin(make_pilot: MakePilot) -> None:
    pilot = await make_pilot("/register")
    await pilot.fill("Full name", "Ada Lovelace")
    await pilot.fill("Email", ADA["email"])
    await pilot.fill("Password", ADA["password"])
    await pilot.submit("Password")
    assert isinstance(pilot.view, DashboardView)
    assert pilot.state.user is not None and pilot.state.user.is_admin
    assert pilot.store is not None and pilot.store.token == pilot.api.session_token


async def test_register_when_closed_says_so(make_pilot: MakePilot, ada: Any) -> None:
    pilot = await make_pilot("/register")
    view = pilot.view_as(RegisterView)
    assert pilot.has_text("Registration is closed. Ask an administrator for an account.")
    assert view.submit_button.disabled


# -- signed in -----------------------------------------------------------------------


async def test_dashboard_greets_the_user_and_shows_health(signed_in_pilot: Pilot) -> None:
    pilot = signed_in_pilot
    assert isinstance(pilot.view, DashboardView)
    assert pilot.has_text("Welcome, Ada Lovelace")
    assert pilot.find_all(ft.Text, "Ada Lovelace"), "the top bar names the user"
    await wait_for(
        lambda: any("Healthy" in (card.value or "") for card in pilot.find_all(ft.Markdown)),
        10,
        what="a healthy component card",
    )
    assert not pilot.view.error_text.visible


async def test_sign_out_from_the_top_bar(signed_in_pilot: Pilot, ui_backend: Backend) -> None:
    pilot = signed_in_pilot
    await pilot.click("Sign out")
    assert isinstance(pilot.view, SignInView)
    assert pilot.route == "/login"
    assert pilot.store is not None and pilot.store.token is None
    await pilot.visit("/sessions")
    assert isinstance(pilot.view, SignInView)


async def test_sessions_lists_this_session_and_ends_another(
    make_pilot: MakePilot, ui_backend: Backend, ada: Any
) -> None:
    other_device = await ui_backend.client(user_agent=SAFARI_ON_MACOS)
    response = await other_device.post(
        "/api/v1/auth/login", json={"email": ADA["email"], "password": ADA["password"]}
    )
    assert response.status_code == 200
    pilot = await make_pilot("/sessions", token=ada[1])
    assert isinstance(pilot.view, SessionsView)
    assert len(pilot.find_all(ft.Text, "This session")) == 1
    assert pilot.find_all(ft.Text, "Firefox on Windows"), "this device, named"
    assert pilot.has_text("Safari on macOS"), "the other device, named"
    (other,) = pilot.find_all(ft.OutlinedButton, "End session")  # not on this session's row
    await pilot.click(other)
    assert pilot.find_all(ft.OutlinedButton, "End session") == []
    assert len(pilot.find_all(ft.Text, "This session")) == 1
    assert pilot.find_all(ft.Text, "Safari on macOS") == []
    assert pilot.has_text("Ended the session on Safari on macOS.")
    assert (await other_device.get("/api/v1/auth/me")).status_code == 401
    assert isinstance(pilot.view, SessionsView), "ending another session keeps us here"
