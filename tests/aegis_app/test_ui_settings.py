"""Settings: profile, password, where the session is kept, and the theme."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flet as ft
import httpx
import pytest

from aegis_app.launch.keyring_store import KeyringCookieStore
from aegis_app.target import Target
from aegis_app.theme import THEME_PREFERENCE_KEY
from aegis_app.views.settings import SettingsView
from backend.core.config import API_PREFIX
from tests.aegis_app.keyring_stand_ins import PlaintextKeyring
from tests.aegis_app.pilot import InMemorySessionCookieStore, Pilot, in_process_target
from tests.aegis_app.ui_support import ADA, PASSWORD, Backend, MakePilot

NEW_PASSWORD = "a much better passphrase"


async def other_device(backend: Backend, password: str = PASSWORD) -> httpx.AsyncClient:
    """Ada, signed in on another device."""
    client = await backend.client()
    login = {"email": ADA["email"], "password": password}
    assert (await client.post(f"{API_PREFIX}/auth/login", json=login)).status_code == 200
    return client


def top_bar_names(pilot: Pilot) -> list[str]:
    (view,) = pilot.page.views
    assert isinstance(view.appbar, ft.AppBar)
    texts: list[str] = []
    for action in view.appbar.actions or []:
        if isinstance(action, ft.Column):
            texts += [str(c.value) for c in action.controls if isinstance(c, ft.Text)]
    return texts


def theme_mode(pilot: Pilot) -> ft.ThemeMode | None:
    return pilot.page.theme_mode


async def choose_theme(pilot: Pilot, name: str) -> None:
    """Press a segment, as the client does: the new selection, then ``change``."""
    theme = pilot.view_as(SettingsView).theme
    pilot.conn.update_props(theme._i, {"selected": [name]})
    pilot.conn.event(theme._i, "change", [name])
    await pilot.wait_idle()


@pytest.fixture
async def settings_view(make_pilot: MakePilot, ada: tuple[dict[str, Any], str]) -> Pilot:
    pilot = await make_pilot("/settings", token=ada[1])
    assert isinstance(pilot.view, SettingsView)
    return pilot


# -- profile -------------------------------------------------------------------------


async def test_saving_the_profile_renames_the_top_bar(
    settings_view: Pilot, ui_backend: Backend
) -> None:
    pilot = settings_view
    view = pilot.view_as(SettingsView)
    assert top_bar_names(pilot)[0] == "Ada Lovelace"
    await pilot.fill("Full name", "  Ada King  ")
    await pilot.click("Save profile")
    assert pilot.find(ft.Text, "Profile saved.").visible
    assert top_bar_names(pilot) == ["Ada King", "Administrator"]
    assert pilot.state.user is not None and pilot.state.user.full_name == "Ada King"
    assert pilot.view is view, "the view is kept, only its frame is rebuilt"
    assert view.full_name.value == "  Ada King  "
    me = await (await other_device(ui_backend)).get(f"{API_PREFIX}/auth/me")
    assert me.json()["full_name"] == "Ada King"
    await pilot.visit("/")
    assert pilot.has_text("Welcome, Ada King")


async def test_an_empty_name_is_refused_here(settings_view: Pilot) -> None:
    pilot = settings_view
    await pilot.fill("Full name", "   ")
    await pilot.click("Save profile")
    assert pilot.find(ft.Text, "Your name can't be empty.").visible
    assert top_bar_names(pilot)[0] == "Ada Lovelace"


# -- password ------------------------------------------------------------------------


async def test_a_wrong_current_password_says_so(settings_view: Pilot, ui_backend: Backend) -> None:
    pilot = settings_view
    view = pilot.view_as(SettingsView)
    laptop = await other_device(ui_backend)
    await pilot.fill("Current password", "not my password")
    await pilot.fill("New password", NEW_PASSWORD)
    await pilot.click("Change password")
    assert view.error_text.visible
    assert view.error_text.value == "Current password is incorrect."
    assert not view.password_result.visible
    assert view.current_password.value == "" and view.new_password.value == ""
    assert (await laptop.get(f"{API_PREFIX}/auth/me")).status_code == 200, "nothing changed"


async def test_changing_the_password_signs_out_other_sessions(
    settings_view: Pilot, ui_backend: Backend
) -> None:
    pilot = settings_view
    view = pilot.view_as(SettingsView)
    laptop = await other_device(ui_backend)
    await pilot.fill("Current password", PASSWORD)
    await pilot.fill("New password", NEW_PASSWORD)
    await pilot.click("Change password")
    assert not view.error_text.visible
    assert view.password_result.visible
    assert view.password_result.value == "Password changed. Other sessions were signed out."
    assert view.current_password.value == "" and view.new_password.value == ""
    assert (await laptop.get(f"{API_PREFIX}/auth/me")).status_code == 401
    # This session goes on.
    await pilot.visit("/sessions")
    assert pilot.state.signed_in
    assert pilot.route == "/sessions"
    assert len(pilot.find_all(ft.Text, "This session")) == 1
    # And the new password is the one that works.
    assert await other_device(ui_backend, NEW_PASSWORD)


async def test_a_too_short_new_password_shows_the_backends_message(settings_view: Pilot) -> None:
    pilot = settings_view
    await pilot.fill("Current password", PASSWORD)
    await pilot.fill("New password", "short")
    await pilot.click("Change password")
    assert pilot.has_text("New password must be at least 10 characters.")


# -- where the session is kept, and the theme ----------------------------------------


async def test_says_where_the_session_is_kept(settings_view: Pilot) -> None:
    assert settings_view.store is not None
    assert settings_view.store.description == "In memory (tests)"
    assert settings_view.find(ft.Text, "Kept in: In memory (tests)").visible


async def test_choosing_a_theme_remembers_it_and_applies_it(settings_view: Pilot) -> None:
    pilot = settings_view
    assert theme_mode(pilot) == ft.ThemeMode.LIGHT
    assert pilot.view_as(SettingsView).theme.selected == ["light"]
    await choose_theme(pilot, "dark")
    assert theme_mode(pilot) == ft.ThemeMode.DARK
    saved = pilot.invoked("set")
    assert [call.args for call in saved] == [{"key": THEME_PREFERENCE_KEY, "value": "dark"}]
    await choose_theme(pilot, "system")
    assert theme_mode(pilot) == ft.ThemeMode.SYSTEM
    assert pilot.invoked("set")[-1].args == {"key": THEME_PREFERENCE_KEY, "value": "system"}
    assert not pilot.conn.crashes


async def test_the_remembered_theme_is_applied_on_the_next_visit(
    ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    store = InMemorySessionCookieStore(ada[1])
    pilot = Pilot(in_process_target(ui_backend.app, store), route="/settings", store=store)
    pilot.conn.answers["get"] = lambda args: (
        "dark" if args == {"key": THEME_PREFERENCE_KEY} else None,
        None,
    )
    try:
        await pilot.start()
        assert theme_mode(pilot) == ft.ThemeMode.DARK
        assert pilot.view_as(SettingsView).theme.selected == ["dark"]
    finally:
        await pilot.close()
    assert not pilot.conn.crashes


async def test_a_client_without_storage_keeps_the_default_theme(
    ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    store = InMemorySessionCookieStore(ada[1])
    pilot = Pilot(in_process_target(ui_backend.app, store), route="/settings", store=store)
    pilot.conn.answers["get"] = lambda args: (None, "SharedPreferences unavailable")
    pilot.conn.answers["set"] = lambda args: (None, "SharedPreferences unavailable")
    try:
        await pilot.start()
        assert theme_mode(pilot) == ft.ThemeMode.LIGHT
        assert isinstance(pilot.view, SettingsView), "the app still starts"
        await choose_theme(pilot, "dark")
        assert theme_mode(pilot) == ft.ThemeMode.DARK, "applied even if not remembered"
    finally:
        await pilot.close()
    assert not pilot.conn.crashes


async def test_a_plaintext_keyring_is_refused_in_words_at_sign_in_and_in_settings(
    ui_backend: Backend, ada: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    """The desktop target's store over keyrings.alt's PlaintextKeyring (a stand-in: the
    real one is never installed here, it would become the default keyring)."""
    plaintext = PlaintextKeyring(tmp_path / "keyring_pass.cfg")
    store = KeyringCookieStore(plaintext)
    base = in_process_target(ui_backend.app, InMemorySessionCookieStore())
    target = Target(base.new_http_client, lambda page, api: store)
    pilot = Pilot(target, route="/settings")
    try:
        await pilot.start()
        assert pilot.has_text("will not remember your sign-in")
        assert pilot.has_text("keyrings.alt.file")
        await pilot.fill("Email", ADA["email"])
        await pilot.fill("Password", ADA["password"])
        await pilot.click("Sign in", ft.FilledButton)
        assert isinstance(pilot.view, SettingsView)
        (kept_in,) = [t for t in pilot.texts() if t.startswith("Kept in: ")]
        assert kept_in.startswith("Kept in: Not kept: the keyring found here (")
        assert "not one the operating system protects" in kept_in
        assert not plaintext.path.exists(), "the session was written in the clear"
    finally:
        await pilot.close()
    assert not pilot.conn.crashes
