"""Signing up and signing in: the rules behind ``/auth/register`` and ``/auth/login``.

Each function is a whole unit of work: it commits the new sign-in session with its
audit row, or refuses with one of the errors below (or ``users.RegistrationClosedError``
/ ``users.EmailTakenError``), whose message is the user's words; the route maps each
to its status code. A refused sign-in is audited and committed before the error is
raised, because the failing request commits nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.core.config import Settings
from backend.core.security import hash_password, verify_password
from backend.models import User
from backend.services import audit, users
from backend.services.audit import AuditKind
from backend.services.sessions import SignInClient, issue_sign_in_session
from backend.services.throttle import SignInThrottles, Verdict

INVALID_CREDENTIALS = "Incorrect email or password."
DEACTIVATED = "This account is deactivated."


@dataclass(frozen=True)
class SignedIn:
    """A new sign-in session: its user, and the token for the cookie."""

    user: User
    token: str


class PasswordTooShortError(Exception):
    """The new account's password is shorter than the settings allow."""


class SignInThrottledError(Exception):
    """Too many sign-in attempts for this email or address in the current window."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"Too many failed sign-ins. Try again in {verdict.retry_after} seconds.")
        self.retry_after = verdict.retry_after


class WrongCredentialsError(Exception):
    """No such account, or the wrong password: one answer for both."""


class AccountDeactivatedError(Exception):
    """The password is right, but the account is deactivated."""


def sign_up(
    db: Session,
    settings: Settings,
    *,
    email: str,
    full_name: str,
    password: str,
    client: SignInClient,
) -> SignedIn:
    """A new account, signed in: the first one becomes the admin, later ones viewers
    (while registration is open)."""
    # Cheap refusals first, so a closed server pays for no hash. They are only a fast
    # path: register_account decides "first account" and "closed" again under its lock.
    if not settings.allow_registration and users.has_accounts(db):
        raise users.RegistrationClosedError(users.REGISTRATION_CLOSED)
    if len(password) < settings.min_password_length:
        raise PasswordTooShortError(
            f"Password must be at least {settings.min_password_length} characters."
        )
    email = email.lower()
    if users.find_by_email(db, email) is not None:
        raise users.EmailTakenError(users.DUPLICATE_EMAIL)
    password_hash = hash_password(password)  # slow: before the lock, not under it
    try:
        user = users.register_account(
            db,
            email=email,
            full_name=full_name.strip() or email,
            password_hash=password_hash,
            open_registration=settings.allow_registration,
        )
    except (users.RegistrationClosedError, users.EmailTakenError):
        db.rollback()  # another sign-up became the first, or took the email, meanwhile
        raise
    except IntegrityError:  # same email, signed up meanwhile (the unique index)
        db.rollback()
        raise users.EmailTakenError(users.DUPLICATE_EMAIL) from None
    issued = issue_sign_in_session(db, settings, user, client)
    audit.record_and_commit(
        db,
        AuditKind.REGISTERED,
        actor=user,
        target=user.email,
        ip=client.ip,
        detail=f"Signed up as {user.role}.",
    )
    return SignedIn(user=user, token=issued.token)


def sign_in(
    db: Session,
    settings: Settings,
    throttles: SignInThrottles,
    *,
    email: str,
    password: str,
    client: SignInClient,
) -> SignedIn:
    """A new sign-in session for the right password of an active account."""
    email = email.lower()
    # Counted and committed before the hash: parallel guesses each get their own count,
    # so no more than the limit of them ever reach verify_password.
    verdict = throttles.sign_in_attempt(db, ip=client.ip, email=email)
    if not verdict.allowed:
        _record_throttled(db, verdict, email, client.ip)  # commits the count with it
        raise SignInThrottledError(verdict)
    db.commit()
    user = users.find_by_email(db, email)
    if not verify_password(password, user.password_hash if user else None) or user is None:
        _record_failure(db, user, email, client.ip, "Wrong password.")
        raise WrongCredentialsError(INVALID_CREDENTIALS)
    if not user.is_active:
        _record_failure(db, user, email, client.ip, "The account is deactivated.")
        raise AccountDeactivatedError(DEACTIVATED)
    issued = issue_sign_in_session(db, settings, user, client)
    throttles.signed_in(db, ip=client.ip, email=email)
    audit.record_and_commit(db, AuditKind.SIGN_IN, actor=user, target=user.email, ip=client.ip)
    return SignedIn(user=user, token=issued.token)


def _record_failure(db: Session, user: User | None, email: str, ip: str, detail: str) -> None:
    audit.record_and_commit(
        db,
        AuditKind.SIGN_IN_FAILED,
        actor=user,
        actor_email=email,
        target=email,
        ip=ip,
        detail=detail,
    )


def _record_throttled(db: Session, refused: Verdict, email: str, ip: str) -> None:
    """One audit row per throttle key and window, counting the refusals (which an
    attacker can send at will), instead of a row per refused request."""
    until = refused.window_ends_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    per_email = refused.key.startswith("email:")
    who = "this email" if per_email else "this address"
    audit.record_aggregated(
        db,
        AuditKind.SIGN_IN_THROTTLED,
        group=f"{refused.key} until {refused.window_ends_at.isoformat()}",
        actor_email=email if per_email else "",
        target=email if per_email else "",
        ip=ip,
        detail=(
            f"Sign-ins for {who} refused until {until}: more than {refused.limit} attempts "
            "in the window. The count is every refusal in that window."
        ),
    )
    db.commit()
