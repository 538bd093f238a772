"""The database-backed throttle: fixed windows, keys, bounds, and atomic counting.

A real SQLite file with the real migrations; the wall clock is a ``FakeClock``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.core.config import Settings
from backend.core.db import make_engine, migrate, session_factory
from backend.models import ThrottleCounter
from backend.services import throttle
from backend.services.throttle import (
    IP_FACTOR,
    SignInThrottles,
    Throttle,
    address_key,
    email_key,
    password_change_key,
)
from tests.backend.api_helpers import FakeClock


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'throttle.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def db(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as db:
        yield db


def attempts(db: Session, throttle_: Throttle, key: str, times: int) -> list[bool]:
    verdicts = [throttle_.attempt(db, key) for _ in range(times)]
    db.commit()
    return [v.allowed for v in verdicts]


def rows(db: Session) -> dict[str, int]:
    found = db.execute(select(ThrottleCounter.key, ThrottleCounter.attempts))
    return {key: count for key, count in found}


def test_allows_up_to_the_limit_then_refuses_until_the_window_ends(db: Session) -> None:
    clock = FakeClock()
    limiter = Throttle(3, 60, clock.utcnow)
    assert attempts(db, limiter, "k", 3) == [True, True, True]
    refused = limiter.attempt(db, "k")
    assert not refused.allowed and refused.attempts == 4 and refused.limit == 3
    assert refused.retry_after == 60
    assert limiter.attempt(db, "other").allowed
    clock.advance(59.5)
    assert limiter.attempt(db, "k").retry_after == 1  # half a second, rounded up
    clock.advance(0.5)
    fresh = limiter.attempt(db, "k")  # the window ended: a new one starts with this
    assert fresh.allowed and fresh.attempts == 1
    assert fresh.window_ends_at == clock.utcnow() + limiter.window


def test_the_window_is_fixed_from_its_first_attempt(db: Session) -> None:
    clock = FakeClock()
    limiter = Throttle(2, 60, clock.utcnow)
    first = limiter.attempt(db, "k")
    clock.advance(40)
    assert limiter.attempt(db, "k").window_ends_at == first.window_ends_at
    refused = limiter.attempt(db, "k")
    assert not refused.allowed and refused.retry_after == 20


def test_forget_and_give_back(db: Session) -> None:
    clock = FakeClock()
    limiter = Throttle(2, 60, clock.utcnow)
    attempts(db, limiter, "a", 2)
    attempts(db, limiter, "b", 2)
    limiter.forget(db, "a")
    limiter.forget(db, "never-seen")
    limiter.give_back(db, "b")
    db.commit()
    assert rows(db) == {"b": 1}
    assert limiter.attempt(db, "a").allowed
    assert limiter.attempt(db, "b").allowed  # 2 of 2: the given-back one made room
    assert not limiter.attempt(db, "b").allowed


def test_give_back_never_goes_below_zero_nor_touches_an_ended_window(db: Session) -> None:
    clock = FakeClock()
    limiter = Throttle(1, 60, clock.utcnow)
    attempts(db, limiter, "k", 1)
    for _ in range(3):
        limiter.give_back(db, "k")
    db.commit()
    assert rows(db) == {"k": 0}
    attempts(db, limiter, "k", 1)
    clock.advance(61)
    limiter.give_back(db, "k")
    db.commit()
    assert rows(db) == {"k": 1}


def test_delete_expired_keeps_live_windows(db: Session) -> None:
    clock = FakeClock()
    short, long = Throttle(1, 10, clock.utcnow), Throttle(1, 100, clock.utcnow)
    short.attempt(db, "short")
    long.attempt(db, "long")
    db.commit()
    clock.advance(10)
    assert throttle.delete_expired(db, clock.utcnow()) == 1
    assert rows(db) == {"long": 1}


def test_keys() -> None:
    assert address_key("203.0.113.9") == "ip:203.0.113.9"
    # One subscriber usually holds a whole IPv6 /64: counted as one address.
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") == "ip:2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:203.0.113.9") == "ip:203.0.113.9"
    assert address_key("") == "ip:"
    assert email_key("Ada@Example.com") == "email:ada@example.com"
    assert password_change_key(7) == "password-change:7"


def test_an_address_cycling_emails_creates_a_bounded_number_of_rows(db: Session) -> None:
    settings = Settings(_env_file=None, login_failures_allowed=2)
    throttles = SignInThrottles(settings, FakeClock().utcnow)
    outcomes = []
    for n in range(200):
        outcomes.append(throttles.sign_in_attempt(db, ip="203.0.113.9", email=f"u{n}@x.org"))
        db.commit()
    ip_limit = 2 * IP_FACTOR
    assert [v.allowed for v in outcomes].count(True) == ip_limit
    assert len(rows(db)) == 1 + ip_limit  # the address's row and one per email it got to try
    assert rows(db)[address_key("203.0.113.9")] == 200


def test_parallel_attempts_on_one_key_let_exactly_the_limit_through(
    factory: sessionmaker[Session],
) -> None:
    """Unit-level companion of the live test: 24 threads, 24 connections, one key."""
    limiter = Throttle(5, 600)
    barrier = threading.Barrier(24)

    def attempt(_: int) -> bool:
        with factory() as db:
            barrier.wait(timeout=30)
            verdict = limiter.attempt(db, "k")
            db.commit()
            return verdict.allowed

    for _ in range(3):
        with factory() as db:
            db.execute(delete(ThrottleCounter))
            db.commit()
        with ThreadPoolExecutor(24) as pool:
            allowed = list(pool.map(attempt, range(24)))
        assert allowed.count(True) == 5
        with factory() as db:
            assert db.scalar(select(func.sum(ThrottleCounter.attempts))) == 24
