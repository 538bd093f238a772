"""Sign-up, sign-in, sign-out, the current user and the cookie hand-off."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from backend.api.deps import (
    CurrentSignInSession,
    CurrentUser,
    DbSession,
    HandoffsDep,
    SettingsDep,
    ThrottlesDep,
    client_ip,
    sign_in_client,
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
from backend.core.hosts import HostAllowlist, foreign_navigation
from backend.services import accounts, audit, users
from backend.services.audit import AuditKind
from backend.services.handoff import HANDOFF_TTL_SECONDS
from backend.services.sessions import end_sign_in_session, resolve_sign_in_session

router = APIRouter(prefix="/auth", tags=["auth"])


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


@router.get("/registration")
def registration_status(db: DbSession, settings: SettingsDep) -> RegistrationStatus:
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
    db: DbSession,
    settings: SettingsDep,
) -> UserOut:
    try:
        signed_in = accounts.sign_up(
            db,
            settings,
            email=body.email,
            full_name=body.full_name,
            password=body.password,
            client=sign_in_client(request),
        )
    except users.RegistrationClosedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    except accounts.PasswordTooShortError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    except users.EmailTakenError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    set_session_cookie(response, request, settings, signed_in.token)
    return UserOut.model_validate(signed_in.user)


@router.post(
    "/login",
    responses={
        401: problem(accounts.INVALID_CREDENTIALS),
        403: problem(accounts.DEACTIVATED),
        429: problem("Too many failed sign-ins.", retry_after=True),
    },
)
def login(
    body: Credentials,
    request: Request,
    response: Response,
    db: DbSession,
    settings: SettingsDep,
    throttles: ThrottlesDep,
) -> UserOut:
    try:
        signed_in = accounts.sign_in(
            db,
            settings,
            throttles,
            email=body.email,
            password=body.password,
            client=sign_in_client(request),
        )
    except accounts.SignInThrottledError as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    except accounts.WrongCredentialsError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=str(exc)) from None
    except accounts.AccountDeactivatedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    set_session_cookie(response, request, settings, signed_in.token)
    return UserOut.model_validate(signed_in.user)


@router.post("/logout", responses=SIGNED_IN)
def logout(
    current: CurrentSignInSession, request: Request, response: Response, db: DbSession
) -> Message:
    user = current.user
    audit.record(db, AuditKind.SIGN_OUT, actor=user, target=user.email, ip=client_ip(request))
    end_sign_in_session(db, current)  # commits the audit row with the deletion
    response.delete_cookie(SESSION_COOKIE, path="/")
    return Message(detail="Signed out.")


@router.get("/me", responses=SIGNED_IN)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/handoff", responses=SIGNED_IN)
def create_handoff(
    request: Request, current: CurrentSignInSession, db: DbSession, handoffs: HandoffsDep
) -> HandoffOut:
    token = request.cookies[SESSION_COOKIE]
    return HandoffOut(code=handoffs.create(db, token), expires_in=HANDOFF_TTL_SECONDS)


@router.get("/handoff/{code}", include_in_schema=False)
def redeem_handoff(
    request: Request,
    code: Annotated[str, Path(max_length=64)],
    db: DbSession,
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
    row = resolve_sign_in_session(db, settings, token) if token is not None else None
    if row is None or token is None:
        return response
    allowlist: HostAllowlist = request.app.state.host_allowlist
    refusal = foreign_navigation(request.headers, request.url.scheme, allowlist)
    if refusal is not None:
        # Only for a valid code, so each row costs the sender a signed-in request.
        audit.record_and_commit(
            db,
            AuditKind.HANDOFF_REFUSED,
            actor=row.user,
            target=row.user.email,
            ip=client_ip(request),
            detail=f"Cookie hand-off refused: not a navigation from our own pages ({refusal}).",
        )
        return response
    set_session_cookie(response, request, settings, token)
    return response


def _is_local_dashboard_path(path: str) -> bool:
    # Only our own pages: no scheme, no host, no protocol-relative "//evil".
    return (path == "/dashboard" or path.startswith("/dashboard/")) and "\\" not in path
