"""The signed-in user's own account: name, password, and the session list."""

from __future__ import annotations

import pytest

from backend.services.devices import describe_device
from tests.backend.api_helpers import API, PASSWORD, Api, MakeApi
from tests.backend.dashboard_helpers import ADMIN, admin_and_viewer, audit_rows, detail

ME = f"{API}/auth/me"
PASSWORD_URL = f"{API}/auth/password"
SESSIONS = f"{API}/auth/sessions"
NEW_PASSWORD = "a brand new passphrase"


async def test_update_own_name(api: Api) -> None:
    _admin, viewer = await admin_and_viewer(api)
    response = await viewer.patch(ME, json={"full_name": "  Vera Q. Viewer "})
    assert response.status_code == 200
    assert response.json()["full_name"] == "Vera Q. Viewer"
    assert (await viewer.get(ME)).json()["full_name"] == "Vera Q. Viewer"
    [row] = audit_rows(api, "profile_updated")
    assert row.actor_email == row.target == "viewer@example.com"
    # The same name again changes nothing and records nothing.
    assert (await viewer.patch(ME, json={"full_name": "Vera Q. Viewer"})).status_code == 200
    assert len(audit_rows(api, "profile_updated")) == 1


async def test_update_own_name_refusals(api: Api) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    for body in ({"full_name": ""}, {"full_name": "   "}, {"full_name": "x" * 201}, {}):
        response = await client.patch(ME, json=body)
        assert response.status_code == 422, body
        assert "full_name" in detail(response)
    refused = await client.patch(ME, json={"full_name": "A", "role": "admin"})
    assert refused.status_code == 422
    assert (await (await api.client()).patch(ME, json={"full_name": "X"})).status_code == 401
    assert audit_rows(api, "profile_updated") == []


async def test_change_password_signs_out_every_other_session(api: Api) -> None:
    laptop, laptop_token = await api.signed_in(ADMIN, register=True)
    phone, _ = await api.signed_in(ADMIN)
    tablet, _ = await api.signed_in(ADMIN)
    response = await laptop.post(
        PASSWORD_URL, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json() == {
        "detail": "Password changed. Other sessions were signed out.",
        "ended_sessions": 2,
    }
    assert (await laptop.get(ME)).status_code == 200
    assert (await phone.get(ME)).status_code == 401
    assert (await tablet.get(ME)).status_code == 401
    assert api.sign_in_session_count() == 1 and api.sign_in_session_row(laptop_token) is not None
    assert (await api.login(await api.client(), ADMIN, PASSWORD)).status_code == 401
    assert (await api.login(await api.client(), ADMIN, NEW_PASSWORD)).status_code == 200
    [row] = audit_rows(api, "password_changed")
    assert row.actor_email == ADMIN and "2 other session(s)" in row.detail
    assert NEW_PASSWORD not in row.detail


async def test_wrong_current_password_changes_nothing(api: Api) -> None:
    laptop, _ = await api.signed_in(ADMIN, register=True)
    phone, _ = await api.signed_in(ADMIN)
    response = await laptop.post(
        PASSWORD_URL, json={"current_password": "not my password", "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Current password is incorrect."}
    assert (await phone.get(ME)).status_code == 200
    assert (await api.login(await api.client(), ADMIN, PASSWORD)).status_code == 200
    assert audit_rows(api, "password_changed") == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"current_password": PASSWORD, "new_password": "short"}, "at least 10 characters"),
        ({"current_password": PASSWORD, "new_password": PASSWORD}, "must differ"),
        ({"current_password": PASSWORD}, "new_password: is required"),
        ({"current_password": "", "new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": PASSWORD, "new_password": "x" * 257}, "new_password"),
    ],
)
async def test_password_change_validation(api: Api, body: dict[str, str], words: str) -> None:
    laptop, _ = await api.signed_in(ADMIN, register=True)
    phone, _ = await api.signed_in(ADMIN)
    response = await laptop.post(PASSWORD_URL, json=body)
    assert response.status_code == 422
    assert words in detail(response)
    assert (await phone.get(ME)).status_code == 200
    assert audit_rows(api, "password_changed") == []


async def test_password_change_needs_a_session(api: Api) -> None:
    await api.signed_in(ADMIN, register=True)
    stranger = await api.client()
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (await stranger.post(PASSWORD_URL, json=body)).status_code == 401


async def test_session_list_has_devices_a_total_and_pages(api: Api) -> None:
    agents = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Aegis desktop (Linux)",
    ]
    client = await api.client()
    await client.post(
        f"{API}/auth/register",
        json={"email": ADMIN, "password": PASSWORD, "full_name": "Ada"},
        headers={"user-agent": agents[0]},
    )
    for agent in agents[1:]:
        other = await api.client()
        response = await other.post(
            f"{API}/auth/login",
            json={"email": ADMIN, "password": PASSWORD},
            headers={"user-agent": agent},
        )
        assert response.status_code == 200
    listed = await client.get(SESSIONS)
    assert listed.status_code == 200
    assert listed.headers["x-total-count"] == "3"
    assert isinstance(listed.json(), list)
    assert {s["device"] for s in listed.json()} == {
        "Chrome on Linux",
        "Firefox on Windows",
        # Said in a user agent, but not signed in through the desktop app's backend.
        'Unverified client calling itself "Aegis desktop" on Linux',
    }
    first = await client.get(SESSIONS, params={"limit": 2})
    second = await client.get(SESSIONS, params={"limit": 2, "offset": 2})
    assert len(first.json()) == 2 and len(second.json()) == 1
    assert second.headers["x-total-count"] == "3"
    ids = [s["id"] for s in first.json() + second.json()]
    assert len(set(ids)) == 3


async def test_sign_out_everywhere_else(api: Api) -> None:
    laptop, laptop_token = await api.signed_in(ADMIN, register=True)
    phone, _ = await api.signed_in(ADMIN)
    tablet, _ = await api.signed_in(ADMIN)
    response = await laptop.delete(SESSIONS, params={"scope": "others"})
    assert response.status_code == 200
    assert response.json() == {"ended": 2}
    assert (await laptop.get(ME)).status_code == 200
    assert (await phone.get(ME)).status_code == 401
    assert (await tablet.get(ME)).status_code == 401
    assert api.sign_in_session_row(laptop_token) is not None
    [row] = audit_rows(api, "session_revoked")
    assert "2 session(s)" in row.detail
    assert (await laptop.delete(SESSIONS, params={"scope": "others"})).json() == {"ended": 0}


async def test_sign_out_everywhere_else_needs_the_scope(api: Api) -> None:
    laptop, _ = await api.signed_in(ADMIN, register=True)
    phone, _ = await api.signed_in(ADMIN)
    for params in ({}, {"scope": "all"}):
        response = await laptop.delete(SESSIONS, params=params)
        assert response.status_code == 422
        assert "scope" in detail(response)
    assert (await phone.get(ME)).status_code == 200
    assert audit_rows(api, "session_revoked") == []


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36 Edg/126.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("Aegis desktop (Windows)", 'Unverified client calling itself "Aegis desktop" on Windows'),
        ("python-httpx/0.28.1", "Script (python-httpx)"),
        ("python-requests/2.32.3", "Script (python-requests)"),
        ("curl/8.5.0", "curl"),
        ("", "Unknown device"),
        ("something odd", "Unknown browser"),
    ],
)
def test_describe_device(agent: str, device: str) -> None:
    assert describe_device(agent) == device


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        ("Aegis desktop (Windows)", "Aegis desktop on Windows"),
        ("Aegis desktop (Linux)", "Aegis desktop on Linux"),
        ("", "Aegis desktop"),
    ],
)
def test_describe_device_for_a_desktop_app_session(agent: str, device: str) -> None:
    assert describe_device(agent, via_desktop_app=True) == device


async def test_wrong_current_passwords_are_throttled_on_their_own_key(make_api: MakeApi) -> None:
    api = await make_api(login_failures_allowed=2)
    client, _ = await api.signed_in(register=True)
    for _ in range(2):
        response = await client.post(
            f"{API}/auth/password",
            json={"current_password": "not it at all", "new_password": "a brand new one"},
        )
        assert response.status_code == 400
    response = await client.post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new one"},
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert audit_rows(api, "password_changed") == []
    # A stolen session guessing here does not lock the owner out of signing in.
    assert (await api.login(await api.client(), ADMIN)).status_code == 200


async def test_a_changed_password_starts_its_throttle_afresh(make_api: MakeApi) -> None:
    api = await make_api(login_failures_allowed=2)
    client, _ = await api.signed_in(register=True)
    wrong = {"current_password": "not it at all", "new_password": "a brand new one"}
    assert (await client.post(PASSWORD_URL, json=wrong)).status_code == 400
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (await client.post(PASSWORD_URL, json=right)).status_code == 200
    for _ in range(2):  # two more wrong ones are allowed again
        assert (await client.post(PASSWORD_URL, json=wrong)).status_code == 400
    assert (await client.post(PASSWORD_URL, json=wrong)).status_code == 429
