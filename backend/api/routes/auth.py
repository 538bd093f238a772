"""Sign-up, sign-in, sign-out, the current user and the cookie hand-off."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.api.deps import (
    CurrentSession,
    CurrentUser,
    HandoffsDep,
    SessionDep,
    SettingsDep,
    ThrottlesDep,
    client_ip,
)
from backend.api.problems import SIGNED_IN, problem
from backend.api.schemas import (
    Credentials,
    HandoffOut,
    Message,
    Registration,
    RegistrationStatus,
    UserOut,
)
from backend.core.config import SESSION_COOKIE, Settings
from backend.core.guards import from_desktop_app
from backend.core.hosts import HostAllowlist, foreign_navigation
from backend.core.security import hash_password, verify_password
from backend.models import User
from backend.services import audit, users
from backend.services.audit import AuditKind
from backend.services.handoff import HANDOFF_TTL_SECONDS
from backend.services.sessions import IssuedSession, end_session, issue_session, resolve_session
from backend.services.throttle import Verdict

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


def _new_session(db: SessionDep, settings: Settings, user: User, request: Request) -> IssuedSession:
    return issue_session(
        db,
        settings,
        user,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        via_desktop_app=from_desktop_app(request.scope),
    )


@router.get("/registration")
def registration_status(db: SessionDep, settings: SettingsDep) -> RegistrationStatus:
    first = not users.has_accounts(db)
    return RegistrationStatus(
        open=first or settings.allow_registration,
        first_account=first,
        min_password_length=settings.min_password_length,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses={
        403: problem(users.REGISTRATION_CLOSED),
        409: problem(users.DUPLICATE_EMAIL),
    },
)
def register(
    body: Registration,
    request: Request,
    response: Response,
    db: SessionDep,
    settings: SettingsDep,
) -> UserOut:
    # Cheap refusals first, so a closed server pays for no hash. They are only a fast
    # path: register_account decides "first account" and "closed" again under its lock.
    if not settings.allow_registration and users.has_accounts(db):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=users.REGISTRATION_CLOSED)
    if len(body.password) < settings.min_password_length:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"Password must be at least {settings.min_password_length} characters.",
        )
    email = body.email.lower()
    if users.find_by_email(db, email) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=users.DUPLICATE_EMAIL)
    password_hash = hash_password(body.password)  # slow: before the lock, not under it
    try:
        user = users.register_account(
            db,
            email=email,
            full_name=body.full_name.strip() or email,
            password_hash=password_hash,
            open_registration=settings.allow_registration,
        )
    except users.RegistrationClosedError as exc:  # another sign-up became the first
        db.rollback()
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    except (users.EmailTakenError, IntegrityError):  # same email, signed up meanwhile
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=users.DUPLICATE_EMAIL) from None
    issued = _new_session(db, settings, user, request)
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


def _record_throttled(db: SessionDep, refused: Verdict, email: str, request: Request) -> None:
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
        ip=client_ip(request),
        detail=(
            f"Sign-ins for {who} refused until {until}: more than {refused.limit} attempts "
            "in the window. The count is every refusal in that window."
        ),
    )
    db.commit()


@router.post(
    "/login",
    responses={
        401: problem(INVALID_CREDENTIALS),
        403: problem("This account is deactivated."),
        429: problem("Too many failed sign-ins.", retry_after=True),
    },
)
def login(
    body: Credentials,
    request: Request,
    response: Response,
    db: SessionDep,
    settings: SettingsDep,
    throttles: ThrottlesDep,
) -> UserOut:
    email = body.email.lower()
    ip = client_ip(request)
    # Counted and committed before the hash: parallel guesses each get their own count,
    # so no more than the limit of them ever reach verify_password.
    verdict = throttles.sign_in_attempt(db, ip=ip, email=email)
    if not verdict.allowed:
        _record_throttled(db, verdict, email, request)  # commits the count with it
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many failed sign-ins. Try again in {verdict.retry_after} seconds.",
            headers={"Retry-After": str(verdict.retry_after)},
        )
    db.commit()
    user = db.scalar(select(User).where(User.email == email))
    if not verify_password(body.password, user.password_hash if user else None) or user is None:
        _record_failure(db, AuditKind.SIGN_IN_FAILED, user, email, request, "Wrong password.")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=INVALID_CREDENTIALS)
    if not user.is_active:
        _record_failure(
            db, AuditKind.SIGN_IN_FAILED, user, email, request, "The account is deactivated."
        )
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="This account is deactivated.")
    issued = _new_session(db, settings, user, request)
    throttles.signed_in(db, ip=ip, email=email)
    audit.record(db, AuditKind.SIGN_IN, actor=user, target=user.email, ip=ip)
    db.commit()
    set_session_cookie(response, request, settings, issued.token)
    return UserOut.model_validate(user)


@router.post("/logout", responses=SIGNED_IN)
def logout(
    current: CurrentSession, request: Request, response: Response, db: SessionDep
) -> Message:
    user = current.user
    audit.record(db, AuditKind.SIGN_OUT, actor=user, target=user.email, ip=client_ip(request))
    end_session(db, current)  # commits the audit row with the deletion
    response.delete_cookie(SESSION_COOKIE, path="/")
    return Message(detail="Signed out.")


@router.get("/me", responses=SIGNED_IN)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/handoff", responses=SIGNED_IN)
def create_handoff(
    request: Request, current: CurrentSession, db: SessionDep, handoffs: HandoffsDep
) -> HandoffOut:
    token = request.cookies[SESSION_COOKIE]
    return HandoffOut(code=handoffs.create(db, token), expires_in=HANDOFF_TTL_SECONDS)


@router.get("/handoff/{code}", include_in_schema=False)
def redeem_handoff(
    request: Request,
    code: Annotated[str, Path(max_length=64)],
    db: SessionDep,
    settings: SettingsDep,
    handoffs: HandoffsDep,
    next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/dashboard/",
) -> RedirectResponse:
    """Sets the session cookie, but only for a navigation that came from our own pages.

    A code minted from the attacker's own session and opened by the victim's browser
    from another site would otherwise sign the victim into the attacker's account
    (login CSRF). A refused redeem still answers with the harmless redirect, sets no
    cookie, and burns the code: single use holds whatever the outcome, and a code that
    has been seen by a foreign page is not one to trust later.
    """
    target = next_path if _is_local_dashboard_path(next_path) else "/dashboard/"
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    token = handoffs.redeem(db, code)  # one atomic DELETE … RETURNING: once, any instance
    session = resolve_session(db, settings, token) if token is not None else None
    if session is None or token is None:
        return response
    allowlist: HostAllowlist = request.app.state.host_allowlist
    refusal = foreign_navigation(request.headers, request.url.scheme, allowlist)
    if refusal is not None:
        # Only for a valid code, so each row costs the sender a signed-in request.
        audit.record(
            db,
            AuditKind.HANDOFF_REFUSED,
            actor=session.user,
            target=session.user.email,
            ip=client_ip(request),
            detail=f"Cookie hand-off refused: not a navigation from our own pages ({refusal}).",
        )
        db.commit()
        return response
    set_session_cookie(response, request, settings, token)
    return response


def _is_local_dashboard_path(path: str) -> bool:
    # Only our own pages: no scheme, no host, no protocol-relative "//evil".
    return (path == "/dashboard" or path.startswith("/dashboard/")) and "\\" not in path
