"""The audit trail: one row per security-relevant action, written in the caller's transaction."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

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
