"""Two instances on one database share hand-off codes (issue 9, "Shared state").

Each test runs two real uvicorn servers, each its own ``create_api`` app, on one
database: one SQLite file, or one PostgreSQL database in the run's throwaway cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest

from backend.core.config import SESSION_COOKIE
from backend.core.security import hash_token
from tests.backend.api_helpers import cookie_value
from tests.backend.live_server import LiveServer, in_parallel, live_server

ROUNDS = 20
REDEEMS_PER_INSTANCE = 4
EMAIL, PASSWORD = "ada@example.com", "correct horse battery"


@pytest.fixture
def two_instances(tmp_path: Path, database_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    with ExitStack() as stack:
        a = stack.enter_context(live_server(tmp_path / "a", database_url=database_url))
        b = stack.enter_context(live_server(tmp_path / "b", database_url=database_url))
        yield a, b


@contextmanager
def signed_in(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        body = {"email": EMAIL, "password": PASSWORD, "full_name": "Ada"}
        assert client.post("/auth/register", json=body).status_code == 201
        response = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield client


def redeem(server: LiveServer, code: str) -> httpx.Response:
    navigation = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate"}
    with server.client(**navigation) as browser:
        return browser.get(f"/auth/handoff/{code}", follow_redirects=False)


def test_a_code_minted_on_one_instance_is_redeemed_through_the_other(
    two_instances: tuple[LiveServer, LiveServer],
) -> None:
    """Before: codes lived in the minting process; B answered 303 with no cookie."""
    a, b = two_instances
    with signed_in(a) as owner:
        token = owner.cookies[SESSION_COOKIE]
        minted = owner.post("/auth/handoff")
        assert minted.status_code == 200, minted.text
        response = redeem(b, minted.json()["code"])
    assert response.status_code == 303
    assert cookie_value(response) == token
    with b.client() as browser:
        me = browser.get("/auth/me", headers={"cookie": f"{SESSION_COOKIE}={token}"})
    assert me.status_code == 200 and me.json()["email"] == EMAIL


def test_the_database_holds_neither_the_code_nor_the_token(
    two_instances: tuple[LiveServer, LiveServer],
) -> None:
    a, _ = two_instances
    with signed_in(a) as owner:
        token = owner.cookies[SESSION_COOKIE]
        code = owner.post("/auth/handoff").json()["code"]
    with a.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT code_hash, sealed_token, expires_at FROM handoff_codes"
        ).all()
    assert len(rows) == 1
    [(code_hash, sealed, _expires)] = rows
    assert code_hash == hash_token(code)
    stored = str(code_hash).encode() + bytes(sealed)
    assert code.encode() not in stored
    assert token.encode() not in stored


def test_a_code_redeemed_on_both_instances_at_once_sets_the_cookie_once(
    two_instances: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_instances
    with signed_in(a) as owner:
        for round_no in range(ROUNDS):
            minted = owner.post("/auth/handoff")
            assert minted.status_code == 200, minted.text
            code = minted.json()["code"]
            calls = [partial(redeem, server, code) for server in (a, b)] * REDEEMS_PER_INSTANCE
            responses = in_parallel(calls)
            where = f"round {round_no + 1}/{ROUNDS}"
            assert [r.status_code for r in responses] == [303] * len(calls), where
            cookies = [cookie_value(r) for r in responses]
            winners = [c for c in cookies if c is not None]
            assert winners == [owner.cookies[SESSION_COOKIE]], f"{where}: {len(winners)} set it"
            assert a.scalar("SELECT count(*) FROM handoff_codes") == 0, where
    print(f"\nhand-off across two instances: {ROUNDS} rounds, {len(calls)} redeems each")
