"""The hand-off code store on its own, in a real database on each engine.

What used to be process memory is the ``handoff_codes`` table now: single use, expiry,
nothing in the clear, and expired rows cleaned up, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from backend.core.db import make_engine, migrate
from backend.core.security import hash_token, new_session_token
from backend.models import HandoffCode
from backend.services.handoff import CookieHandoffStore, seal, unseal
from tests.backend.api_helpers import FakeClock


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    url = database_url
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def store(clock: FakeClock, ttl_seconds: float = 30) -> CookieHandoffStore:
    return CookieHandoffStore(ttl_seconds=ttl_seconds, clock=clock.utcnow)


def pending(engine: Engine) -> int:
    with Session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(HandoffCode)) or 0)


def test_redeems_once(engine: Engine, clock: FakeClock) -> None:
    codes = store(clock)
    with Session(engine) as db:
        code = codes.create(db, "the-token")
        assert code != "the-token"
        assert codes.redeem(db, code) == "the-token"
        assert codes.redeem(db, code) is None
    assert pending(engine) == 0


def test_codes_are_random_and_independent(engine: Engine, clock: FakeClock) -> None:
    codes = store(clock)
    with Session(engine) as db:
        first, second = codes.create(db, "t1"), codes.create(db, "t1")
        assert first != second
        assert len(first) >= 32
        assert codes.redeem(db, second) == "t1"
        assert codes.redeem(db, first) == "t1"


def test_unknown_code(engine: Engine, clock: FakeClock) -> None:
    codes = store(clock)
    with Session(engine) as db:
        codes.create(db, "t")
        assert codes.redeem(db, "nope") is None
        assert codes.redeem(db, "") is None
    assert pending(engine) == 1


def test_expiry(engine: Engine, clock: FakeClock) -> None:
    codes = store(clock, ttl_seconds=30)
    with Session(engine) as db:
        code = codes.create(db, "t")
        clock.advance(30)
        assert codes.redeem(db, code) == "t"  # exactly at the deadline still counts
        late = codes.create(db, "u")
        clock.advance(30.001)
        assert codes.redeem(db, late) is None
    assert pending(engine) == 0  # the expired code was burnt by the attempt


def test_zero_ttl(engine: Engine, clock: FakeClock) -> None:
    codes = store(clock, ttl_seconds=0)
    with Session(engine) as db:
        code = codes.create(db, "t")
        clock.advance(0.001)
        assert codes.redeem(db, code) is None


def test_neither_the_code_nor_the_token_is_stored_in_the_clear(
    engine: Engine, clock: FakeClock
) -> None:
    codes = store(clock)
    token = new_session_token()
    with Session(engine) as db:
        code = codes.create(db, token)
        [row] = db.scalars(select(HandoffCode)).all()
    assert row.code_hash == hash_token(code)
    assert row.code_hash != code
    stored = row.code_hash.encode() + row.sealed_token
    for secret in (code, token):
        assert secret.encode() not in stored
    assert row.sealed_token != token.encode() and len(row.sealed_token) == len(token)
    # Only the code opens it: the stored hash is not the key.
    assert unseal(code, row.sealed_token) == token
    assert unseal(row.code_hash, row.sealed_token) != token


def test_seal_is_keyed_by_the_code() -> None:
    token = new_session_token()
    assert seal("code-a", token) != seal("code-b", token)
    assert unseal("code-a", seal("code-a", token)) == token
    long_token = "x" * 300  # longer than one HMAC-SHA-512 block
    assert unseal("c", seal("c", long_token)) == long_token


def test_create_drops_expired_codes(engine: Engine, clock: FakeClock) -> None:
    codes = store(clock, ttl_seconds=5)
    with Session(engine) as db:
        for i in range(10):
            codes.create(db, f"t{i}")
        clock.advance(6)
        fresh = codes.create(db, "fresh")
    assert pending(engine) == 1
    with Session(engine) as db:
        assert codes.redeem(db, fresh) == "fresh"


def test_delete_expired_keeps_live_codes(engine: Engine, clock: FakeClock) -> None:
    codes = store(clock, ttl_seconds=5)
    with Session(engine) as db:
        codes.create(db, "old")
        clock.advance(3)
        live = codes.create(db, "live")
        clock.advance(3)
        assert codes.delete_expired(db) == 1
        assert codes.redeem(db, live) == "live"
