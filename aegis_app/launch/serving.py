"""How ``aegis serve`` runs behind a load balancer: keep-alive, and leaving on SIGTERM
without failing a request.

Keep-alive: uvicorn's default closes a connection after 5 s idle, the very period a
dashboard (or a monitoring script) polls at, so now and then a request met a
connection the server was closing at that instant, and was reset. The default here
(``aegis serve --timeout-keep-alive``, 75 s) outlasts any poll interval we know of
and the idle timeout a balancer keeps towards its servers (HAProxy's in ``deploy/``
is under a minute), so an idle connection is always closed by the other side.

Leaving on SIGTERM: uvicorn's own shutdown closes the listening socket and every idle
keep-alive connection at once. A balancer that picked one of those idle connections
for a new request a moment earlier has the connection closed under that request, and
the client gets an error (measured behind deploy/haproxy.cfg: 12 of 8,803 requests
failed over six SIGTERMs under polling load; none of 10,596 with the drain, see
tests/cluster/test_faults.py). So a SIGTERM first *drains* for
``drain_seconds``:

1. ``/api/v1/health`` answers 503 ``draining`` with ``X-Aegis-Draining``, so the
   balancer's health check takes the instance out of rotation (it then sends new
   requests, and reconnecting tabs, to the others) while it still accepts connections;
2. every other request is still answered, with ``Connection: close``, so the
   balancer's connections to this instance close as they are used rather than wait
   idle for the moment the instance closes them;
3. then uvicorn's graceful shutdown: the listening socket closes, requests in flight
   finish (within ``timeout_graceful_shutdown``), WebSockets are closed with 1012
   ("service restart", upon which Flet's client reconnects, through the balancer, to
   another instance), and the lifespan closes the Flet sessions and the database.

SIGINT (Ctrl+C in a terminal) and a second SIGTERM skip the drain. With
``drain_seconds`` 0 (the default, for an instance without a balancer) SIGTERM is
uvicorn's plain graceful shutdown.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import time
from collections.abc import Callable, Sequence
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.config import API_PREFIX

log = logging.getLogger("aegis.web")

HEALTH_PATH = f"{API_PREFIX}/health"
DRAINING_BODY = json.dumps(
    {
        "status": "draining",
        "detail": "This instance is shutting down; the load balancer sends new requests "
        "to the other instances.",
    }
).encode()


class Drain:
    """Whether this process is draining, and until when."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.until: float | None = None

    @property
    def active(self) -> bool:
        return self.until is not None

    def start(self) -> None:
        self.until = time.monotonic() + self.seconds

    def over(self) -> bool:
        return self.until is not None and time.monotonic() >= self.until


class DrainGate:
    """ASGI wrapper: while draining, health says so and no connection is kept alive."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.active:
            await self.app(scope, receive, send)
            return
        if scope["path"] == HEALTH_PATH:
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(DRAINING_BODY)).encode()),
                        (b"retry-after", b"1"),
                        # What the balancer's health check looks for (deploy/haproxy.cfg):
                        # unlike a 503 for a database outage, this one takes us out.
                        (b"x-aegis-draining", b"1"),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": DRAINING_BODY})
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


class DrainingServer(uvicorn.Server):
    """Uvicorn, with the drain above between a SIGTERM and its graceful shutdown."""

    def __init__(
        self,
        config: uvicorn.Config,
        drain: Drain,
        *,
        before_shutdown: Sequence[Callable[[], None]] = (),
    ) -> None:
        super().__init__(config)
        self.drain = drain
        self.before_shutdown = before_shutdown
        """Run as the graceful shutdown begins: endless responses (the live feed) end,
        since uvicorn waits for every open response before it stops."""
        self._announced = False

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for hook in self.before_shutdown:
            hook()
        await super().shutdown(sockets=sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: only flags here; on_tick acts on them.
        if sig == signal.SIGTERM and self.drain.seconds > 0 and not self.drain.active:
            self._captured_signals.append(sig)  # re-raised after shutdown, as uvicorn does
            self.drain.start()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain.active and not self.should_exit:
            if not self._announced:
                self._announced = True
                log.info(
                    "SIGTERM: draining for %g s (health answers 503, connections close "
                    "after each response), then stopping",
                    self.drain.seconds,
                )
            if self.drain.over():
                log.info("drained; finishing the requests in flight, then stopping")
                self.should_exit = True
        return await super().on_tick(counter)
