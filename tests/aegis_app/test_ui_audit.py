"""Audit log (admins only): newest first, filtered by kind and by user, paged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import flet as ft
import httpx
import pytest

from aegis_app.views.audit import ALL, PAGE_SIZE, AuditView
from backend.core.config import API_PREFIX, SESSION_COOKIE
from backend.models import AuditEvent, utcnow
from tests.aegis_app.pilot import Pilot
from tests.aegis_app.ui_support import ADA, PASSWORD, Backend, MakePilot

BOB = {
    "email": "bob@example.com",
    "full_name": "Bob Builder",
    "role": "viewer",
    "password": PASSWORD,
}


async def create_bob(
    backend: Backend, admin_token: str
) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """Ada creates Bob, then Bob signs in on his own device."""
    admin = await backend.client()
    admin.cookies.set(SESSION_COOKIE, admin_token, domain="aegis.internal")
    response = await admin.post(f"{API_PREFIX}/users", json=BOB)
    assert response.status_code == 201, response.text
    bob = await backend.client(ip="10.0.0.9")
    login = {"email": BOB["email"], "password": PASSWORD}
    assert (await bob.post(f"{API_PREFIX}/auth/login", json=login)).status_code == 200
    return response.json()["user"], bob


def rows(view: AuditView) -> list[dict[str, str]]:
    """The table as a person reads it."""
    headers = ["time", "kind", "actor", "target", "ip", "detail"]
    table = []
    for row in view.table.rows:
        texts = []
        for cell in row.cells:
            assert isinstance(cell.content, ft.Text)
            texts.append(str(cell.content.value))
        table.append(dict(zip(headers, texts, strict=True)))
    return table


def kinds(view: AuditView) -> list[str]:
    return [row["kind"] for row in rows(view)]


async def choose(pilot: Pilot, dropdown: ft.Dropdown, key: str) -> None:
    """Pick an option, as the client does: the new value, then ``select``."""
    assert key in [option.key for option in dropdown.options], f"no option {key!r}"
    pilot.conn.update_props(dropdown._i, {"value": key})
    pilot.conn.event(dropdown._i, "select", key)
    await pilot.wait_idle()


@pytest.fixture
async def bob(ui_backend: Backend, ada: tuple[dict[str, Any], str]) -> dict[str, Any]:
    user, _ = await create_bob(ui_backend, ada[1])
    return user


@pytest.fixture
async def audit(make_pilot: MakePilot, ada: tuple[dict[str, Any], str], bob: Any) -> Pilot:
    pilot = await make_pilot("/audit", token=ada[1])
    assert isinstance(pilot.view, AuditView)
    return pilot


async def test_rows_are_newest_first(audit: Pilot) -> None:
    view = audit.view_as(AuditView)
    assert kinds(view) == ["Sign in", "User created", "Registered"]
    sign_in, created, registered = rows(view)
    assert sign_in["actor"] == BOB["email"] and sign_in["ip"] == "10.0.0.9"
    assert created["actor"] == ADA["email"] and created["target"] == BOB["email"]
    assert created["detail"] == "Created Bob Builder as viewer."
    assert registered["actor"] == ADA["email"]
    assert [row["time"] for row in rows(view)] == sorted(
        (row["time"] for row in rows(view)), reverse=True
    )
    assert view.pager.label.value == "1-3 of 3"
    assert not view.empty.visible


async def test_the_filters_offer_every_kind_and_user(audit: Pilot) -> None:
    view = audit.view_as(AuditView)
    kind_options = {option.key: option.text for option in view.kind.options}
    assert kind_options[ALL] == "All kinds"
    assert kind_options["user_created"] == "User created"
    assert kind_options["sign_in_failed"] == "Sign in failed"
    user_texts = [option.text for option in view.user.options]
    assert user_texts == ["All users", ADA["email"], BOB["email"]]


async def test_filter_by_kind(audit: Pilot) -> None:
    pilot = audit
    view = pilot.view_as(AuditView)
    await choose(pilot, view.kind, "user_created")
    assert kinds(view) == ["User created"]
    assert view.pager.label.value == "1-1 of 1"
    await choose(pilot, view.kind, "password_changed")
    assert kinds(view) == []
    assert view.empty.visible
    assert pilot.has_text("No events match these filters.")
    await choose(pilot, view.kind, ALL)
    assert len(kinds(view)) == 3
    assert not view.empty.visible


async def test_filter_by_user(audit: Pilot, bob: dict[str, Any]) -> None:
    pilot = audit
    view = pilot.view_as(AuditView)
    await choose(pilot, view.user, str(bob["id"]))
    # Bob's own sign-in, and Ada creating him (he is its target); not Ada's registration.
    assert kinds(view) == ["Sign in", "User created"]
    await choose(pilot, view.kind, "sign_in")
    assert kinds(view) == ["Sign in"], "both filters apply"
    await choose(pilot, view.user, ALL)
    assert kinds(view) == ["Sign in"]
    assert rows(view)[0]["actor"] == BOB["email"]


async def test_newer_and_older_pages(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    # 60 older events, written straight into the database, numbered oldest first.
    start = utcnow() - timedelta(days=1)
    with ui_backend.app.state.session_factory() as db:
        db.add_all(
            [
                AuditEvent(
                    at=start + timedelta(minutes=i),
                    kind="sign_in_failed",
                    actor_email="mallory@example.com",
                    target="ada@example.com",
                    ip="203.0.113.7",
                    detail=f"Attempt {i:02}",
                )
                for i in range(60)
            ]
        )
        db.commit()
    pilot = await make_pilot("/audit", token=ada[1])
    view = pilot.view_as(AuditView)
    total = 61  # with Ada's registration, the newest
    assert len(view.table.rows) == PAGE_SIZE
    assert view.pager.label.value == f"1-50 of {total}"
    assert view.pager.previous.disabled and not view.pager.next.disabled
    first_page = [row["detail"] for row in rows(view)]
    assert kinds(view)[0] == "Registered"
    assert first_page[1:] == [f"Attempt {i:02}" for i in range(59, 10, -1)]

    await pilot.click("Older")
    assert view.pager.label.value == f"51-{total} of {total}"
    assert [row["detail"] for row in rows(view)] == [f"Attempt {i:02}" for i in range(10, -1, -1)]
    assert not view.pager.previous.disabled and view.pager.next.disabled

    await pilot.click("Newer")
    assert view.pager.label.value == f"1-50 of {total}"
    assert [row["detail"] for row in rows(view)] == first_page
    assert view.pager.previous.disabled and not view.pager.next.disabled

    # A filter starts again at the first page.
    await pilot.click("Older")
    await choose(pilot, view.kind, "sign_in_failed")
    assert view.pager.label.value == "1-50 of 60"
    assert rows(view)[0]["detail"] == "Attempt 59"
    assert view.pager.previous.disabled and not view.pager.next.disabled


async def test_refused_sign_ins_show_as_one_row_with_their_count(
    ui_backend: Backend, make_pilot: MakePilot, ada: tuple[dict[str, Any], str], bob: Any
) -> None:
    attacker = await ui_backend.client(ip="203.0.113.5")
    guess = {"email": BOB["email"], "password": "not his password"}
    codes = [
        (await attacker.post(f"{API_PREFIX}/auth/login", json=guess)).status_code for _ in range(8)
    ]
    assert codes == [401] * 5 + [429] * 3
    pilot = await make_pilot("/audit", token=ada[1])
    [throttled] = [
        row for row in rows(pilot.view_as(AuditView)) if row["kind"] == "Sign in throttled"
    ]
    assert throttled["target"] == BOB["email"]
    assert throttled["detail"].startswith("3 times: ")
