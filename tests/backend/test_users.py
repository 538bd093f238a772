"""User administration: roles, creation, the last-admin rule, deactivation, paging."""

from __future__ import annotations

import httpx
import pytest

from backend.models import User
from backend.services.users import LAST_ADMIN
from tests.backend.api_helpers import API, PASSWORD, Api
from tests.backend.dashboard_helpers import (
    ADMIN,
    VIEWER,
    admin_and_viewer,
    audit_rows,
    create_user,
    detail,
    user_id,
)

USERS = f"{API}/users"
ME = f"{API}/auth/me"


async def test_every_admin_endpoint_refuses_viewers_and_strangers(api: Api) -> None:
    _admin, viewer = await admin_and_viewer(api)
    stranger = await api.client()
    vid = user_id(api, VIEWER)
    calls = [
        ("GET", USERS, None),
        ("POST", USERS, {"email": "x@example.com", "full_name": "X", "role": "viewer"}),
        ("PATCH", f"{USERS}/{vid}", {"role": "admin"}),
        ("DELETE", f"{USERS}/{vid}/sessions", None),
        ("GET", f"{API}/audit", None),
        ("GET", f"{API}/audit/kinds", None),
    ]
    for method, url, body in calls:
        refused = await viewer.request(method, url, json=body)
        assert refused.status_code == 403, (method, url)
        assert detail(refused) == "This needs an administrator."
        assert (await stranger.request(method, url, json=body)).status_code == 401
    # Nothing changed: the viewer is still a viewer, and no user was created.
    assert (await viewer.get(ME)).json()["role"] == "viewer"
    assert api.user_count() == 2
    assert audit_rows(api, "role_changed") == []


async def test_create_user_with_a_password(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    created = await create_user(admin, "Bob@Example.com", role="admin", full_name=" Bob ")
    assert created["temporary_password"] is None
    user = created["user"]
    assert user["email"] == "bob@example.com"
    assert user["full_name"] == "Bob"
    assert user["role"] == "admin"
    assert user["is_active"] is True
    assert (await api.login(await api.client(), "bob@example.com")).status_code == 200
    [row] = audit_rows(api, "user_created")
    assert row.actor_email == ADMIN
    assert row.target == "bob@example.com"
    assert row.ip == "127.0.0.1"


async def test_create_user_without_a_password_returns_a_temporary_one_once(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    created = await create_user(admin, "bob@example.com", password=None)
    temporary = created["temporary_password"]
    assert isinstance(temporary, str)
    assert len(temporary) >= 16
    with api.db() as db:
        stored = db.get(User, created["user"]["id"])
        assert stored is not None
        assert temporary not in stored.password_hash
        assert stored.password_hash.startswith("$argon2id$")
    assert (await api.login(await api.client(), "bob@example.com", temporary)).status_code == 200
    listed = (await admin.get(USERS)).json()
    assert "temporary_password" not in str(listed)


async def test_create_user_refusals_write_nothing(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    await create_user(admin, "bob@example.com")
    duplicate = await admin.post(
        USERS, json={"email": "BOB@example.com", "full_name": "B", "role": "viewer"}
    )
    assert duplicate.status_code == 409
    assert detail(duplicate) == "An account with this email exists."
    cases: list[tuple[dict[str, object], str]] = [
        ({"email": "c@example.com", "full_name": "C", "role": "owner"}, "role"),
        ({"email": "c@example.com", "full_name": "C", "password": "short"}, "at least 10"),
        ({"email": "not an email", "full_name": "C"}, "email"),
        ({"email": "c@example.com", "full_name": "   "}, "full_name"),
        ({"email": "c@example.com"}, "full_name: is required"),
        ({"email": "c@example.com", "full_name": "C", "is_admin": True}, "is_admin"),
    ]
    for body, words in cases:
        response = await admin.post(USERS, json=body)
        assert response.status_code == 422, body
        assert words in detail(response), (body, detail(response))
    assert api.user_count() == 2
    assert len(audit_rows(api, "user_created")) == 1


async def test_bad_role_names_the_choices(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    response = await admin.post(
        USERS, json={"email": "c@example.com", "full_name": "C", "role": "root"}
    )
    assert response.status_code == 422
    assert "'admin' or 'viewer'" in detail(response)


async def test_list_search_and_paging(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    for n in range(5):
        await create_user(admin, f"user{n}@example.com", full_name=f"Person {n}")
    await create_user(admin, "zed@example.com", full_name="Zed O'Hara")
    page = (await admin.get(USERS, params={"limit": 3, "offset": 1})).json()
    assert page["total"] == 7
    assert (page["offset"], page["limit"]) == (1, 3)
    assert [u["email"] for u in page["items"]] == [
        "user0@example.com",
        "user1@example.com",
        "user2@example.com",
    ]
    everyone = (await admin.get(USERS)).json()
    assert everyone["limit"] == 50
    assert next(u["email"] for u in everyone["items"]) == ADMIN
    by_name = (await admin.get(USERS, params={"search": "o'HARA"})).json()
    assert [u["email"] for u in by_name["items"]] == ["zed@example.com"]
    by_email = (await admin.get(USERS, params={"search": "USER3@"})).json()
    assert by_email["total"] == 1
    wildcard = (await admin.get(USERS, params={"search": "%"})).json()
    assert wildcard["total"] == 0
    past_end = (await admin.get(USERS, params={"offset": 100})).json()
    assert past_end["items"] == [] and past_end["total"] == 7


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"limit": 1000}, "limit: Input should be less than or equal to 200"),
        ({"offset": -1}, "offset: Input should be greater than or equal to 0"),
        ({"limit": "many"}, "limit: Input should be a valid integer"),
    ],
)
async def test_bad_paging_is_422_in_words(
    api: Api, params: dict[str, int | str], words: str
) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    for url in (USERS, f"{API}/audit", f"{API}/auth/sessions"):
        response = await admin.get(url, params=params)
        assert response.status_code == 422, url
        assert words in detail(response)


async def test_role_name_and_reactivation_changes_are_audited(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    bob = (await create_user(admin, "bob@example.com"))["user"]
    url = f"{USERS}/{bob['id']}"
    promoted = await admin.patch(url, json={"role": "admin", "full_name": "Robert"})
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "admin"
    assert promoted.json()["full_name"] == "Robert"
    [role_row] = audit_rows(api, "role_changed")
    assert role_row.target == "bob@example.com"
    assert "viewer to admin" in role_row.detail
    assert len(audit_rows(api, "profile_updated")) == 1
    assert (await admin.patch(url, json={"is_active": False})).json()["is_active"] is False
    assert (await admin.patch(url, json={"is_active": True})).json()["is_active"] is True
    assert len(audit_rows(api, "user_deactivated")) == 1
    assert len(audit_rows(api, "user_reactivated")) == 1
    # Setting what is already there records nothing.
    await admin.patch(url, json={"role": "admin", "is_active": True, "full_name": "Robert"})
    assert len(audit_rows(api, "role_changed")) == 1
    assert len(audit_rows(api, "user_reactivated")) == 1


async def test_patch_refusals(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    bob = (await create_user(admin, "bob@example.com"))["user"]
    url = f"{USERS}/{bob['id']}"
    empty = await admin.patch(url, json={})
    assert empty.status_code == 422
    assert "Nothing to change" in detail(empty)
    for body in ({"role": "owner"}, {"full_name": " "}, {"is_active": "perhaps"}, {"email": "x"}):
        assert (await admin.patch(url, json=body)).status_code == 422, body
    missing = await admin.patch(f"{USERS}/9999", json={"role": "admin"})
    assert missing.status_code == 404
    assert detail(missing) == "No such user."
    assert (await admin.patch(f"{USERS}/abc", json={"role": "admin"})).status_code == 422
    kinds = {row.kind for row in audit_rows(api)}
    assert kinds == {"registered", "user_created"}


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    me = user_id(api, ADMIN)
    for body in ({"role": "viewer"}, {"is_active": False}, {"role": "viewer", "full_name": "A"}):
        response = await admin.patch(f"{USERS}/{me}", json=body)
        assert response.status_code == 409, body
        assert detail(response) == LAST_ADMIN
    assert LAST_ADMIN == (
        "Aegis needs at least one active administrator, "
        "so this admin can't be demoted or deactivated."
    )
    current = (await admin.get(ME)).json()
    assert current["role"] == "admin" and current["full_name"] == "Ada Admin"
    assert {row.kind for row in audit_rows(api)} == {"registered"}
    # An inactive second admin does not count.
    other = (await create_user(admin, "root@example.com", role="admin"))["user"]
    await admin.patch(f"{USERS}/{other['id']}", json={"is_active": False})
    assert (await admin.patch(f"{USERS}/{me}", json={"role": "viewer"})).status_code == 409


async def test_an_admin_may_step_down_when_another_admin_remains(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    await create_user(admin, "root@example.com", role="admin")
    me = user_id(api, ADMIN)
    response = await admin.patch(f"{USERS}/{me}", json={"is_active": False})
    assert response.status_code == 200
    # Deactivating yourself signs you out at once.
    assert (await admin.get(ME)).status_code == 401
    root, _ = await api.signed_in("root@example.com")
    # Now root is the last one.
    root_id = user_id(api, "root@example.com")
    assert (await root.patch(f"{USERS}/{root_id}", json={"role": "viewer"})).status_code == 409
    assert (await root.patch(f"{USERS}/{me}", json={"is_active": True})).status_code == 200
    assert (await root.patch(f"{USERS}/{root_id}", json={"role": "viewer"})).status_code == 200
    # Demoted, root can no longer administer.
    assert (await root.get(USERS)).status_code == 403


async def test_deactivation_ends_every_session_at_once(api: Api) -> None:
    admin, _ = await api.signed_in(ADMIN, register=True)
    await create_user(admin, VIEWER)
    devices: list[httpx.AsyncClient] = []
    for _ in range(3):
        device, _token = await api.signed_in(VIEWER)
        devices.append(device)
    vid = user_id(api, VIEWER)
    assert api.sign_in_session_count() == 4
    response = await admin.patch(f"{USERS}/{vid}", json={"is_active": False})
    assert response.status_code == 200
    assert api.sign_in_session_count() == 1  # the rows are gone, not merely refused later
    for device in devices:
        assert (await device.get(ME)).status_code == 401
    [row] = audit_rows(api, "user_deactivated")
    assert row.target == VIEWER and "3 session(s)" in row.detail
    refused = await api.login(await api.client(), VIEWER, PASSWORD)
    assert refused.status_code == 403


async def test_admin_ends_a_users_sessions(api: Api) -> None:
    admin, viewer = await admin_and_viewer(api)
    second, _ = await api.signed_in(VIEWER)
    vid = user_id(api, VIEWER)
    response = await admin.delete(f"{USERS}/{vid}/sessions")
    assert response.status_code == 200
    assert response.json() == {"ended": 2}
    assert (await viewer.get(ME)).status_code == 401
    assert (await second.get(ME)).status_code == 401
    assert (await admin.get(ME)).status_code == 200
    [row] = audit_rows(api, "session_revoked")
    assert row.actor_email == ADMIN and row.target == VIEWER
    assert (await admin.delete(f"{USERS}/{vid}/sessions")).json() == {"ended": 0}
    assert (await admin.delete(f"{USERS}/9999/sessions")).status_code == 404
