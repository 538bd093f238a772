"""FastAPI dependencies: ``SessionDep``, ``SettingsDep``, ``CurrentSession``, ``CurrentUser``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from backend.core.config import SESSION_COOKIE, Settings
from backend.models import Role, User, UserSession
from backend.services.handoff import CookieHandoffStore
from backend.services.sessions import resolve_session
from backend.services.throttle import SignInThrottles


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]


def get_current_session(request: Request, db: SessionDep, settings: SettingsDep) -> UserSession:
    token = request.cookies.get(SESSION_COOKIE)
    row = resolve_session(db, settings, token) if token else None
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="You are not signed in, or your session has ended.",
        )
    return row


CurrentSession = Annotated[UserSession, Depends(get_current_session)]


def get_current_user(current: CurrentSession) -> User:
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
