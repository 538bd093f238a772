"""A deadline on every API request: 503 with ``Retry-After``, in words, when it passes.

Why on the request, and not only on the database: the engine's timeouts
(:func:`backend.core.db.make_engine`) bound connecting, a statement on a live server,
SQLite's lock waits and the pool; but a PostgreSQL that is frozen (SIGSTOP, a stalled
VM or disk) under a connection that is already open never runs its own
``statement_timeout``, and the kernel keeps that TCP connection up, so the driver
waits on the socket for good (``pool_pre_ping`` itself waits there). Only a clock on
our side bounds that.

How: the app runs in a task of its own. If no response has started by the deadline the
client gets 503, and that task is left to finish rather than cancelled: a sync route runs
in a worker thread that Python cannot interrupt (anyio waits for the thread even when its
task is cancelled), and tearing the task down under a database session is what leaves a
session half-closed. When the database answers again, the thread finishes, its session
closes the normal way, and its late answer is dropped. While the database stays frozen,
each such request keeps a worker thread and a pooled connection; once they are all
taken, later requests wait for one and get the same 503 at their own deadline, so the
answer stays bounded.

At shutdown (the lifespan's ``shutdown`` message, before the app's own clean-up) such
requests get up to ``DRAIN_SECONDS`` to finish: the server does not know of them, and
the event loop would otherwise cancel them mid-commit as it closes, leaving a session
half-closed. A process stopped while the database is still frozen gives up after that.

Only ``/api`` requests: the dashboard's WebSocket is long-lived by design. The API's
routes wait on nothing but the database (password hashing is bounded CPU work), so a
request past its deadline is one the database did not answer.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.config import API_PREFIX
from backend.core.db_errors import DATABASE_RETRY_AFTER_SECONDS, OutageLog
from backend.core.guards import json_error_messages

log = logging.getLogger("aegis.api")
DRAIN_SECONDS = 10.0


def deadline_detail(seconds: float) -> str:
    return f"The database did not answer within {seconds:g} seconds; try again in a few seconds."


class RequestDeadline:
    def __init__(self, app: ASGIApp, seconds: float, prefix: str = API_PREFIX) -> None:
        self.app = app
        self.seconds = seconds
        self.prefix = prefix
        self._outages = OutageLog(log)
        # Requests answered 503 that are still running: a reference, so the event loop
        # (which keeps only weak ones) does not collect them half-way.
        self._left_running: set[asyncio.Future[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._draining_at_shutdown(receive), send)
            return
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        answered_late = False
        response_started = False

        async def send_unless_late(message: Message) -> None:
            nonlocal response_started
            if answered_late:
                return  # the client already has its 503
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        running = asyncio.ensure_future(self.app(scope, receive, send_unless_late))
        try:
            await asyncio.wait({running}, timeout=self.seconds)
        except asyncio.CancelledError:
            running.cancel()
            raise
        if running.done() or response_started:
            await running  # its result, or its exception for the error middleware
            return
        answered_late = True
        self._left_running.add(running)
        running.add_done_callback(self._finished_late)
        self._outages.failed(
            f"no answer to {scope['method']} {scope['path']} within {self.seconds:g} s: "
            "answered 503; the request goes on until the database answers"
        )
        start, body = json_error_messages("http.response", 503, deadline_detail(self.seconds))
        start["headers"].append((b"retry-after", str(DATABASE_RETRY_AFTER_SECONDS).encode()))
        await send(start)
        await send(body)

    def _draining_at_shutdown(self, receive: Receive) -> Receive:
        async def receive_then_drain() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self._left_running:
                _, pending = await asyncio.wait(set(self._left_running), timeout=DRAIN_SECONDS)
                if pending:
                    log.warning(
                        "%d requests answered 503 at their deadline are still waiting for "
                        "the database at shutdown; they will be cancelled",
                        len(pending),
                    )
            return message

        return receive_then_drain

    def _finished_late(self, task: asyncio.Future[None]) -> None:
        self._left_running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a request answered 503 at its deadline later failed: %r", task.exception())
