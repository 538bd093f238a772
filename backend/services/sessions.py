"""Sign-in sessions (``SignInSession`` rows, server-side): issue, resolve, end."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from backend.core.config import Settings
from backend.core.security import hash_token, new_session_token
from backend.models import SignInSession, User, utcnow

# Writing last_seen on every request would turn every read into a write.
LAST_SEEN_GRANULARITY = timedelta(seconds=30)


@dataclass(frozen=True)
class SignInClient:
    """Where a sign-in comes from, as its session row records it."""

    ip: str
    user_agent: str
    via_desktop_app: bool = False
    """Only from ``guards.from_desktop_app``, never from the user agent."""


@dataclass(frozen=True)
class IssuedSignInSession:
    token: str
    row: SignInSession


def issue_sign_in_session(
    db: Session,
    settings: Settings,
    user: User,
    client: SignInClient,
) -> IssuedSignInSession:
    """Create a fresh session with a fresh token (never reuse one across sign-ins)."""
    token = new_session_token()
    now = utcnow()
    row = SignInSession(
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + settings.session_lifetime,
        ip=client.ip[:64],
        user_agent=client.user_agent[:400],
        via_desktop_app=client.via_desktop_app,
    )
    db.add(row)
    db.flush()
    return IssuedSignInSession(token=token, row=row)


def resolve_sign_in_session(db: Session, settings: Settings, token: str) -> SignInSession | None:
    """The live session for a token, or None. Expired sessions are deleted on sight."""
    # The user comes in the same query: every caller reads it (is_active, the role).
    row = db.scalar(
        select(SignInSession)
        .options(joinedload(SignInSession.user))
        .where(SignInSession.token_hash == hash_token(token))
    )
    if row is None:
        return None
    now = utcnow()
    if _is_expired(row, settings, now) or not row.user.is_active:
        _delete(db, row)
        db.commit()
        return None
    if now - row.last_seen_at >= LAST_SEEN_GRANULARITY:
        # A statement, not a change to the object: if the session was ended meanwhile
        # (another request, the clean-up job), this updates nothing instead of raising.
        db.execute(update(SignInSession).where(SignInSession.id == row.id).values(last_seen_at=now))
        set_committed_value(row, "last_seen_at", now)
        db.commit()
    return row


def _delete(db: Session, row: SignInSession) -> None:
    """Delete ``row``'s session, if it is still there.

    Another request (a deactivation, a sign-out everywhere) or the clean-up job may
    delete the same row at the same moment; on PostgreSQL both transactions can have
    read it. ``db.delete(row)`` would then warn that its DELETE matched no row; the
    statement simply deletes nothing.
    """
    db.execute(delete(SignInSession).where(SignInSession.id == row.id))
    db.expunge(row)


def _is_expired(row: SignInSession, settings: Settings, now: datetime) -> bool:
    return row.expires_at <= now or row.last_seen_at + settings.session_idle_timeout <= now


def end_sign_in_session(db: Session, row: SignInSession) -> None:
    """Sign-out: delete the row and commit (with whatever else ``db`` holds)."""
    _delete(db, row)
    db.commit()


def delete_expired_sessions(db: Session, settings: Settings) -> int:
    now = utcnow()
    result = db.execute(
        delete(SignInSession).where(
            (SignInSession.expires_at <= now)
            | (SignInSession.last_seen_at <= now - settings.session_idle_timeout)
        )
    )
    db.commit()
    return int(getattr(result, "rowcount", 0) or 0)


LIVE_CHECK_CHUNK = 500
"""Ids per ``IN`` list: well inside every engine's limit on bound parameters."""


def live_session_ids(db: Session, settings: Settings, session_ids: Iterable[str]) -> set[str]:
    """Which of these sign-in sessions are still live, in one query per chunk, marking
    them seen as a request would: a dashboard left open keeps its session alive, as its
    polling did. A session ended, expired or of a deactivated user is simply absent."""
    now = utcnow()
    wanted = list(session_ids)
    live: set[str] = set()
    for start in range(0, len(wanted), LIVE_CHECK_CHUNK):
        chunk = wanted[start : start + LIVE_CHECK_CHUNK]
        live.update(
            db.scalars(
                select(SignInSession.id)
                .join(User, User.id == SignInSession.user_id)
                .where(
                    SignInSession.id.in_(chunk),
                    SignInSession.expires_at > now,
                    SignInSession.last_seen_at > now - settings.session_idle_timeout,
                    User.is_active.is_(True),
                )
            )
        )
    stale = list(live)
    for start in range(0, len(stale), LIVE_CHECK_CHUNK):
        db.execute(
            update(SignInSession)
            .where(
                SignInSession.id.in_(stale[start : start + LIVE_CHECK_CHUNK]),
                SignInSession.last_seen_at <= now - LAST_SEEN_GRANULARITY,
            )
            .values(last_seen_at=now)
        )
    db.commit()
    return live
