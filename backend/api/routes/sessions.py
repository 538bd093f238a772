"""The signed-in user's own sign-in sessions: list them, end one or all the others."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlalchemy import select

from backend.api.bounds import DbInt, KeyText
from backend.api.deps import CurrentSignInSession, DbSession, client_ip
from backend.api.paging import MAX_LIMIT, total_rows
from backend.api.problems import SIGNED_IN, problem
from backend.api.schemas import Ended, SessionOut
from backend.models import SignInSession
from backend.services import audit
from backend.services.audit import AuditKind
from backend.services.devices import describe_device
from backend.services.users import end_sign_in_sessions

router = APIRouter(prefix="/auth/sessions", tags=["sessions"], responses=SIGNED_IN)

SESSIONS_DEFAULT_LIMIT = 100
TOTAL_COUNT_HEADER = {
    "description": "How many sessions there are in all, across pages.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}


def _device(row: SignInSession) -> str:
    return describe_device(row.user_agent, via_desktop_app=row.via_desktop_app)


@router.get("", responses={200: {"headers": {"X-Total-Count": TOTAL_COUNT_HEADER}}})
def list_sessions(
    current: CurrentSignInSession,
    db: DbSession,
    response: Response,
    offset: Annotated[DbInt, Query()] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = SESSIONS_DEFAULT_LIMIT,
) -> list[SessionOut]:
    """A bare list (most recently used first); the total is in ``X-Total-Count``."""
    query = (
        select(SignInSession)
        .where(SignInSession.user_id == current.user_id)
        .order_by(SignInSession.last_seen_at.desc(), SignInSession.id)
    )
    response.headers["X-Total-Count"] = str(total_rows(db, query))
    rows = db.scalars(query.offset(offset).limit(limit))
    return [
        SessionOut(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            device=_device(row),
            current=row.id == current.id,
        )
        for row in rows
    ]


@router.delete("")
def revoke_other_sessions(
    scope: Annotated[
        Literal["others"], Query(description='Only "others": every session but this one.')
    ],
    request: Request,
    current: CurrentSignInSession,
    db: DbSession,
) -> Ended:
    user = current.user
    ended = end_sign_in_sessions(db, user.id, keep=current.id)
    audit.record_and_commit(
        db,
        AuditKind.SESSION_REVOKED,
        actor=user,
        target=user.email,
        ip=client_ip(request),
        detail=f"Signed out everywhere else: {ended} session(s) ended.",
    )
    return Ended(ended=ended)


@router.delete(
    "/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: problem("No such session.")},
)
def revoke_session(
    session_id: KeyText, request: Request, current: CurrentSignInSession, db: DbSession
) -> Response:
    row = db.get(SignInSession, session_id)
    if row is None or row.user_id != current.user_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such session.")
    user = current.user
    detail = (
        "Ended this session."
        if row.id == current.id
        else f"Ended the session on {_device(row)} ({row.ip or 'no IP'})."
    )
    db.delete(row)
    audit.record_and_commit(
        db,
        AuditKind.SESSION_REVOKED,
        actor=user,
        target=user.email,
        ip=client_ip(request),
        detail=detail,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
