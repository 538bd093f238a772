"""The web target's way to the API: an ASGI call in the same process, no socket.

Ordinary requests are answered whole (httpx's ASGI transport). A request for an event
stream (``Accept: text/event-stream``, the live dashboard feed) is answered as it is
produced instead: httpx's transport would wait for a response that never ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

from backend.core.guards import InProcessMark

log = logging.getLogger("aegis.web")

IN_FLIGHT_GRACE_SECONDS = 10.0
EVENT_STREAM = "text/event-stream"


class InProcessTransport(httpx.ASGITransport):
    """Calls the API in-process, and lets every request finish even if its caller is gone.

    A session's tasks are cancelled when the user leaves a view or the session is
    evicted. Cancelling a request half-way tore its database session down while the
    worker thread still used the connection (``IllegalStateChangeError``, and once a
    SQLite crash, with hundreds of sessions evicted at once). Now the caller stops
    waiting at once and the request completes on its own; its answer is dropped.
    """

    def __init__(self, app: ASGIApp, client: tuple[str, int]) -> None:
        # raise_app_exceptions=False: a backend bug must reach the view as a 500 (which
        # APIClient turns into words), not as the backend's own exception.
        super().__init__(app=InProcessMark(app), client=client, raise_app_exceptions=False)
        self._marked_app = InProcessMark(app)
        self._client_address = client
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._streams: dict[asyncio.Future[Any], Callable[[], None]] = {}
        """One per open event stream: called, it tells the app its reader is gone."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("accept") == EVENT_STREAM:
            return await self._stream(request)
        task = asyncio.ensure_future(super().handle_async_request(request))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("an abandoned in-process request failed: %s", task.exception())

    @property
    def requests_in_flight(self) -> int:
        return len(self._in_flight)

    async def aclose(self) -> None:
        """Closing the session's client waits (briefly) for requests it walked away from."""
        for reader_gone in list(self._streams.values()):
            reader_gone()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=IN_FLIGHT_GRACE_SECONDS)
        await super().aclose()

    async def _stream(self, request: httpx.Request) -> httpx.Response:
        """Run the request and hand its body over chunk by chunk, as it is sent.

        The scope says ASGI spec 2.4: the app then needs no task of its own listening
        for a disconnect (Starlette's streaming response otherwise keeps a task group
        and two tasks per stream, for as long as a dashboard stays open). A reader that
        goes away cancels the app's task instead, once its response has started: by
        then the route's own work is done and only the body's generator is waiting,
        which stops (and unsubscribes) where it waits. Before that the request is left
        to finish, as every in-process request is, and cancelled when it starts.
        """
        messages: asyncio.Queue[Message | None] = asyncio.Queue()
        gone = asyncio.Event()
        started = False
        request_read = False

        async def receive() -> Message:
            nonlocal request_read
            if not request_read:
                request_read = True
                return {"type": "http.request", "body": await request.aread(), "more_body": False}
            await gone.wait()  # the reader closed the response
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = _is_event_stream(message)
                if started and gone.is_set():
                    # Cancelled at the body's first wait, inside its generator.
                    asyncio.get_running_loop().call_soon(task.cancel)
            await messages.put(message)

        task = asyncio.ensure_future(
            self._marked_app(_scope(request, self._client_address), receive, send)
        )
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

        def reader_gone() -> None:
            gone.set()
            if started and not task.done():
                task.cancel()

        self._streams[task] = reader_gone

        def ended(_: asyncio.Future[Any]) -> None:
            messages.put_nowait(None)
            self._streams.pop(task, None)

        task.add_done_callback(ended)
        try:
            start = await messages.get()
        except asyncio.CancelledError:
            reader_gone()
            raise
        if start is None or start["type"] != "http.response.start":
            reader_gone()
            return httpx.Response(500, request=request)
        return httpx.Response(
            start["status"],
            headers=start.get("headers", []),
            stream=_StreamedBody(messages, reader_gone),
            request=request,
        )


class _StreamedBody(httpx.AsyncByteStream):
    def __init__(
        self, messages: asyncio.Queue[Message | None], reader_gone: Callable[[], None]
    ) -> None:
        self._messages = messages
        self._reader_gone = reader_gone

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (message := await self._messages.get()) is not None:
            if message["type"] != "http.response.body":
                continue
            if body := message.get("body", b""):
                yield body
            if not message.get("more_body", False):
                return

    async def aclose(self) -> None:
        # The app's generator stops where it waits (and unsubscribes).
        self._reader_gone()


def _is_event_stream(start: Message) -> bool:
    """A streamed answer, as opposed to a refusal answered whole (a 401, say), which is
    left to finish on its own."""
    return any(
        name.lower() == b"content-type" and value.startswith(EVENT_STREAM.encode())
        for name, value in start.get("headers", [])
    )


def _scope(request: httpx.Request, client: tuple[str, int]) -> dict[str, object]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "scheme": request.url.scheme,
        "path": request.url.path,
        "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query,
        "server": (request.url.host, request.url.port),
        "client": client,
        "root_path": "",
    }
