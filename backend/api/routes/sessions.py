"""The signed-in user's own sessions."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy import select

from backend.api.deps import CurrentSession, SessionDep
from backend.api.schemas import SessionOut
from backend.models import UserSession

router = APIRouter(prefix="/auth/sessions", tags=["sessions"])


@router.get("")
def list_sessions(current: CurrentSession, db: SessionDep) -> list[SessionOut]:
    rows = db.scalars(
        select(UserSession)
        .where(UserSession.user_id == current.user_id)
        .order_by(UserSession.last_seen_at.desc())
    )
    return [
        SessionOut(
            id=row.id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=row.id == current.id,
        )
        for row in rows
    ]


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_session(session_id: str, current: CurrentSession, db: SessionDep) -> Response:
    row = db.get(UserSession, session_id)
    if row is None or row.user_id != current.user_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such session.")
    db.delete(row)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
