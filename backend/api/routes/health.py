"""``GET /health``: 200 when the database answers, 503 with the reason in words when not.

It answers within ``PROBE_TIMEOUT_SECONDS`` (plus a little) whatever the database does,
for load balancers and monitors that must not hang on it:

- The route is ``async`` and takes no sync dependency, so it needs none of anyio's worker
  threads, which a frozen database may have used up (see :mod:`backend.core.deadline`).
- The probe (``SELECT 1`` on a pooled connection) runs on a thread of a small limiter of
  its own and is abandoned, not waited for, at the timeout: a thread blocked on a frozen
  server cannot be interrupted. It finishes by itself when the server answers (or its
  connection fails) and returns its connection to the pool. Waiting for the pool, or for
  the limiter when probes are stuck, counts within the same timeout.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text

from backend.api.errors import database_unavailable_answer
from backend.core.db_errors import DATABASE_UNREACHABLE, database_unavailable

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_SECONDS = 1.5
PROBE_THREADS = 4


class Health(BaseModel):
    status: str
    database: str
    database_latency_ms: float | None


def _probe(engine: Engine) -> float:
    """Milliseconds for ``SELECT 1`` on a pooled connection; raises if it fails."""
    started = time.perf_counter()
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return (time.perf_counter() - started) * 1000


def _limiter(request: Request) -> anyio.CapacityLimiter:
    state: Any = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "health_probe_limiter", None)
    if limiter is None:  # made on first use: it must belong to the server's event loop
        limiter = state.health_probe_limiter = anyio.CapacityLimiter(PROBE_THREADS)
    return limiter


# 503 (with Retry-After) is declared on every operation by backend.api.problems.
@router.get("/health", response_model=Health)
async def health(request: Request) -> Health | JSONResponse:
    engine: Engine = request.app.state.engine
    try:
        with anyio.fail_after(PROBE_TIMEOUT_SECONDS):
            latency = await anyio.to_thread.run_sync(
                _probe, engine, abandon_on_cancel=True, limiter=_limiter(request)
            )
    except TimeoutError:
        return database_unavailable_answer(
            f"The database did not answer within {PROBE_TIMEOUT_SECONDS:g} seconds; "
            "try again in a few seconds."
        )
    except Exception as exc:
        return database_unavailable_answer(database_unavailable(exc) or DATABASE_UNREACHABLE)
    return Health(status="ok", database="ok", database_latency_ms=round(latency, 2))
