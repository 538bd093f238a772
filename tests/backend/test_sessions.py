"""Sign-out, deactivation, idle and absolute expiry, and the session list."""

from __future__ import annotations

import secrets
from datetime import timedelta

import httpx

from backend.core.guards import LAUNCH_SECRET_HEADER, LoopbackOnlyGuard
from backend.models import utcnow
from backend.services.sessions import LAST_SEEN_GRANULARITY
from tests.backend.api_helpers import API, PASSWORD, Api, MakeApi, cookie_attributes, session_cookie

ME = f"{API}/auth/me"
SESSIONS = f"{API}/auth/sessions"


def as_cookie(token: str) -> dict[str, str]:
    return {"cookie": f"aegis_session={token}"}


async def test_logout_ends_the_session_on_the_server(api: Api) -> None:
    client, token = await api.signed_in(register=True)
    other_device, other_token = await api.signed_in()
    response = await client.post(f"{API}/auth/logout")
    assert response.status_code == 200
    assert response.json() == {"detail": "Signed out."}
    deletion = session_cookie(response)
    assert deletion is not None
    assert cookie_attributes(deletion)["max-age"] == "0"
    assert api.sign_in_session_row(token) is None
    assert (await client.get(ME)).status_code == 401
    # Replaying the old cookie by hand does not bring it back.
    replay = await api.client()
    assert (await replay.get(ME, headers=as_cookie(token))).status_code == 401
    assert (await replay.post(f"{API}/auth/logout", headers=as_cookie(token))).status_code == 401
    # Only that device was signed out.
    assert (await other_device.get(ME)).status_code == 200
    assert api.sign_in_session_row(other_token) is not None


async def test_deactivated_user_loses_sessions_and_cannot_sign_in(make_api: MakeApi) -> None:
    api = await make_api(allow_registration=True)
    await api.signed_in("admin@example.com", register=True)
    client, token = await api.signed_in("bob@example.com", register=True)
    api.update_user("bob@example.com", is_active=False)
    assert (await client.get(ME)).status_code == 401
    assert api.sign_in_session_row(token) is None
    # Even if reactivated, the ended session stays ended.
    api.update_user("bob@example.com", is_active=True)
    replay = await api.client()
    assert (await replay.get(ME, headers=as_cookie(token))).status_code == 401
    api.update_user("bob@example.com", is_active=False)
    response = await api.login(await api.client(), "bob@example.com")
    assert response.status_code == 403
    assert "deactivated" in response.json()["detail"]
    assert session_cookie(response) is None
    # With the wrong password it looks like any other failure (no account oracle).
    wrong = await api.login(await api.client(), "bob@example.com", "wrong password!")
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Incorrect email or password."}
    assert api.sign_in_session_count() == 1  # only the admin's


async def test_idle_timeout(make_api: MakeApi) -> None:
    api = await make_api(session_idle_minutes=1)
    client, token = await api.signed_in(register=True)
    # Within the idle window: still valid, and last_seen_at moves forward.
    stale = utcnow() - timedelta(seconds=50)
    api.update_sign_in_session(token, last_seen_at=stale)
    assert (await client.get(ME)).status_code == 200
    row = api.sign_in_session_row(token)
    assert row is not None
    assert row.last_seen_at > stale + LAST_SEEN_GRANULARITY
    # Past it: refused, and the row is gone.
    api.update_sign_in_session(token, last_seen_at=utcnow() - timedelta(minutes=1, seconds=1))
    assert (await client.get(ME)).status_code == 401
    assert api.sign_in_session_row(token) is None


async def test_last_seen_is_not_rewritten_on_every_request(api: Api) -> None:
    client, token = await api.signed_in(register=True)
    recent = utcnow() - timedelta(seconds=5)
    api.update_sign_in_session(token, last_seen_at=recent)
    assert (await client.get(ME)).status_code == 200
    row = api.sign_in_session_row(token)
    assert row is not None
    assert row.last_seen_at == recent


async def test_absolute_lifetime(api: Api) -> None:
    client, token = await api.signed_in(register=True)
    row = api.sign_in_session_row(token)
    assert row is not None
    assert row.expires_at - row.created_at == timedelta(days=30)
    # Active right now, but past its absolute end.
    api.update_sign_in_session(
        token, expires_at=utcnow() - timedelta(seconds=1), last_seen_at=utcnow()
    )
    assert (await client.get(ME)).status_code == 401
    assert api.sign_in_session_row(token) is None


async def test_list_shows_only_own_sessions_with_one_current(make_api: MakeApi) -> None:
    api = await make_api(allow_registration=True)
    laptop, _ = await api.signed_in("admin@example.com", register=True)
    phone, phone_token = await api.signed_in("admin@example.com")
    bob, bob_token = await api.signed_in("bob@example.com", register=True)
    response = await laptop.get(SESSIONS, headers={"user-agent": "laptop"})
    assert response.status_code == 200
    sessions = response.json()
    assert len(sessions) == 2
    assert sum(s["current"] for s in sessions) == 1
    bob_row, phone_row = api.sign_in_session_row(bob_token), api.sign_in_session_row(phone_token)
    assert bob_row is not None and phone_row is not None
    ids = {s["id"] for s in sessions}
    assert bob_row.id not in ids
    assert phone_row.id in ids
    current = next(s for s in sessions if s["current"])
    assert current["id"] != phone_row.id
    assert current["ip"] == "127.0.0.1"
    assert "token_hash" not in current
    # From the phone, the phone is the current one.
    from_phone = (await phone.get(SESSIONS)).json()
    assert [s["id"] for s in from_phone if s["current"]] == [phone_row.id]
    assert len((await bob.get(SESSIONS)).json()) == 1


async def test_end_own_other_session(api: Api) -> None:
    laptop, laptop_token = await api.signed_in(register=True)
    phone, phone_token = await api.signed_in()
    phone_row = api.sign_in_session_row(phone_token)
    assert phone_row is not None
    response = await laptop.delete(f"{SESSIONS}/{phone_row.id}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await phone.get(ME)).status_code == 401
    assert api.sign_in_session_row(phone_token) is None
    assert (await laptop.get(ME)).status_code == 200
    assert len((await laptop.get(SESSIONS)).json()) == 1
    # Ending it again: it is gone.
    assert (await laptop.delete(f"{SESSIONS}/{phone_row.id}")).status_code == 404
    assert api.sign_in_session_row(laptop_token) is not None


async def test_end_current_session_from_the_list(api: Api) -> None:
    laptop, token = await api.signed_in(register=True)
    row = api.sign_in_session_row(token)
    assert row is not None
    assert (await laptop.delete(f"{SESSIONS}/{row.id}")).status_code == 204
    assert (await laptop.get(ME)).status_code == 401


async def test_cannot_end_another_users_session(make_api: MakeApi) -> None:
    api = await make_api(allow_registration=True)
    admin, _ = await api.signed_in("admin@example.com", register=True)
    bob, bob_token = await api.signed_in("bob@example.com", register=True)
    bob_row = api.sign_in_session_row(bob_token)
    assert bob_row is not None
    response = await admin.delete(f"{SESSIONS}/{bob_row.id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such session."}
    assert (await bob.get(ME)).status_code == 200
    assert api.sign_in_session_row(bob_token) is not None


async def test_unknown_session_id_is_404(api: Api) -> None:
    client, _ = await api.signed_in(register=True)
    for session_id in (secrets.token_hex(16), "x", "a" * 200):
        response = await client.delete(f"{SESSIONS}/{session_id}")
        assert response.status_code == 404, session_id
    assert api.sign_in_session_count() == 1


async def test_only_the_desktop_apps_own_backend_labels_a_session_aegis_desktop(api: Api) -> None:
    """The label comes from the launch-secret check, never from the user agent."""
    desktop_agent = {"user-agent": "Aegis desktop (Linux)"}
    secret = "the-launch-secret"
    through_the_guard = LoopbackOnlyGuard(api.app, secret, allowed_hosts={"testserver"})
    window = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=through_the_guard),
        base_url="http://testserver",
        headers={LAUNCH_SECRET_HEADER: secret, **desktop_agent},
    )
    async with window:
        await api.register(window)  # sign-up marks it too
        assert (await api.login(window, "admin@example.com")).status_code == 200
        impostor = await api.client()
        response = await impostor.post(
            f"{API}/auth/login",
            json={"email": "admin@example.com", "password": PASSWORD},
            headers=desktop_agent,
        )
        assert response.status_code == 200
        script = await api.client()  # httpx's own user agent
        assert (await api.login(script, "admin@example.com")).status_code == 200
        listed = await window.get(SESSIONS)
    assert listed.status_code == 200
    assert sorted(s["device"] for s in listed.json()) == [
        "Aegis desktop on Linux",
        "Aegis desktop on Linux",
        "Script (python-httpx)",
        'Unverified client calling itself "Aegis desktop" on Linux',
    ]
