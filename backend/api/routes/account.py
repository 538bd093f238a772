"""The signed-in user's own account: name and password."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from backend.api.deps import (
    CurrentSession,
    EmailThrottleDep,
    SessionDep,
    SettingsDep,
    client_ip,
)
from backend.api.schemas import PasswordChange, PasswordChanged, ProfileUpdate, UserOut
from backend.core.security import hash_password, verify_password
from backend.services import audit
from backend.services.audit import AuditKind
from backend.services.users import end_sessions

router = APIRouter(prefix="/auth", tags=["account"])

WRONG_CURRENT_PASSWORD = "Current password is incorrect."  # noqa: S105 (a message)


@router.patch("/me")
def update_me(
    body: ProfileUpdate, request: Request, current: CurrentSession, db: SessionDep
) -> UserOut:
    user = current.user
    if body.full_name != user.full_name:
        audit.record(
            db,
            AuditKind.PROFILE_UPDATED,
            actor=user,
            target=user.email,
            ip=client_ip(request),
            detail=f"Name changed from {user.full_name!r} to {body.full_name!r}.",
        )
        user.full_name = body.full_name
        db.commit()
    return UserOut.model_validate(user)


@router.post("/password")
def change_password(
    body: PasswordChange,
    request: Request,
    current: CurrentSession,
    db: SessionDep,
    settings: SettingsDep,
    throttle: EmailThrottleDep,
) -> PasswordChanged:
    user = current.user
    # A stolen session must not become a way to guess the password: same limit as sign-in.
    key = f"email:{user.email}"
    wait = throttle.retry_after(key)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many wrong passwords. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    if not verify_password(body.current_password, user.password_hash):
        throttle.record_failure(key)
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=WRONG_CURRENT_PASSWORD)
    if len(body.new_password) < settings.min_password_length:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"New password must be at least {settings.min_password_length} characters.",
        )
    if body.new_password == body.current_password:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="New password must differ from the current one.",
        )
    user.password_hash = hash_password(body.new_password)
    ended = end_sessions(db, user.id, keep=current.id)
    audit.record(
        db,
        AuditKind.PASSWORD_CHANGED,
        actor=user,
        target=user.email,
        ip=client_ip(request),
        detail=f"Password changed; {ended} other session(s) ended.",
    )
    db.commit()
    return PasswordChanged(
        detail="Password changed. Other sessions were signed out.", ended_sessions=ended
    )
