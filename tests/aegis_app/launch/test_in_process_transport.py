"""The web target's in-process transport: a cancelled caller never cuts a request short."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from aegis_app.launch.in_process import InProcessTransport
from tests.waiting import wait_for

TURNS = 10  # loop turns a finished request leaves the client's close before it ends


class SlowApp:
    """Answers once ``release`` is set, and records that it got to finish."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = False
        self.closing: asyncio.Task[None] | None = None
        self.closed_before_finish: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.started.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        if self.closing is not None:
            # Loop turns, not time: a close that does not wait is done within one or two.
            for _ in range(TURNS):
                await asyncio.sleep(0)
            self.closed_before_finish = self.closing.done()
        self.finished = True


async def test_cancelling_the_caller_lets_the_request_finish() -> None:
    app = SlowApp()
    transport = InProcessTransport(app, client=("203.0.113.9", 0))
    async with httpx.AsyncClient(transport=transport, base_url="https://aegis.internal") as client:
        caller = asyncio.create_task(client.get("/api/v1/health"))
        await asyncio.wait_for(app.started.wait(), 5)
        caller.cancel()
        await asyncio.gather(caller, return_exceptions=True)
        assert caller.cancelled(), "the caller stops waiting at once"
        assert transport.requests_in_flight == 1
        assert not app.finished
        app.release.set()
        await wait_for(lambda: transport.requests_in_flight == 0, 5, what="the request to end")
        assert app.finished, "the request ran to its end"


async def test_answers_pass_through_with_the_browser_address() -> None:
    seen: list[tuple[str, int] | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope.get("client"))
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b'{"detail": "x"}'})

    transport = InProcessTransport(app, client=("203.0.113.9", 0))
    async with httpx.AsyncClient(transport=transport, base_url="https://aegis.internal") as client:
        response = await client.get("/anything")
    assert response.status_code == 500
    assert seen == [("203.0.113.9", 0)]


async def test_closing_the_client_waits_for_requests_it_walked_away_from() -> None:
    app = SlowApp()
    transport = InProcessTransport(app, client=("203.0.113.9", 0))
    client = httpx.AsyncClient(transport=transport, base_url="https://aegis.internal")
    caller = asyncio.create_task(client.get("/api/v1/health"))
    await asyncio.wait_for(app.started.wait(), 5)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    app.closing = asyncio.create_task(client.aclose())
    app.release.set()
    await asyncio.wait_for(app.closing, 5)
    assert app.closed_before_finish is False, "close waits while the request is still running"
    assert app.finished and transport.requests_in_flight == 0
