"""FastAPI dependencies: ``DbSession``, ``SettingsDep``, ``CurrentSignInSession``, ``CurrentUser``.

``DbSession`` is a database session (parameters named ``db``); ``CurrentSignInSession``
is the request's signed-in session (a ``SignInSession`` row, from its cookie)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from backend.core.config import SESSION_COOKIE, Settings
from backend.core.guards import from_desktop_app
from backend.models import Role, SignInSession, User
from backend.services.handoff import CookieHandoffStore
from backend.services.sessions import SignInClient, resolve_sign_in_session
from backend.services.throttle import SignInThrottles


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as db:
        yield db


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbSession = Annotated[Session, Depends(get_db)]


def get_current_sign_in_session(
    request: Request, db: DbSession, settings: SettingsDep
) -> SignInSession:
    token = request.cookies.get(SESSION_COOKIE)
    row = resolve_sign_in_session(db, settings, token) if token else None
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="You are not signed in, or your session has ended.",
        )
    return row


CurrentSignInSession = Annotated[SignInSession, Depends(get_current_sign_in_session)]


def get_current_user(current: CurrentSignInSession) -> User:
    return current.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="This needs an administrator.")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


def get_throttles(request: Request) -> SignInThrottles:
    throttles: SignInThrottles = request.app.state.throttles
    return throttles


def get_handoffs(request: Request) -> CookieHandoffStore:
    store: CookieHandoffStore = request.app.state.handoffs
    return store


ThrottlesDep = Annotated[SignInThrottles, Depends(get_throttles)]
HandoffsDep = Annotated[CookieHandoffStore, Depends(get_handoffs)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def sign_in_client(request: Request) -> SignInClient:
    """Where a sign-in comes from: the address, the user agent, and whether it came
    through the desktop app's own guarded transport."""
    return SignInClient(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        via_desktop_app=from_desktop_app(request.scope),
    )
