"""Sign-in: identical refusals, equal work, throttling per email and per address."""

from __future__ import annotations

import httpx
import pytest

from backend.core import security
from backend.services.throttle import IP_FACTOR
from tests.backend.api_helpers import (
    API,
    PASSWORD,
    Api,
    FakeClock,
    MakeApi,
    cookie_token,
    session_cookie,
)

LOGIN = f"{API}/auth/login"


async def test_login_sets_a_working_cookie(api: Api) -> None:
    await api.register(await api.client())
    client = await api.client()
    response = await api.login(client, "ADMIN@example.com")
    assert response.status_code == 200
    assert response.json()["email"] == "admin@example.com"
    assert cookie_token(response)
    assert (await client.get(f"{API}/auth/me")).json()["email"] == "admin@example.com"


async def test_wrong_password_and_unknown_email_look_the_same(api: Api) -> None:
    await api.register(await api.client())
    client = await api.client()
    wrong = await api.login(client, "admin@example.com", "wrong password!")
    unknown = await api.login(client, "nobody@example.com", "wrong password!")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert wrong.json() == {"detail": "Incorrect email or password."}
    assert session_cookie(wrong) is None and session_cookie(unknown) is None
    assert wrong.headers.keys() == unknown.headers.keys()


async def test_unknown_email_costs_as_much_as_a_wrong_password(
    make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both refusals run exactly one real argon2 verification with the same cost
    parameters, so neither answers sooner. Checked by what is verified, not by the
    clock (a loaded machine makes timings meaningless)."""
    api = await make_api(login_failures_allowed=100)
    await api.register(await api.client())
    client = await api.client()
    verified: list[str] = []
    hasher = security.password_hasher()

    class RecordingHasher(type(hasher)):  # type: ignore[misc]  # argon2 is untyped
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(hash if isinstance(hash, str) else hash.decode())
            return bool(super().verify(hash, password))

    recording = RecordingHasher(
        time_cost=hasher.time_cost,
        memory_cost=hasher.memory_cost,
        parallelism=hasher.parallelism,
    )
    monkeypatch.setattr(security, "password_hasher", lambda: recording)

    def cost(argon2_hash: str) -> str:
        return argon2_hash.split("$")[3]  # "m=19456,t=2,p=1"

    for email in ("admin@example.com", "nobody@example.com"):
        verified.clear()
        response = await api.login(client, email, "wrong password!")
        assert response.status_code == 401, response.text
        assert len(verified) == 1, (email, verified)
    (unknown_hash,) = verified
    assert unknown_hash == security.DUMMY_HASH
    verified.clear()
    await api.login(client, "admin@example.com", "wrong password!")
    (known_hash,) = verified
    assert known_hash != security.DUMMY_HASH
    assert (
        cost(unknown_hash)
        == cost(known_hash)
        == f"m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
    )


async def fail(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post(LOGIN, json={"email": email, "password": "wrong password!"})
    assert response.status_code == 401, response.text
    return response


def assert_throttled(response: httpx.Response, window: int) -> None:
    assert response.status_code == 429, response.text
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    assert 0 < int(retry_after) <= window + 1
    assert f"Try again in {retry_after} seconds" in response.json()["detail"]
    assert session_cookie(response) is None


async def test_email_throttle_blocks_even_the_right_password(make_api: MakeApi) -> None:
    api = await make_api(login_failures_allowed=3, login_failure_window_seconds=600)
    await api.register(await api.client())
    attacker = await api.client(ip="203.0.113.9")
    for _ in range(3):
        await fail(attacker, "admin@example.com")
    assert_throttled(await api.login(attacker, "admin@example.com"), 600)
    # Per email, not per address: the owner elsewhere is also held back...
    owner = await api.client(ip="198.51.100.7")
    assert_throttled(await api.login(owner, "Admin@Example.com"), 600)
    # ...while other emails from the attacker's address are not (yet).
    other = await attacker.post(LOGIN, json={"email": "x@example.com", "password": "nope"})
    assert other.status_code == 401


async def test_ip_throttle_across_many_emails(make_api: MakeApi) -> None:
    api = await make_api(login_failures_allowed=2, login_failure_window_seconds=60)
    await api.register(await api.client())
    sprayer = await api.client(ip="203.0.113.9")
    ip_limit = 2 * IP_FACTOR
    for i in range(ip_limit):
        await fail(sprayer, f"user{i}@example.com")
    assert_throttled(await api.login(sprayer, "admin@example.com"), 60)
    assert_throttled(await api.login(sprayer, "fresh@example.com", "whatever!"), 60)
    # Another address is unaffected.
    elsewhere = await api.client(ip="198.51.100.7")
    assert (await api.login(elsewhere, "admin@example.com")).status_code == 200


async def test_the_window_is_fixed_and_ends(make_api: MakeApi) -> None:
    api = await make_api(login_failures_allowed=2, login_failure_window_seconds=60)
    await api.register(await api.client())
    clock = FakeClock()
    api.app.state.throttles.clock = clock.utcnow
    client = await api.client()
    await fail(client, "admin@example.com")
    clock.advance(30)
    await fail(client, "admin@example.com")
    refused = await api.login(client, "admin@example.com")
    assert_throttled(refused, 60)
    assert refused.headers["retry-after"] == "30"  # from the window's first attempt
    clock.advance(29.5)
    assert (await api.login(client, "admin@example.com")).headers["retry-after"] == "1"
    clock.advance(0.5)
    assert (await api.login(client, "admin@example.com")).status_code == 200


async def test_a_success_gives_the_address_its_attempt_back(make_api: MakeApi) -> None:
    """People signing in behind one NAT do not use up each other's allowance."""
    api = await make_api(login_failures_allowed=1)
    await api.register(await api.client())
    office = await api.client(ip="198.51.100.7")
    for _ in range(3 * IP_FACTOR):
        assert (await api.login(office, "admin@example.com")).status_code == 200
    for n in range(IP_FACTOR):
        await fail(office, f"someone{n}@example.com")
    assert (await api.login(office, "admin@example.com")).status_code == 429


async def test_success_resets_the_email_counter(make_api: MakeApi) -> None:
    api = await make_api(login_failures_allowed=3)
    await api.register(await api.client())
    client = await api.client()
    for _ in range(2):
        await fail(client, "admin@example.com")
    assert (await api.login(client, "admin@example.com")).status_code == 200
    for _ in range(2):
        await fail(client, "admin@example.com")
    # Four failures in the window, but the success in between reset the count.
    assert (await api.login(client, "admin@example.com")).status_code == 200
    for _ in range(3):
        await fail(client, "admin@example.com")
    assert (await api.login(client, "admin@example.com")).status_code == 429


async def test_login_body_validation(api: Api) -> None:
    client = await api.client()
    cases = [
        ({"email": "admin@example.com"}, "password: is required"),
        ({"email": "nope", "password": PASSWORD}, "email"),
        ({"email": "admin@example.com", "password": ""}, "password"),
        ({"email": "admin@example.com", "password": PASSWORD, "remember": 1}, "remember"),
    ]
    for body, words in cases:
        response = await client.post(LOGIN, json=body)
        assert response.status_code == 422, response.text
        assert words in response.json()["detail"]
