"""The web target's in-process transport: a cancelled caller never cuts a request short."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from aegis_app.launch.web import InProcessTransport


class SlowApp:
    """Answers once ``release`` is set, and records that it got to finish."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.started.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
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
        for _ in range(100):
            if transport.requests_in_flight == 0:
                break
            await asyncio.sleep(0.01)
        assert app.finished, "the request ran to its end"
        assert transport.requests_in_flight == 0


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
    closing = asyncio.create_task(client.aclose())
    await asyncio.sleep(0.05)
    assert not closing.done(), "close waits while the request is still running"
    app.release.set()
    await asyncio.wait_for(closing, 5)
    assert app.finished and transport.requests_in_flight == 0
