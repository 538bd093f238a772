"""The session cookie's attributes, and what the token is and is not."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest
from sqlalchemy import select

from backend.models import SignInSession
from tests.backend.api_helpers import (
    API,
    Api,
    MakeApi,
    cookie_attributes,
    cookie_token,
    session_cookie,
)


@pytest.mark.parametrize(
    ("cookie_secure", "base_url", "secure"),
    [
        ("auto", "http://testserver", False),
        ("auto", "https://testserver", True),
        ("always", "http://testserver", True),
        ("always", "https://testserver", True),
        ("never", "https://testserver", False),
        ("never", "http://testserver", False),
    ],
)
async def test_cookie_attributes(
    make_api: MakeApi, cookie_secure: str, base_url: str, secure: bool
) -> None:
    api = await make_api(cookie_secure=cookie_secure)
    client = await api.client(base_url=base_url)
    for response in (
        await api.register(client),
        await api.login(await api.client(base_url=base_url), "admin@example.com"),
    ):
        header = session_cookie(response)
        assert header is not None
        attributes = cookie_attributes(header)
        assert "httponly" in attributes
        assert attributes["samesite"].lower() == "lax"
        assert attributes["path"] == "/"
        assert "domain" not in attributes
        assert int(attributes["max-age"]) == 30 * 24 * 3600
        assert ("secure" in attributes) is secure, header


async def test_token_has_at_least_128_random_bits(api: Api) -> None:
    token = cookie_token(await api.register(await api.client()))
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) >= 16
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


async def test_every_sign_in_gets_a_new_token(api: Api) -> None:
    client = await api.client()
    tokens = {cookie_token(await api.register(client))}
    for _ in range(3):
        response = await api.login(client, "admin@example.com")
        assert response.status_code == 200
        tokens.add(cookie_token(response))
    assert len(tokens) == 4
    assert api.sign_in_session_count() == 4


async def test_database_stores_only_the_token_hash(api: Api) -> None:
    token = cookie_token(await api.register(await api.client()))
    with api.db() as db:
        rows = db.execute(select(SignInSession.__table__)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    for column, value in row.items():
        assert value != token, column
        assert token not in str(value), column


@pytest.mark.parametrize(
    "forged",
    [secrets.token_urlsafe(32), "", "x", "A" * 5000],
    ids=["random", "empty", "short", "huge"],
)
async def test_unknown_or_forged_token_is_401(api: Api, forged: str) -> None:
    await api.register(await api.client())
    client = await api.client()
    response = await client.get(f"{API}/auth/me", headers={"cookie": f"aegis_session={forged}"})
    assert response.status_code == 401
    assert "not signed in" in response.json()["detail"]


async def test_hash_of_a_token_is_not_a_token(api: Api) -> None:
    """Someone who reads the database cannot use what they find there."""
    token = cookie_token(await api.register(await api.client()))
    stolen = hashlib.sha256(token.encode()).hexdigest()
    client = await api.client()
    response = await client.get(f"{API}/auth/me", headers={"cookie": f"aegis_session={stolen}"})
    assert response.status_code == 401


async def test_no_cookie_is_401(api: Api) -> None:
    client = await api.client()
    for path in ("/auth/me", "/auth/sessions"):
        response = await client.get(f"{API}{path}")
        assert response.status_code == 401
    assert (await client.post(f"{API}/auth/logout")).status_code == 401
    assert (await client.post(f"{API}/auth/handoff")).status_code == 401
