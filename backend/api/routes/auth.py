"""Sign-up, sign-in, sign-out, the current user and the cookie hand-off."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.api.deps import (
    CurrentSession,
    CurrentUser,
    EmailThrottleDep,
    HandoffsDep,
    IpThrottleDep,
    SessionDep,
    SettingsDep,
    client_ip,
)
from backend.api.schemas import (
    Credentials,
    HandoffOut,
    Message,
    Registration,
    RegistrationStatus,
    UserOut,
)
from backend.core.config import SESSION_COOKIE, Settings
from backend.core.security import hash_password, verify_password
from backend.models import Role, User
from backend.services import audit
from backend.services.audit import AuditKind
from backend.services.handoff import HANDOFF_TTL_SECONDS
from backend.services.sessions import end_session, issue_session, resolve_session

router = APIRouter(prefix="/auth", tags=["auth"])

INVALID_CREDENTIALS = "Incorrect email or password."


def set_session_cookie(
    response: Response, request: Request, settings: Settings, token: str
) -> None:
    secure = settings.cookie_secure == "always" or (
        settings.cookie_secure == "auto" and request.url.scheme == "https"
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def _has_accounts(db: SessionDep) -> bool:
    return bool(db.scalar(select(func.count()).select_from(User)))


@router.get("/registration")
def registration_status(db: SessionDep, settings: SettingsDep) -> RegistrationStatus:
    first = not _has_accounts(db)
    return RegistrationStatus(
        open=first or settings.allow_registration,
        first_account=first,
        min_password_length=settings.min_password_length,
    )


@router.post("/register", status_code=status.HTTP_201_CREATED)
def register(
    body: Registration,
    request: Request,
    response: Response,
    db: SessionDep,
    settings: SettingsDep,
) -> UserOut:
    first = not _has_accounts(db)
    if not first and not settings.allow_registration:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="Registration is closed. Ask an administrator for an account.",
        )
    if len(body.password) < settings.min_password_length:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"Password must be at least {settings.min_password_length} characters.",
        )
    email = body.email.lower()
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="An account with this email exists.")
    user = User(
        email=email,
        full_name=body.full_name.strip() or email,
        password_hash=hash_password(body.password),
        role=Role.ADMIN if first else Role.VIEWER,
    )
    db.add(user)
    try:
        db.flush()
    except IntegrityError:  # a concurrent sign-up with the same email won the race
        db.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="An account with this email exists."
        ) from None
    issued = issue_session(
        db, settings, user, ip=client_ip(request), user_agent=request.headers.get("user-agent", "")
    )
    audit.record(
        db,
        AuditKind.REGISTERED,
        actor=user,
        target=user.email,
        ip=client_ip(request),
        detail=f"Signed up as {user.role}.",
    )
    db.commit()
    set_session_cookie(response, request, settings, issued.token)
    return UserOut.model_validate(user)


def _record_failure(
    db: SessionDep, kind: str, user: User | None, email: str, request: Request, detail: str
) -> None:
    """Audit a refused sign-in now: the request fails, so nothing else commits it."""
    audit.record(
        db, kind, actor=user, actor_email=email, target=email, ip=client_ip(request), detail=detail
    )
    db.commit()


@router.post("/login")
def login(
    body: Credentials,
    request: Request,
    response: Response,
    db: SessionDep,
    settings: SettingsDep,
    email_throttle: EmailThrottleDep,
    ip_throttle: IpThrottleDep,
) -> UserOut:
    email = body.email.lower()
    email_key, ip_key = f"email:{email}", f"ip:{client_ip(request)}"
    wait = max(email_throttle.retry_after(email_key), ip_throttle.retry_after(ip_key))
    if wait:
        _record_failure(
            db,
            AuditKind.SIGN_IN_THROTTLED,
            None,
            email,
            request,
            f"Refused after too many failures; retry in {wait} s.",
        )
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many failed sign-ins. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    user = db.scalar(select(User).where(User.email == email))
    if not verify_password(body.password, user.password_hash if user else None) or user is None:
        email_throttle.record_failure(email_key)
        ip_throttle.record_failure(ip_key)
        _record_failure(db, AuditKind.SIGN_IN_FAILED, user, email, request, "Wrong password.")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=INVALID_CREDENTIALS)
    if not user.is_active:
        _record_failure(
            db, AuditKind.SIGN_IN_FAILED, user, email, request, "The account is deactivated."
        )
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="This account is deactivated.")
    email_throttle.reset(email_key)
    issued = issue_session(
        db, settings, user, ip=client_ip(request), user_agent=request.headers.get("user-agent", "")
    )
    audit.record(db, AuditKind.SIGN_IN, actor=user, target=user.email, ip=client_ip(request))
    db.commit()
    set_session_cookie(response, request, settings, issued.token)
    return UserOut.model_validate(user)


@router.post("/logout")
def logout(
    current: CurrentSession, request: Request, response: Response, db: SessionDep
) -> Message:
    user = current.user
    audit.record(db, AuditKind.SIGN_OUT, actor=user, target=user.email, ip=client_ip(request))
    end_session(db, current)  # commits the audit row with the deletion
    response.delete_cookie(SESSION_COOKIE, path="/")
    return Message(detail="Signed out.")


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/handoff")
def create_handoff(request: Request, current: CurrentSession, handoffs: HandoffsDep) -> HandoffOut:
    token = request.cookies[SESSION_COOKIE]
    return HandoffOut(code=handoffs.create(token), expires_in=HANDOFF_TTL_SECONDS)


@router.get("/handoff/{code}", include_in_schema=False)
def redeem_handoff(
    request: Request,
    code: Annotated[str, Path(max_length=64)],
    db: SessionDep,
    settings: SettingsDep,
    handoffs: HandoffsDep,
    next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/dashboard/",
) -> RedirectResponse:
    target = next_path if _is_local_dashboard_path(next_path) else "/dashboard/"
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    token = handoffs.redeem(code)
    if token is not None and resolve_session(db, settings, token) is not None:
        set_session_cookie(response, request, settings, token)
    return response


def _is_local_dashboard_path(path: str) -> bool:
    # Only our own pages: no scheme, no host, no protocol-relative "//evil".
    return (path == "/dashboard" or path.startswith("/dashboard/")) and "\\" not in path
