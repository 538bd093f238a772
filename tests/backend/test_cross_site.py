"""CrossSiteGuard in the real app: cookie-carrying state changes from other sites."""

from __future__ import annotations

import pytest

from tests.backend.api_helpers import API, PASSWORD, Api, session_cookie

ME = f"{API}/auth/me"
LOGOUT = f"{API}/auth/logout"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "https://testserver"},  # right host, wrong scheme
        {"origin": "http://testserver:8080"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "https://evil.example", "sec-fetch-site": "same-origin"},
    ],
    ids=[
        "foreign-origin",
        "lookalike-origin",
        "other-scheme",
        "other-port",
        "null-origin",
        "fetch-metadata-only",
        "origin-wins-over-metadata",
    ],
)
async def test_cross_site_post_with_cookie_is_refused(api: Api, headers: dict[str, str]) -> None:
    client, token = await api.signed_in(register=True)
    response = await client.post(LOGOUT, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "Cross-site request refused."}
    # The refused request changed nothing.
    assert api.sign_in_session_row(token) is not None
    assert (await client.get(ME)).status_code == 200


async def test_cross_site_delete_is_refused(api: Api) -> None:
    client, _ = await api.signed_in(register=True)
    _, phone_token = await api.signed_in()
    row = api.sign_in_session_row(phone_token)
    assert row is not None
    response = await client.delete(
        f"{API}/auth/sessions/{row.id}", headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert api.sign_in_session_row(phone_token) is not None


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://testserver"},
        {"origin": "http://testserver/"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "none"},
        {},
    ],
    ids=["same-origin", "trailing-slash", "fetch-same-origin", "fetch-same-site", "typed", "none"],
)
async def test_same_origin_post_is_allowed(api: Api, headers: dict[str, str]) -> None:
    client, token = await api.signed_in(register=True)
    response = await client.post(LOGOUT, headers=headers)
    assert response.status_code == 200
    assert api.sign_in_session_row(token) is None


async def test_https_same_origin_is_allowed(api: Api) -> None:
    client, _ = await api.signed_in(register=True, base_url="https://testserver")
    response = await client.post(LOGOUT, headers={"origin": "https://testserver"})
    assert response.status_code == 200


async def test_safe_methods_are_not_checked(api: Api) -> None:
    client, _ = await api.signed_in(register=True)
    response = await client.get(ME, headers={"origin": "https://evil.example"})
    assert response.status_code == 200


async def test_login_without_cookie_from_another_site_is_blocked(api: Api) -> None:
    """Login CSRF: a foreign page must not sign the victim's browser into its account."""
    await api.register(await api.client())
    victim = await api.client()
    response = await victim.post(
        f"{API}/auth/login",
        json={"email": "admin@example.com", "password": PASSWORD},
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert response.status_code == 403
    assert session_cookie(response) is None


async def test_login_with_cookie_from_another_site_is_blocked(api: Api) -> None:
    client, _ = await api.signed_in(register=True)
    response = await client.post(
        f"{API}/auth/login",
        json={"email": "admin@example.com", "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert session_cookie(response) is None
    assert api.sign_in_session_count() == 1
