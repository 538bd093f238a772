from __future__ import annotations

import time

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from backend.api.deps import SessionDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str
    database_latency_ms: float | None


@router.get("/health")
def health(db: SessionDep) -> Health:
    started = time.perf_counter()
    try:
        db.execute(text("SELECT 1"))
    except Exception:
        return Health(status="degraded", database="unreachable", database_latency_ms=None)
    latency = (time.perf_counter() - started) * 1000
    return Health(status="ok", database="ok", database_latency_ms=round(latency, 2))
