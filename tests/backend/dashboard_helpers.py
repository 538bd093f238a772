"""Helpers for the operations-dashboard API tests (users, audit, account, system).

Kept apart from ``api_helpers``/``conftest`` (another suite's); builds on their ``Api``.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from backend.models import AuditEvent, User
from tests.backend.api_helpers import API, PASSWORD, Api

ADMIN = "admin@example.com"
VIEWER = "viewer@example.com"


async def create_user(
    admin: httpx.AsyncClient,
    email: str,
    *,
    role: str = "viewer",
    password: str | None = PASSWORD,
    full_name: str = "Vera Viewer",
) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email, "full_name": full_name, "role": role}
    if password is not None:
        body["password"] = password
    response = await admin.post(f"{API}/users", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def admin_and_viewer(api: Api) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    """The first account (an admin) and a viewer it created, each signed in on a device."""
    admin, _ = await api.signed_in(ADMIN, register=True)
    await create_user(admin, VIEWER)
    viewer, _ = await api.signed_in(VIEWER)
    return admin, viewer


def audit_rows(api: Api, kind: str | None = None) -> list[AuditEvent]:
    """Audit rows oldest first, optionally of one kind."""
    with api.db() as db:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if kind is not None:
            query = query.where(AuditEvent.kind == kind)
        return list(db.scalars(query))


def user_id(api: Api, email: str) -> int:
    with api.db() as db:
        found = db.scalar(select(User.id).where(User.email == email))
        assert found is not None, email
        return found


def detail(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str), body
    text: str = body["detail"]
    return text
