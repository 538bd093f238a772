"""Sign-up: who may register, with what role, and how bad input is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.backend.api_helpers import API, PASSWORD, Api, MakeApi, cookie_token

REGISTER = f"{API}/auth/register"


def registration(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "email": "ada@example.com",
        "password": PASSWORD,
        "full_name": "Ada Lovelace",
    }
    body.update(changes)
    return body


async def test_status_before_and_after_first_account(api: Api) -> None:
    client = await api.client()
    before = (await client.get(f"{API}/auth/registration")).json()
    assert before == {"open": True, "first_account": True, "min_password_length": 10}
    await api.register(client)
    after = (await client.get(f"{API}/auth/registration")).json()
    assert after == {"open": False, "first_account": False, "min_password_length": 10}


async def test_first_account_is_admin_and_signed_in(api: Api) -> None:
    client = await api.client()
    response = await client.post(REGISTER, json=registration(email="Ada@Example.COM"))
    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "admin"
    assert body["email"] == "ada@example.com"
    assert body["is_active"] is True
    assert "password" not in body and "password_hash" not in body
    assert cookie_token(response)
    me = await client.get(f"{API}/auth/me")
    assert me.status_code == 200
    assert me.json()["id"] == body["id"]
    assert api.user_count() == 1
    assert api.sign_in_session_count() == 1


async def test_second_registration_refused_when_closed(api: Api) -> None:
    admin = await api.client()
    await api.register(admin)
    stranger = await api.client()
    response = await stranger.post(REGISTER, json=registration(email="eve@example.com"))
    assert response.status_code == 403
    assert "closed" in response.json()["detail"]
    assert session_cookie_absent(response)
    # Being signed in (even as the admin) does not reopen it.
    response = await admin.post(REGISTER, json=registration(email="eve@example.com"))
    assert response.status_code == 403
    assert api.user_count() == 1


async def test_open_registration_makes_viewers(make_api: MakeApi) -> None:
    api = await make_api(allow_registration=True)
    await api.register(await api.client())
    second = await api.client()
    response = await api.register(second, email="bob@example.com", full_name="Bob")
    assert response.json()["role"] == "viewer"
    me = await second.get(f"{API}/auth/me")
    assert me.json()["email"] == "bob@example.com"
    assert (await second.get(f"{API}/auth/registration")).json()["open"] is True


async def test_duplicate_email_is_409_case_insensitively(make_api: MakeApi) -> None:
    api = await make_api(allow_registration=True)
    await api.register(await api.client(), email="ada@example.com")
    other = await api.client()
    response = await other.post(REGISTER, json=registration(email="ADA@example.com"))
    assert response.status_code == 409
    assert "exists" in response.json()["detail"]
    assert session_cookie_absent(response)
    assert api.user_count() == 1
    assert api.sign_in_session_count() == 1


async def test_short_password_names_the_minimum(api: Api) -> None:
    client = await api.client()
    response = await client.post(REGISTER, json=registration(password="x" * 9))
    assert response.status_code == 422
    assert "at least 10 characters" in response.json()["detail"]
    assert api.user_count() == 0
    # Exactly the minimum is enough.
    response = await client.post(REGISTER, json=registration(password="x" * 10))
    assert response.status_code == 201


async def test_minimum_follows_settings(make_api: MakeApi) -> None:
    api = await make_api(min_password_length=16)
    client = await api.client()
    response = await client.post(REGISTER, json=registration(password="x" * 15))
    assert response.status_code == 422
    assert "at least 16 characters" in response.json()["detail"]


def session_cookie_absent(response: httpx.Response) -> bool:
    return not any(h.startswith("aegis_session=") for h in response.headers.get_list("set-cookie"))


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (registration(email="not-an-email"), 422, "email"),
        (registration(email=""), 422, "email"),
        ({"email": "ada@example.com", "password": PASSWORD}, 422, "full_name: is required"),
        ({"password": PASSWORD, "full_name": "A"}, 422, "email: is required"),
        (registration(full_name=""), 422, "full_name"),
        (registration(password="x" * 257), 422, "password"),
        (registration(is_admin=True), 422, "is_admin: Extra inputs are not permitted"),
        (registration(role="admin"), 422, "role: Extra inputs are not permitted"),
        (["ada@example.com"], 422, "valid dictionary"),
    ],
    ids=[
        "invalid-email",
        "empty-email",
        "missing-full-name",
        "missing-email",
        "empty-full-name",
        "overlong-password",
        "extra-field",
        "role-smuggling",
        "not-an-object",
    ],
)
async def test_invalid_bodies_are_named_and_change_nothing(
    api: Api, body: object, status: int, words: str
) -> None:
    client = await api.client()
    response = await client.post(REGISTER, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert words in detail
    assert session_cookie_absent(response)
    assert api.user_count() == 0
    assert api.sign_in_session_count() == 0


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"email": "ada@example.com", "password": ', "not valid JSON"),
        (b"{'email': 'ada@example.com'}", "not valid JSON"),
        (b"", "is required"),
    ],
    ids=["truncated", "single-quotes", "empty"],
)
async def test_malformed_json_is_422(api: Api, content: bytes, words: str) -> None:
    client = await api.client()
    response = await client.post(
        REGISTER, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert api.user_count() == 0


async def test_invalid_utf8_is_a_client_error(api: Api) -> None:
    client = await api.client()
    response = await client.post(
        REGISTER, content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert "body" in response.json()["detail"]
    assert api.user_count() == 0


async def test_oversized_body_with_content_length_is_413(api: Api) -> None:
    client = await api.client()
    limit = api.settings.max_body_bytes
    body = registration(full_name="A" * (limit + 1))
    response = await client.post(REGISTER, json=body)
    assert response.request.headers["content-length"].isdigit()
    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body is larger than {limit} bytes."}
    assert api.user_count() == 0


async def test_bogus_content_length_is_413(api: Api) -> None:
    client = await api.client()
    response = await client.post(
        REGISTER,
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "-1"},
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


async def test_oversized_streamed_body_is_413(make_api: MakeApi) -> None:
    api = await make_api(max_body_bytes=2048)
    client = await api.client()

    # No Content-Length: sent with Transfer-Encoding: chunked.
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "ada@example.com", "password": "' + PASSWORD.encode() + b'", '
        for _ in range(5):
            yield b'"full_name": "' + b"A" * 1000 + b'", '
        yield b'"x": 1}'

    response = await client.post(
        REGISTER, content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": "Request body is larger than 2048 bytes."}
    assert api.user_count() == 0


async def test_streamed_body_under_the_limit_is_fine(make_api: MakeApi) -> None:
    api = await make_api(max_body_bytes=2048)
    client = await api.client()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "ada@example.com", '
        yield b'"password": "' + PASSWORD.encode() + b'", "full_name": "Ada"}'

    response = await client.post(
        REGISTER, content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert api.user_count() == 1
