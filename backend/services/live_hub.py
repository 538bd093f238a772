"""One reading per period, pushed to every live subscriber.

A live dashboard used to poll the status and the metric history every few seconds,
each through a full request of its own: two database sessions, the session resolved
twice, and the whole history bucketed again for every viewer. The hub computes one
reading per period per *choice* (which instance's figures) whatever the number of
viewers, encodes it once, and hands the same bytes to each subscriber.

Authorisation still holds per subscriber: each period the hub asks, in one query for
all of them, which subscribers' sign-in sessions are still live, and ends the stream of
every other one (signed out, revoked, expired, user deactivated) before it delivers
anything more. So a session ended anywhere stops receiving within one period.

What a reading is, and how a session is checked, is the caller's business
(:class:`Computation`); the hub only schedules, fans out and forgets. It lives on the
API's event loop; the computation runs in a worker thread, because it reads the
database synchronously.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field

import anyio.to_thread

log = logging.getLogger("aegis.live")

DELIVERIES_PER_TURN = 25
"""Subscribers handed a reading per turn of the event loop. Each one's reader then does
a dashboard's worth of work (a couple of milliseconds); woken all at once, 1,000 of them
held a click that arrived just then for over a second. Between slices, the loop reads
the sockets and runs what else is ready."""

Choice = str | None
"""Which instance's figures a subscriber asked for; None: the server's choice."""


@dataclass(frozen=True)
class Batch:
    """What one computation produced: the encoded reading for each choice, and which of
    the asked-about sign-in sessions are still live."""

    readings: dict[Choice, bytes]
    live_sessions: set[str]


Computation = Callable[[Collection[Choice], Collection[str]], Batch]
"""``(choices, session_ids) -> Batch``; runs in a worker thread. Raising means the
reading could not be made (the database is down, say); ``problem`` then says why."""


@dataclass(eq=False)
class Subscription:
    """One subscriber's mailbox. Only the newest reading is kept: a slow reader skips
    readings rather than queueing them."""

    session_id: str
    choice: Choice
    revoked: bool = False
    """Ended because its sign-in session ended (not because the server is stopping)."""
    served: bool = False
    """Has had a reading (or a problem) delivered since it subscribed."""
    _pending: bytes | None = None
    _ended: bool = False
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, payload: bytes) -> None:
        self.served = True
        self._pending = payload
        self._ready.set()

    def end(self) -> None:
        self._ended = True
        self._ready.set()

    @property
    def ended(self) -> bool:
        return self._ended

    async def next(self) -> bytes | None:
        """The next payload, or None once the subscription has ended."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            if self._ended:
                return None
            payload, self._pending = self._pending, None
            if payload is not None:
                return payload


class LiveHub:
    """Computes once per ``period`` while anyone listens, and pushes the result."""

    def __init__(
        self,
        compute: Computation,
        period: float,
        *,
        problem: Callable[[Exception], bytes],
    ) -> None:
        self.compute = compute
        self.period = period
        self.problem = problem
        self.computations = 0
        """How many times a reading was computed (tests count it against the period)."""
        self._subscriptions: set[Subscription] = set()
        self._latest: dict[Choice, tuple[float, bytes]] = {}
        self._wake = asyncio.Event()
        self._closed = False
        self.idle = False
        """The loop waits for a subscriber: nobody listens, and no period runs."""

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, session_id: str, choice: Choice) -> Subscription:
        """A new subscriber gets this period's reading at once if there is one; else the
        hub computes one for it now rather than at the next period."""
        subscription = Subscription(session_id, choice)
        if self._closed:
            subscription.end()
            return subscription
        self._subscriptions.add(subscription)
        self._serve(subscription)
        # Wake the loop even when the cache served it: an idle hub (nobody was
        # listening) runs no period until woken, and the subscriber would get nothing
        # after this reading. A busy loop just serves newcomers and waits on.
        self._wake.set()
        return subscription

    def _serve(self, subscription: Subscription) -> bool:
        """Deliver this period's reading for its choice, if there is one yet."""
        cached = self._latest.get(subscription.choice)
        if cached is None or time.monotonic() - cached[0] >= self.period:
            return False
        subscription.deliver(cached[1])
        return True

    def unsubscribe(self, subscription: Subscription) -> None:
        # Its choice's reading stays cached for the rest of the period: a reload (leave,
        # come back) is served from it. run() forgets readings nobody can use any more.
        self._subscriptions.discard(subscription)

    async def stream(self, subscription: Subscription, ended: bytes) -> AsyncIterator[bytes]:
        """The subscription's payloads, then ``ended`` if its sign-in session ended; a
        stopping server just closes it (the reader comes back later, still signed in).
        Unsubscribes however it stops."""
        try:
            while (payload := await subscription.next()) is not None:
                yield payload
            if subscription.revoked:
                yield ended
        finally:
            self.unsubscribe(subscription)

    def close(self) -> None:
        """End every stream (the server is stopping): readers are told, not left hanging."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.end()
        self._subscriptions.clear()
        self._wake.set()

    async def run(self) -> None:
        """The hub's loop, for the app's lifespan: idle while nobody listens."""
        next_period = 0.0
        while not self._closed:
            # Cleared before the work, so a subscriber arriving during it is not missed.
            self._wake.clear()
            if not self._subscriptions:
                self.idle = True
                await self._wake.wait()
                self.idle = False
                continue
            if time.monotonic() >= next_period:
                next_period = time.monotonic() + self.period
                await self._compute_and_push(set(self._subscriptions))
            else:
                await self._serve_newcomers()
            self._forget_stale_readings()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_period - time.monotonic()))

    async def _serve_newcomers(self) -> None:
        """Subscribers that arrived mid-period: this period's reading, computed if none."""
        waiting = {s for s in self._subscriptions if not s.served and not self._serve(s)}
        if waiting:
            await self._compute_and_push(waiting)

    def _forget_stale_readings(self) -> None:
        now = time.monotonic()
        for choice, (at, _) in list(self._latest.items()):
            if now - at >= self.period:
                del self._latest[choice]

    async def _compute_and_push(self, targets: set[Subscription]) -> None:
        choices = {s.choice for s in targets}
        session_ids = {s.session_id for s in targets}
        try:
            batch = await anyio.to_thread.run_sync(self.compute, choices, session_ids)
        except Exception as error:  # the next period tries again
            log.info("live reading failed: %s", error)
            problem = self.problem(error)
            for subscription in targets:
                subscription.deliver(problem)
            return
        self.computations += 1
        at = time.monotonic()
        for choice, payload in batch.readings.items():
            self._latest[choice] = (at, payload)
        for turn, subscription in enumerate(targets):
            if turn and turn % DELIVERIES_PER_TURN == 0:
                await asyncio.sleep(0)  # see DELIVERIES_PER_TURN
            if subscription not in self._subscriptions:
                continue  # left while we computed, or while earlier slices were served
            if subscription.session_id not in batch.live_sessions:
                self._subscriptions.discard(subscription)
                subscription.revoked = True
                subscription.end()
                continue
            reading = batch.readings.get(subscription.choice)
            if reading is not None:
                subscription.deliver(reading)
