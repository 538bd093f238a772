"""``GET /system/live``: the dashboard's figures, pushed once per period (Server-Sent Events).

The same status and the same hour of metrics that ``/system/status`` and
``/system/metrics?minutes=60&points=120`` answer, computed once per period for every
viewer by the :class:`~backend.services.live_hub.LiveHub`, not once per viewer.

Events (each a ``data:`` line of JSON):
- ``reading``: ``{"status": <SystemStatus>, "metrics": <MetricsOut>}``;
- ``problem``: ``{"status": 503, "detail": "The database …"}`` when this period's
  reading could not be made; the stream stays open and the next period tries again;
- ``ended``: the sign-in session has ended (signed out, revoked, expired); the stream
  closes, and a client should sign in again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from backend.api.bounds import KeyText
from backend.api.deps import get_current_sign_in_session
from backend.api.problems import SIGNED_IN
from backend.api.routes.system import build_metrics, build_status
from backend.core.db_errors import database_unavailable
from backend.services.live_hub import Batch, Choice, Computation, LiveHub
from backend.services.sessions import live_session_ids

log = logging.getLogger("aegis.live")

router = APIRouter(prefix="/system", tags=["system"], responses=SIGNED_IN)

LIVE_MINUTES = 60
LIVE_POINTS = 120
"""The window the live feed carries: the dashboard's hour, one point per 30 s."""
EVENT_STREAM = "text/event-stream"
SESSION_ENDED_DETAIL = "Your session has ended. Please sign in again."
NOT_READ = "The live figures could not be read just now; the next period tries again."


def server_sent_event(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


ENDED = server_sent_event("ended", {"detail": SESSION_ENDED_DETAIL})


def problem_event(error: Exception) -> bytes:
    return server_sent_event(
        "problem", {"status": 503, "detail": database_unavailable(error) or NOT_READ}
    )


def live_computation(app: FastAPI) -> Computation:
    """One period's work: which subscribers may still watch, and the reading per choice."""

    def compute(choices: Collection[Choice], session_ids: Collection[str]) -> Batch:
        settings = app.state.settings
        instance: str = app.state.instance_id
        with app.state.session_factory() as db:
            live = live_session_ids(db, settings, session_ids)
            if not live:
                return Batch(readings={}, live_sessions=live)
            scheduler = getattr(app.state, "scheduler", None)
            status = build_status(db, settings, instance, scheduler).model_dump(mode="json")
            readings: dict[Choice, bytes] = {}
            for choice in choices:
                metrics = build_metrics(
                    db,
                    settings,
                    answering=instance,
                    minutes=LIVE_MINUTES,
                    points=LIVE_POINTS,
                    instance=choice,
                )
                readings[choice] = server_sent_event(
                    "reading", {"status": status, "metrics": metrics.model_dump(mode="json")}
                )
        return Batch(readings=readings, live_sessions=live)

    return compute


def new_live_hub(app: FastAPI) -> LiveHub:
    period = app.state.settings.resolved_live_period_seconds
    return LiveHub(live_computation(app), period, problem=problem_event)


def _signed_in_session_id(request: Request) -> str:
    with request.app.state.session_factory() as db:
        return get_current_sign_in_session(request, db, request.app.state.settings).id


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "An endless stream of `reading`, `problem` and `ended` events.",
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
        }
    },
)
async def live_readings(
    request: Request,
    instance: Annotated[
        KeyText | None,
        Query(description="Whose figures, as in `/system/metrics`; by default this instance's."),
    ] = None,
) -> StreamingResponse:
    """The dashboard's reading now, then again every metrics interval, until the sign-in
    session ends or the client goes away."""
    session_id = await run_in_threadpool(_signed_in_session_id, request)
    hub: LiveHub = request.app.state.live_hub
    subscription = hub.subscribe(session_id, instance)
    return StreamingResponse(
        hub.stream(subscription, ENDED),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
