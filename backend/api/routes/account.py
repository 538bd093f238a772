"""The signed-in user's own account: name and password."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from backend.api.deps import CurrentSignInSession, DbSession, SettingsDep, ThrottlesDep, client_ip
from backend.api.problems import SIGNED_IN, problem
from backend.api.schemas import PasswordChange, PasswordChanged, ProfileUpdate, UserOut
from backend.core.security import hash_password, verify_password
from backend.services import audit
from backend.services.audit import AuditKind
from backend.services.throttle import password_change_key
from backend.services.users import end_sign_in_sessions

router = APIRouter(prefix="/auth", tags=["account"], responses=SIGNED_IN)

WRONG_CURRENT_PASSWORD = "Current password is incorrect."  # noqa: S105 (a message)


@router.patch("/me")
def update_me(
    body: ProfileUpdate, request: Request, current: CurrentSignInSession, db: DbSession
) -> UserOut:
    user = current.user
    if body.full_name != user.full_name:
        detail = f"Name changed from {user.full_name!r} to {body.full_name!r}."
        user.full_name = body.full_name
        audit.record_and_commit(
            db,
            AuditKind.PROFILE_UPDATED,
            actor=user,
            target=user.email,
            ip=client_ip(request),
            detail=detail,
        )
    return UserOut.model_validate(user)


@router.post(
    "/password",
    responses={
        400: problem(WRONG_CURRENT_PASSWORD),
        429: problem("Too many wrong passwords.", retry_after=True),
    },
)
def change_password(
    body: PasswordChange,
    request: Request,
    current: CurrentSignInSession,
    db: DbSession,
    settings: SettingsDep,
    throttles: ThrottlesDep,
) -> PasswordChanged:
    user = current.user
    if len(body.new_password) < settings.min_password_length:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"New password must be at least {settings.min_password_length} characters.",
        )
    # A stolen session must not become a way to guess the password: the same limit as
    # sign-in, counted before the hash, but on a key of its own, so guessing here cannot
    # lock the owner out of signing in.
    key = password_change_key(user.id)
    verdict = throttles.password_change.attempt(db, key)
    db.commit()
    if not verdict.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many wrong passwords. Try again in {verdict.retry_after} seconds.",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    if not verify_password(body.current_password, user.password_hash):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=WRONG_CURRENT_PASSWORD)
    if body.new_password == body.current_password:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="New password must differ from the current one.",
        )
    user.password_hash = hash_password(body.new_password)
    throttles.password_change.forget(db, key)
    ended = end_sign_in_sessions(db, user.id, keep=current.id)
    audit.record_and_commit(
        db,
        AuditKind.PASSWORD_CHANGED,
        actor=user,
        target=user.email,
        ip=client_ip(request),
        detail=f"Password changed; {ended} other session(s) ended.",
    )
    return PasswordChanged(
        detail="Password changed. Other sessions were signed out.", ended_sessions=ended
    )
