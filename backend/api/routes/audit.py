"""The audit trail (administrators only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from backend.api.bounds import DbId, KeyText
from backend.api.deps import AdminUser, DbSession
from backend.api.paging import Paging, fetch_page
from backend.api.problems import ADMIN_ONLY
from backend.api.schemas import AuditEventOut, AuditPage
from backend.services import audit

router = APIRouter(prefix="/audit", tags=["audit"], responses=ADMIN_ONLY)


@router.get("")
def list_events(
    admin: AdminUser,
    db: DbSession,
    paging: Paging,
    kind: Annotated[KeyText | None, Query()] = None,
    user_id: Annotated[DbId | None, Query()] = None,
) -> AuditPage:
    if kind and kind not in audit.KINDS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"Unknown kind {kind!r}. Known kinds: {', '.join(audit.KINDS)}.",
        )
    rows, total = fetch_page(db, audit.events_query(db, kind=kind, user_id=user_id), paging)
    return AuditPage(
        items=[AuditEventOut.model_validate(row) for row in rows],
        total=total,
        offset=paging.offset,
        limit=paging.limit,
    )


@router.get("/kinds")
def list_kinds(admin: AdminUser) -> list[str]:
    return list(audit.KINDS)
