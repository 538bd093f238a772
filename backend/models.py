"""Database tables. The schema itself is owned by the Alembic migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC and always hands back aware UTC, so SQLite and PostgreSQL agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.VIEWER.value)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sessions: Mapped[list[SignInSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class SignInSession(Base):
    """A signed-in device: one sign-in, until sign-out, revocation or expiry. Only a hash
    of its cookie token is stored. (Not a database session: those are ``DbSession``.)"""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid.uuid4().hex)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    via_desktop_app: Mapped[bool] = mapped_column(Boolean, default=False)
    """Signed in through the desktop target's own transport, launch secret checked.

    Never inferred from the user agent, which any client can choose."""

    user: Mapped[User] = relationship(back_populates="sessions")


class AuditEvent(Base):
    """Who did what, when, from where. Kept when the actor's account is deleted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    actor_email: Mapped[str] = mapped_column(String(320), default="")
    target: Mapped[str] = mapped_column(String(320), default="", index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(String(1000), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    """How many times it happened: > 1 only for aggregated rows (refused sign-ins)."""
    group_key: Mapped[str | None] = mapped_column(
        String(64), nullable=True, unique=True, index=True
    )
    """Set on aggregated rows: a hash naming the group (kind, throttle key, window)
    that later occurrences add to instead of writing a row each."""


class RuleLock(Base):
    """Named rows that serialise the units of work keeping a rule (see ``rule_locks``)."""

    __tablename__ = "rule_locks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class ThrottleCounter(Base):
    """Attempts per key (``ip:…``, ``email:…``, ``password-change:…``) in a fixed window."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer)


class MetricSample(Base):
    """One reading of the host and the app, taken by the scheduler."""

    __tablename__ = "metric_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    cpu_percent: Mapped[float] = mapped_column(Float)
    memory_percent: Mapped[float] = mapped_column(Float)
    api_latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    db_latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    instance: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The ``aegis serve`` process that took it (None for samples older than the column)."""


class HandoffCode(Base):
    """A pending cookie hand-off: the code's hash and the token sealed under the code."""

    __tablename__ = "handoff_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed_token: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class JobLease(Base):
    """Who may run a scheduled job until when, and how its last run went (any instance)."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_outcome: Mapped[str] = mapped_column(String(20), default="never run")
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
