"""The audit trail: one row per security-relevant action, written in the caller's transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Required, TypedDict, Unpack

from sqlalchemy import Select, Table, delete, or_, select
from sqlalchemy.orm import Session

from backend.core.db import upsert
from backend.models import AuditEvent, User, utcnow


class AuditKind(StrEnum):
    REGISTERED = "registered"
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_THROTTLED = "sign_in_throttled"
    SIGN_OUT = "sign_out"
    SESSION_REVOKED = "session_revoked"
    USER_CREATED = "user_created"
    ROLE_CHANGED = "role_changed"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event name)
    PROFILE_UPDATED = "profile_updated"
    HANDOFF_REFUSED = "handoff_refused"


KINDS: tuple[str, ...] = tuple(kind.value for kind in AuditKind)


def record(
    db: Session,
    kind: str,
    *,
    actor: User | None,
    actor_email: str | None = None,
    target: str = "",
    ip: str = "",
    detail: str = "",
) -> AuditEvent:
    """Add an audit row to ``db``; it is saved when the caller commits, with the change."""
    if kind not in KINDS:
        raise ValueError(f"unknown audit kind {kind!r}")
    event = AuditEvent(
        at=utcnow(),
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        actor_email=(actor_email if actor_email is not None else actor.email if actor else "")[
            :320
        ],
        target=target[:320],
        ip=ip[:64],
        detail=detail[:1000],
    )
    db.add(event)
    return event


class AuditFields(TypedDict, total=False):
    """What :func:`record` takes besides the kind, for :func:`record_and_commit`."""

    actor: Required[User | None]
    actor_email: str | None
    target: str
    ip: str
    detail: str


def record_and_commit(db: Session, kind: str, **fields: Unpack[AuditFields]) -> None:
    """Record the row and commit ``db`` at once: the action's change, made in ``db``
    before this call, and its audit row are saved together or not at all. Also for a
    refusal, whose request fails afterwards, so nothing else would commit the row."""
    record(db, kind, **fields)
    db.commit()


def record_aggregated(
    db: Session,
    kind: str,
    *,
    group: str,
    actor_email: str = "",
    target: str = "",
    ip: str = "",
    detail: str = "",
) -> int:
    """Count one occurrence on the row of ``group``, creating it the first time.

    For events that an attacker can repeat at will (refused sign-ins): one row per
    group with a count, not one row per request. One atomic upsert on the unique
    ``group_key``, so parallel occurrences neither lose counts nor make a second row.
    The first occurrence's fields and time stay. In ``db``'s transaction; returns the
    count so far.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown audit kind {kind!r}")
    table = AuditEvent.__table__
    assert isinstance(table, Table)
    statement = (
        upsert(db, table)
        .values(
            at=utcnow(),
            kind=kind,
            actor_id=None,
            actor_email=actor_email[:320],
            target=target[:320],
            ip=ip[:64],
            detail=detail[:1000],
            count=1,
            group_key=hashlib.sha256(f"{kind}\n{group}".encode()).hexdigest(),
        )
        .on_conflict_do_update(
            index_elements=[table.c.group_key], set_={"count": table.c["count"] + 1}
        )
        .returning(table.c["count"])
    )
    return int(db.execute(statement).scalar_one())


def delete_older_than(db: Session, retention: timedelta, now: datetime | None = None) -> int:
    """Delete events older than ``retention``; commits. Returns how many."""
    cutoff = (now or utcnow()) - retention
    result = db.execute(delete(AuditEvent).where(AuditEvent.at < cutoff))
    db.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def events_query(db: Session, *, kind: str | None, user_id: int | None) -> Select[AuditEvent]:
    """Events, newest first, optionally only one kind and/or those involving one user."""
    query = select(AuditEvent)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if user_id is not None:
        email = db.scalar(select(User.email).where(User.id == user_id))
        involved = AuditEvent.actor_id == user_id
        query = query.where(or_(involved, AuditEvent.target == email) if email else involved)
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
