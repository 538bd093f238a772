"""Administering accounts (administrators only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy.exc import IntegrityError

from backend.api.bounds import DbId, SearchText
from backend.api.deps import AdminUser, DbSession, SettingsDep, client_ip
from backend.api.paging import Paging, fetch_page
from backend.api.problems import ADMIN_ONLY, problem
from backend.api.schemas import Ended, UserCreate, UserCreated, UserOut, UserPage, UserUpdate
from backend.models import User
from backend.services import audit, users
from backend.services.audit import AuditKind

router = APIRouter(prefix="/users", tags=["users"], responses=ADMIN_ONLY)

DUPLICATE_EMAIL = "An account with this email exists."
NO_SUCH_USER = "No such user."


def _get_user(db: DbSession, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NO_SUCH_USER)
    return user


@router.get("")
def list_users(
    admin: AdminUser,
    db: DbSession,
    paging: Paging,
    search: Annotated[SearchText | None, Query()] = None,
) -> UserPage:
    rows, total = fetch_page(db, users.users_query(search), paging)
    return UserPage(
        items=[UserOut.model_validate(u) for u in rows],
        total=total,
        offset=paging.offset,
        limit=paging.limit,
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: problem(DUPLICATE_EMAIL)})
def create_user(
    body: UserCreate, request: Request, admin: AdminUser, db: DbSession, settings: SettingsDep
) -> UserCreated:
    temporary = None
    password = body.password
    if password is None:
        password = temporary = users.new_temporary_password()
    elif len(password) < settings.min_password_length:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"Password must be at least {settings.min_password_length} characters.",
        )
    if users.find_by_email(db, body.email) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=DUPLICATE_EMAIL)
    user = users.create_user(
        db,
        users.Actor(admin, client_ip(request)),
        email=body.email,
        full_name=body.full_name,
        role=body.role,
        password=password,
    )
    try:
        db.commit()
    except IntegrityError:  # created by someone else since the check above
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=DUPLICATE_EMAIL) from None
    return UserCreated(user=UserOut.model_validate(user), temporary_password=temporary)


@router.patch(
    "/{user_id}",
    responses={404: problem(NO_SUCH_USER), 409: problem(users.LAST_ADMIN)},
)
def update_user(
    user_id: DbId, body: UserUpdate, request: Request, admin: AdminUser, db: DbSession
) -> UserOut:
    if body.role is None and body.is_active is None and body.full_name is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="Nothing to change: give role, is_active or full_name.",
        )
    user = _get_user(db, user_id)
    try:
        users.update_user(
            db,
            users.Actor(admin, client_ip(request)),
            user,
            role=body.role,
            is_active=body.is_active,
            full_name=body.full_name,
        )
    except users.LastAdminError as exc:
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except users.NoLongerAdminError as exc:  # demoted or deactivated meanwhile
        db.rollback()
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    db.commit()
    return UserOut.model_validate(user)


@router.delete("/{user_id}/sessions", responses={404: problem(NO_SUCH_USER)})
def revoke_user_sessions(user_id: DbId, request: Request, admin: AdminUser, db: DbSession) -> Ended:
    user = _get_user(db, user_id)
    ended = users.end_sign_in_sessions(db, user.id)
    audit.record_and_commit(
        db,
        AuditKind.SESSION_REVOKED,
        actor=admin,
        target=user.email,
        ip=client_ip(request),
        detail=f"An administrator ended all {ended} session(s).",
    )
    return Ended(ended=ended)
