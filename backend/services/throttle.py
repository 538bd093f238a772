"""Throttling password guesses, counted in the database before any password is checked.

Every attempt is counted by one atomic upsert (``INSERT … ON CONFLICT DO UPDATE …
RETURNING``) and committed before the slow argon2 check runs, so N attempts arriving
together get counts 1…N and only those within the limit reach the hash. The counters
live in the database, so several backend instances share them.

Fixed windows: a key's first attempt opens a window of ``window_seconds``; attempts in
it are counted; past the limit they are refused until the window ends (``Retry-After``).
The next attempt after that opens a new window. (A sliding window would need a row per
attempt; a fixed one needs one row per key and one statement per attempt.)

Keys: ``ip:<address>`` (an IPv6 client by its /64, which one subscriber usually gets
whole), ``email:<email>`` and ``password-change:<user id>``. The address is counted
first and, when it is over its limit, the email is not counted at all, so an address
can create at most ``limit * IP_FACTOR`` email rows per window however many emails it
cycles through. Rows whose window has ended are deleted by the scheduler; rows are
therefore bounded by (addresses or /64 networks seen in the last window) *
(1 + the per-address limit), plus one change-password row per user.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, case, delete, literal, update
from sqlalchemy.orm import Session

from backend.core.config import Settings
from backend.core.db import upsert
from backend.models import ThrottleCounter, UTCDateTime, utcnow

IP_FACTOR = 4
"""A shared address (NAT, office) sees many users fail, so its limit is looser."""
IPV6_GROUP_PREFIX = 64

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Verdict:
    key: str
    allowed: bool
    attempts: int
    """Attempts in this window so far, this one included."""
    limit: int
    window_ends_at: datetime
    retry_after: int
    """Whole seconds until the window ends when refused (at least 1); 0 when allowed."""


def _counters() -> Table:
    table = ThrottleCounter.__table__
    assert isinstance(table, Table)
    return table


class Throttle:
    """At most ``limit`` attempts per key per fixed window of ``window_seconds``."""

    def __init__(self, limit: int, window_seconds: int, clock: Clock = utcnow) -> None:
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self.clock = clock

    def attempt(self, db: Session, key: str) -> Verdict:
        """Count one attempt for ``key`` in ``db``'s transaction and say whether it may go on.

        The caller must commit before doing the work the throttle protects, so that
        parallel attempts see this one.
        """
        now = self.clock()
        ends = literal(now + self.window, UTCDateTime())
        table = _counters()
        expired = table.c.window_ends_at <= now
        statement = (
            upsert(db, table)
            .values(key=key, window_ends_at=now + self.window, attempts=1)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                # Both right-hand sides read the row as it was before this statement.
                set_={
                    "window_ends_at": case((expired, ends), else_=table.c.window_ends_at),
                    "attempts": case((expired, 1), else_=table.c.attempts + 1),
                },
            )
            .returning(table.c.window_ends_at, table.c.attempts)
        )
        window_ends_at, attempts = db.execute(statement).one()
        allowed = attempts <= self.limit
        wait = 0 if allowed else max(1, math.ceil((window_ends_at - now).total_seconds()))
        return Verdict(key, allowed, attempts, self.limit, window_ends_at, wait)

    def forget(self, db: Session, key: str) -> None:
        """Start ``key`` afresh (in ``db``'s transaction)."""
        table = _counters()
        db.execute(delete(table).where(table.c.key == key))

    def give_back(self, db: Session, key: str) -> None:
        """Un-count one attempt of the current window (in ``db``'s transaction)."""
        table = _counters()
        db.execute(
            update(table)
            .where(
                table.c.key == key,
                table.c.attempts > 0,
                table.c.window_ends_at > self.clock(),
            )
            .values(attempts=table.c.attempts - 1)
        )


def address_key(ip: str) -> str:
    """``ip:<address>``; IPv6 by its /64, an IPv4-mapped IPv6 address as IPv4."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return f"ip:{ip}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        network = ipaddress.IPv6Network(f"{address}/{IPV6_GROUP_PREFIX}", strict=False)
        return f"ip:{network}"
    return f"ip:{address}"


def email_key(email: str) -> str:
    return f"email:{email.lower()}"


def password_change_key(user_id: int) -> str:
    return f"password-change:{user_id}"


class SignInThrottles:
    """The throttles of one app: per address, per email, and for password changes.

    Password changes have their own key per user: a stolen session guessing the
    current password must not lock the owner out of signing in.
    """

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        allowed, window = settings.login_failures_allowed, settings.login_failure_window_seconds
        self.clock = clock
        self.per_address = Throttle(allowed * IP_FACTOR, window, self._now)
        self.per_email = Throttle(allowed, window, self._now)
        self.password_change = Throttle(allowed, window, self._now)

    def _now(self) -> datetime:
        return self.clock()

    def sign_in_attempt(self, db: Session, *, ip: str, email: str) -> Verdict:
        """Count a sign-in attempt; the refusing verdict, or the email's.

        In ``db``'s transaction: the caller commits (before checking the password).
        The address first: one over its limit is refused without an email row.
        Always address, then email, so two transactions never wait on each other's
        rows in opposite orders (PostgreSQL row locks).
        """
        by_address = self.per_address.attempt(db, address_key(ip))
        if not by_address.allowed:
            return by_address
        return self.per_email.attempt(db, email_key(email))

    def signed_in(self, db: Session, *, ip: str, email: str) -> None:
        """A success: the email starts afresh and the address gets its attempt back,
        so people signing in behind one NAT do not use up each other's allowance.
        (In ``db``'s transaction, with the new session.)"""
        self.per_address.give_back(db, address_key(ip))
        self.per_email.forget(db, email_key(email))


def delete_expired(db: Session, now: datetime | None = None) -> int:
    """Delete every counter whose window has ended; commits. Returns how many."""
    table = _counters()
    result = db.execute(delete(table).where(table.c.window_ends_at <= (now or utcnow())))
    db.commit()
    return int(getattr(result, "rowcount", 0) or 0)
