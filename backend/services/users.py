"""Managing accounts: create, change role/state/name, end sign-in sessions; the last-admin rule."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Select, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from backend.core.security import hash_password
from backend.models import Role, SignInSession, User
from backend.services import audit, rule_locks
from backend.services.audit import AuditKind

TEMPORARY_PASSWORD_BYTES = 12  # 16 URL-safe characters
LAST_ADMIN = (
    "Aegis needs at least one active administrator, so this admin can't be demoted or deactivated."
)


REGISTRATION_CLOSED = "Registration is closed. Ask an administrator for an account."
DUPLICATE_EMAIL = "An account with this email exists."
NO_LONGER_ADMIN = "This needs an administrator."


class LastAdminError(Exception):
    """The change would leave no active administrator."""


class NoLongerAdminError(Exception):
    """The acting admin was demoted or deactivated while their request was on its way."""


class RegistrationClosedError(Exception):
    """Accounts exist and self sign-up is off."""


class EmailTakenError(Exception):
    """Another account already has this email."""


@dataclass(frozen=True)
class Actor:
    """Who is making a change, and from where (for the audit trail)."""

    user: User
    ip: str


def new_temporary_password() -> str:
    return secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def users_query(search: str | None) -> Select[User]:
    """Users oldest first; ``search`` matches email or full name, ignoring case."""
    query = select(User)
    words = (search or "").strip()
    if words:
        pattern = f"%{_escape_like(words)}%"
        query = query.where(
            or_(
                User.email.ilike(pattern, escape="\\"),
                User.full_name.ilike(pattern, escape="\\"),
            )
        )
    return query.order_by(User.created_at.asc(), User.id.asc())


def find_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == email.lower()))


def end_sign_in_sessions(db: Session, user_id: int, *, keep: str | None = None) -> int:
    """Delete the user's sessions (all but ``keep``), in the caller's transaction."""
    query = delete(SignInSession).where(SignInSession.user_id == user_id)
    if keep is not None:
        query = query.where(SignInSession.id != keep)
    result = db.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


def has_accounts(db: Session) -> bool:
    return bool(db.scalar(select(exists().select_from(User))))


def register_account(
    db: Session, *, email: str, full_name: str, password_hash: str, open_registration: bool
) -> User:
    """Sign-up: the first account becomes the admin, later ones viewers (if allowed).

    "First" is decided under the ``admins`` rule lock, so of any number of sign-ups
    arriving together on an empty server exactly one sees no accounts and becomes the
    admin; the others see it and get viewer or ``RegistrationClosedError``.
    """
    rule_locks.take(db, rule_locks.ADMINS)
    first = not has_accounts(db)
    if not first and not open_registration:
        raise RegistrationClosedError(REGISTRATION_CLOSED)
    if find_by_email(db, email) is not None:
        raise EmailTakenError(DUPLICATE_EMAIL)
    user = User(
        email=email.lower(),
        full_name=full_name,
        password_hash=password_hash,
        role=Role.ADMIN.value if first else Role.VIEWER.value,
        is_active=True,
    )
    db.add(user)
    db.flush()
    return user


def _is_active_admin(user: User) -> bool:
    return user.role == Role.ADMIN.value and user.is_active


def _other_active_admins(db: Session, user: User) -> int:
    count = db.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user.id)
    )
    return int(count or 0)


def create_user(
    db: Session, by: Actor, *, email: str, full_name: str, role: str, password: str
) -> User:
    user = User(
        email=email.lower(),
        full_name=full_name,
        password_hash=hash_password(password),
        role=role,
        is_active=True,
    )
    db.add(user)
    db.flush()
    audit.record(
        db,
        AuditKind.USER_CREATED,
        actor=by.user,
        target=user.email,
        ip=by.ip,
        detail=f"Created {user.full_name} as {role}.",
    )
    return user


def update_user(
    db: Session,
    by: Actor,
    user: User,
    *,
    role: str | None = None,
    is_active: bool | None = None,
    full_name: str | None = None,
) -> None:
    """Apply the changes with their audit rows.

    Raises ``LastAdminError`` before changing anything if no active admin would be left,
    and ``NoLongerAdminError`` if the actor lost their admin rights meanwhile. Both are
    decided under the ``admins`` rule lock on freshly read rows, so two admins demoting
    or deactivating each other at once cannot both succeed: the second one to get the
    lock sees the first one's change.
    """
    if (role is not None and role != Role.ADMIN.value) or is_active is False:
        rule_locks.take(db, rule_locks.ADMINS)
        # Both were loaded before the lock; their role and state may have changed since.
        db.refresh(user)
        db.refresh(by.user)
        demoting = role is not None and role != user.role
        deactivating = is_active is False and user.is_active
        if (
            (demoting or deactivating)
            and _is_active_admin(user)
            and _other_active_admins(db, user) == 0
        ):
            raise LastAdminError(LAST_ADMIN)
        if not _is_active_admin(by.user):
            raise NoLongerAdminError(NO_LONGER_ADMIN)

    def note(kind: AuditKind, detail: str) -> None:
        audit.record(db, kind, actor=by.user, target=user.email, ip=by.ip, detail=detail)

    if full_name is not None and full_name != user.full_name:
        note(AuditKind.PROFILE_UPDATED, f"Name changed from {user.full_name!r} to {full_name!r}.")
        user.full_name = full_name
    if role is not None and role != user.role:
        note(AuditKind.ROLE_CHANGED, f"Role changed from {user.role} to {role}.")
        user.role = role
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        if is_active:
            note(AuditKind.USER_REACTIVATED, "Account reactivated.")
        else:
            ended = end_sign_in_sessions(db, user.id)
            note(AuditKind.USER_DEACTIVATED, f"Account deactivated; {ended} session(s) ended.")
