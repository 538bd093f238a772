"""Users (admins only): list, search, create, change role, deactivate, end sessions, paging."""

from __future__ import annotations

from typing import Any

import flet as ft
import httpx
import pytest

from aegis_app.views.users import PAGE_SIZE, UsersView
from backend.core.config import API_PREFIX, SESSION_COOKIE
from backend.core.security import hash_password
from backend.models import User
from backend.services.users import LAST_ADMIN
from tests.aegis_app.pilot import Pilot
from tests.aegis_app.ui_support import ADA, PASSWORD, Backend, MakePilot

BOB = {
    "email": "bob@example.com",
    "full_name": "Bob Builder",
    "role": "viewer",
    "password": PASSWORD,
}


async def admin_client(backend: Backend, token: str) -> httpx.AsyncClient:
    client = await backend.client()
    client.cookies.set(SESSION_COOKIE, token, domain="aegis.internal")
    return client


async def create_user(backend: Backend, admin_token: str, **fields: Any) -> dict[str, Any]:
    admin = await admin_client(backend, admin_token)
    response = await admin.post(f"{API_PREFIX}/users", json={**BOB, **fields})
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


async def sign_in(backend: Backend, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """Another device signed in as ``email``."""
    client = await backend.client()
    response = await client.post(
        f"{API_PREFIX}/auth/login", json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return client


async def still_signed_in(client: httpx.AsyncClient) -> bool:
    status = (await client.get(f"{API_PREFIX}/auth/me")).status_code
    assert status in (200, 401)
    return status == 200


def add_users_directly(backend: Backend, count: int) -> None:
    """Many users cheaply: one password hash for all, straight into the database."""
    password_hash = hash_password(PASSWORD)
    with backend.app.state.session_factory() as db:
        db.add_all(
            [
                User(
                    email=f"user{i:02}@example.com",
                    full_name=f"User {i:02}",
                    password_hash=password_hash,
                    role="viewer",
                    is_active=True,
                )
                for i in range(count)
            ]
        )
        db.commit()


def row_texts(view: UsersView) -> list[list[str]]:
    """The table as a person reads it: per row, its cells' texts (without the buttons)."""
    rows = []
    for row in view.table.rows:
        texts = []
        for cell in row.cells[:-1]:
            assert isinstance(cell.content, ft.Text)
            texts.append(str(cell.content.value))
        rows.append(texts)
    return rows


def names(view: UsersView) -> list[str]:
    return [row[0] for row in row_texts(view)]


def button(view: UsersView, full_name: str, label: str) -> ft.TextButton:
    """The action button ``label`` on ``full_name``'s row."""
    for row in view.table.rows:
        name = row.cells[0].content
        if isinstance(name, ft.Text) and name.value == full_name:
            actions = row.cells[-1].content
            assert isinstance(actions, ft.Row)
            for control in actions.controls:
                if isinstance(control, ft.TextButton) and control.content == label:
                    return control
            raise AssertionError(f"no {label!r} on {full_name}'s row")
    raise AssertionError(f"no row for {full_name}; rows: {names(view)}")


@pytest.fixture
async def users(make_pilot: MakePilot, ada: tuple[dict[str, Any], str]) -> Pilot:
    pilot = await make_pilot("/users", token=ada[1])
    assert isinstance(pilot.view, UsersView)
    return pilot


# -- list and search -----------------------------------------------------------------


async def test_the_list_shows_every_user(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    await create_user(ui_backend, ada[1])
    pilot = await make_pilot("/users", token=ada[1])
    view = pilot.view_as(UsersView)
    rows = row_texts(view)
    assert [row[:4] for row in rows] == [
        ["Ada Lovelace", ADA["email"], "Admin", "Active"],
        ["Bob Builder", BOB["email"], "Viewer", "Active"],
    ]
    assert view.pager.label.value == "1-2 of 2"
    assert button(view, "Ada Lovelace", "Make viewer")
    assert button(view, "Bob Builder", "Make admin")
    assert not view.error_text.visible


async def test_search_filters_the_list(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    await create_user(ui_backend, ada[1])
    await create_user(ui_backend, ada[1], email="carol@example.com", full_name="Carol Danvers")
    pilot = await make_pilot("/users", token=ada[1])
    view = pilot.view_as(UsersView)
    assert len(view.table.rows) == 3
    await pilot.fill("Search users", "carol")
    await pilot.submit("Search users")
    assert names(view) == ["Carol Danvers"]
    assert view.pager.label.value == "1-1 of 1"
    await pilot.fill("Search users", "BUILDER")  # a name, ignoring case
    await pilot.submit("Search users")
    assert names(view) == ["Bob Builder"]
    await pilot.fill("Search users", "nobody")
    await pilot.submit("Search users")
    assert names(view) == []
    assert view.pager.label.value == "0-0 of 0"
    assert view.pager.next.disabled and view.pager.previous.disabled
    await pilot.fill("Search users", "")
    await pilot.submit("Search users")
    assert len(view.table.rows) == 3


# -- create --------------------------------------------------------------------------


async def test_create_without_a_password_shows_a_temporary_one_once(
    users: Pilot, ui_backend: Backend
) -> None:
    pilot = users
    view = pilot.view_as(UsersView)
    await pilot.fill("New user's full name", "Bob Builder")
    await pilot.fill("New user's email", BOB["email"])
    await pilot.click("Create user")
    result = view.form.result
    assert result.visible
    prefix = f"Created {BOB['email']}. Temporary password (shown once): "
    assert (result.value or "").startswith(prefix), result.value
    temporary = (result.value or "")[len(prefix) :]
    assert len(temporary) >= 10
    assert "Bob Builder" in names(view), "the list is reloaded"
    assert view.form.full_name.value == "" and view.form.email.value == ""
    # The temporary password works.
    bob = await sign_in(ui_backend, BOB["email"], temporary)
    assert await still_signed_in(bob)
    # Shown once: coming back to the page does not show it again.
    await pilot.visit("/")
    await pilot.visit("/users")
    assert not pilot.has_text(temporary)
    assert not pilot.view_as(UsersView).form.result.visible


async def test_create_with_a_password_and_role(users: Pilot, ui_backend: Backend) -> None:
    pilot = users
    view = pilot.view_as(UsersView)
    await pilot.fill("New user's full name", "Bob Builder")
    await pilot.fill("New user's email", BOB["email"])
    await pilot.fill("Password (optional)", PASSWORD)
    view.form.role.value = "admin"  # as the client sends a Dropdown choice
    await pilot.click("Create user")
    assert view.form.result.value == f"Created {BOB['email']} with the password you set."
    assert "Temporary password" not in (view.form.result.value or "")
    assert ["Bob Builder", BOB["email"], "Admin", "Active"] in [r[:4] for r in row_texts(view)]
    assert await still_signed_in(await sign_in(ui_backend, BOB["email"]))


async def test_create_with_a_short_password_shows_the_backends_message(users: Pilot) -> None:
    pilot = users
    view = pilot.view_as(UsersView)
    await pilot.fill("New user's full name", "Bob Builder")
    await pilot.fill("New user's email", BOB["email"])
    await pilot.fill("Password (optional)", "short")
    await pilot.click("Create user")
    assert view.error_text.visible
    assert view.error_text.value == "Password must be at least 10 characters."
    assert not view.form.result.visible
    assert names(view) == ["Ada Lovelace"]
    assert view.form.email.value == BOB["email"], "the form is kept to fix and retry"


async def test_create_twice_says_the_email_exists(users: Pilot) -> None:
    pilot = users
    view = pilot.view_as(UsersView)
    await pilot.fill("New user's full name", "Another Ada")
    await pilot.fill("New user's email", ADA["email"])
    await pilot.click("Create user")
    assert view.error_text.value == "An account with this email exists."


async def test_create_without_name_or_email_is_refused_here(users: Pilot) -> None:
    pilot = users
    view = pilot.view_as(UsersView)
    await pilot.fill("New user's email", BOB["email"])
    await pilot.click("Create user")
    assert view.error_text.value == "Enter the new user's name and email."
    assert view.error_text.visible
    assert names(view) == ["Ada Lovelace"]


# -- change a user -------------------------------------------------------------------


async def test_change_role(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    await create_user(ui_backend, ada[1])
    pilot = await make_pilot("/users", token=ada[1])
    view = pilot.view_as(UsersView)
    await pilot.click(button(view, "Bob Builder", "Make admin"))
    assert view.notice.visible and view.notice.value == "Bob Builder is now an admin."
    assert row_texts(view)[1][2] == "Admin"
    await pilot.click(button(view, "Bob Builder", "Make viewer"))
    assert view.notice.value == "Bob Builder is now a viewer."
    assert row_texts(view)[1][2] == "Viewer"
    bob = await sign_in(ui_backend, BOB["email"])
    assert (await bob.get(f"{API_PREFIX}/users")).status_code == 403, "really a viewer"


async def test_deactivate_ends_their_sessions_and_reactivate(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    await create_user(ui_backend, ada[1])
    bob = await sign_in(ui_backend, BOB["email"])
    assert await still_signed_in(bob)
    pilot = await make_pilot("/users", token=ada[1])
    view = pilot.view_as(UsersView)
    await pilot.click(button(view, "Bob Builder", "Deactivate"))
    assert view.notice.value == "Bob Builder was deactivated; their sessions were ended."
    assert row_texts(view)[1][3] == "Deactivated"
    assert not await still_signed_in(bob)
    refused = await bob.post(
        f"{API_PREFIX}/auth/login", json={"email": BOB["email"], "password": PASSWORD}
    )
    assert refused.status_code != 200
    await pilot.click(button(view, "Bob Builder", "Reactivate"))
    assert view.notice.value == "Bob Builder was reactivated."
    assert row_texts(view)[1][3] == "Active"
    assert await still_signed_in(await sign_in(ui_backend, BOB["email"]))


@pytest.mark.parametrize("action", ["Make viewer", "Deactivate"])
async def test_the_last_admin_is_kept_and_the_backend_says_why(users: Pilot, action: str) -> None:
    pilot = users
    view = pilot.view_as(UsersView)
    await pilot.click(button(view, "Ada Lovelace", action))
    assert view.error_text.visible, "the refusal must be shown, not cleared by the reload"
    assert view.error_text.value == LAST_ADMIN
    assert pilot.has_text("Aegis needs at least one active administrator")
    assert not view.notice.visible, "no success message"
    assert row_texts(view)[0][2:4] == ["Admin", "Active"]
    assert pilot.state.signed_in and pilot.view is view


async def test_end_sessions_signs_the_user_out_everywhere(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    await create_user(ui_backend, ada[1])
    laptop, phone = await sign_in(ui_backend, BOB["email"]), await sign_in(ui_backend, BOB["email"])
    pilot = await make_pilot("/users", token=ada[1])
    view = pilot.view_as(UsersView)
    await pilot.click(button(view, "Bob Builder", "End sessions"))
    assert view.notice.value == "Ended 2 session(s) of Bob Builder."
    assert not await still_signed_in(laptop)
    assert not await still_signed_in(phone)
    assert row_texts(view)[1][3] == "Active", "still allowed to sign in again"
    assert await still_signed_in(await sign_in(ui_backend, BOB["email"]))


# -- paging --------------------------------------------------------------------------


async def test_paging_buttons(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    add_users_directly(ui_backend, PAGE_SIZE + 5)  # with Ada: 31
    pilot = await make_pilot("/users", token=ada[1])
    view = pilot.view_as(UsersView)
    assert len(view.table.rows) == PAGE_SIZE
    assert view.pager.label.value == "1-25 of 31"
    assert view.pager.previous.disabled and not view.pager.next.disabled
    await pilot.click("Next")
    assert view.pager.label.value == "26-31 of 31"
    assert names(view) == [f"User {i:02}" for i in range(24, 30)]
    assert not view.pager.previous.disabled and view.pager.next.disabled
    await pilot.click("Previous")
    assert view.pager.label.value == "1-25 of 31"
    assert names(view)[0] == "Ada Lovelace"
    assert view.pager.previous.disabled and not view.pager.next.disabled
    # A search starts again at the first page.
    await pilot.click("Next")
    await pilot.fill("Search users", "User 2")
    await pilot.submit("Search users")
    assert view.pager.label.value == "1-10 of 10"
    assert view.pager.previous.disabled and view.pager.next.disabled


async def test_exactly_one_page_has_no_next(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    add_users_directly(ui_backend, PAGE_SIZE - 1)
    pilot = await make_pilot("/users", token=ada[1])
    view = pilot.view_as(UsersView)
    assert view.pager.label.value == "1-25 of 25"
    assert view.pager.previous.disabled and view.pager.next.disabled
