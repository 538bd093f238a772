"""The live feed (``/system/live``): one reading per period for every viewer, pushed.

The hub on its own (a counting computation), then the real thing: parallel viewers
over real HTTP against a real uvicorn on both engines, a session revoked while its
stream is open, hostile input, and a thousand streams opened and closed in-process.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest

from aegis_app.api_client import APIClient
from aegis_app.launch.in_process import InProcessTransport
from backend.core.config import API_PREFIX, SESSION_COOKIE
from backend.services.live_hub import DELIVERIES_PER_TURN, Batch, Choice, LiveHub, Subscription
from tests.backend.api_helpers import Api, cookie_token
from tests.backend.live_server import LiveServer, in_parallel, live_server
from tests.waiting import wait_for, wait_until

PERIOD = 0.3
VIEWERS = 8
ROUNDS = 5
PASSWORD = "correct horse battery"


# -- the hub alone -------------------------------------------------------------------


class CountingComputation:
    def __init__(self, revoked: set[str] | None = None) -> None:
        self.calls: list[tuple[set[Choice], set[str]]] = []
        self.revoked = revoked if revoked is not None else set()

    def __call__(self, choices: Collection[Choice], session_ids: Collection[str]) -> Batch:
        self.calls.append((set(choices), set(session_ids)))
        n = len(self.calls)
        return Batch(
            readings={choice: f"reading {n} for {choice}".encode() for choice in choices},
            live_sessions=set(session_ids) - self.revoked,
        )


@pytest.fixture
async def hub_and_computation() -> AsyncIterator[tuple[LiveHub, CountingComputation]]:
    computation = CountingComputation()
    hub = LiveHub(computation, 0.05, problem=lambda error: f"problem {error}".encode())
    task = asyncio.create_task(hub.run())
    yield hub, computation
    hub.close()
    task.cancel()


async def test_one_computation_per_period_for_many_subscribers(
    hub_and_computation: tuple[LiveHub, CountingComputation],
) -> None:
    hub, computation = hub_and_computation
    subscriptions = [hub.subscribe(f"s{i}", None) for i in range(50)]
    received = await asyncio.gather(*(collect(s, 4) for s in subscriptions))
    # Every subscriber saw the same four readings, made once each.
    assert all(r == received[0] for r in received)
    assert len(computation.calls) <= 5, len(computation.calls)
    assert all(len(ids) == 50 for _, ids in computation.calls[1:])


async def test_a_big_fan_out_lets_other_work_run_between_its_slices(
    hub_and_computation: tuple[LiveHub, CountingComputation], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click must not wait behind a whole period's deliveries: the loop turns between
    slices of ``DELIVERIES_PER_TURN`` subscribers."""
    hub, _ = hub_and_computation
    subscriptions = [hub.subscribe(f"s{i}", None) for i in range(4 * DELIVERIES_PER_TURN)]
    await asyncio.gather(*(s.next() for s in subscriptions))
    turns = 0
    delivered_at_turn: list[int] = []

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    for subscription in subscriptions:
        deliver = subscription.deliver

        def recording(payload: bytes, deliver: Callable[[bytes], None] = deliver) -> None:
            delivered_at_turn.append(turns)
            deliver(payload)

        monkeypatch.setattr(subscription, "deliver", recording)
    probe = asyncio.create_task(other_work())
    try:
        await asyncio.gather(*(s.next() for s in subscriptions))
    finally:
        probe.cancel()
    assert len(delivered_at_turn) == len(subscriptions)
    slices = [delivered_at_turn.count(turn) for turn in sorted(set(delivered_at_turn))]
    assert slices == [DELIVERIES_PER_TURN] * 4, slices


async def test_a_late_subscriber_gets_this_periods_reading_without_a_computation(
    hub_and_computation: tuple[LiveHub, CountingComputation],
) -> None:
    hub, computation = hub_and_computation
    first = hub.subscribe("a", None)
    reading = await first.next()
    calls = len(computation.calls)
    late = hub.subscribe("b", None)
    assert await late.next() == reading
    assert len(computation.calls) in (calls, calls + 1)  # at most the period's own


async def test_each_choice_is_computed_once_and_goes_to_its_own_subscribers(
    hub_and_computation: tuple[LiveHub, CountingComputation],
) -> None:
    hub, _ = hub_and_computation
    mine, other = hub.subscribe("a", None), hub.subscribe("b", "web2")
    assert (await mine.next() or b"").endswith(b"for None")
    assert (await other.next() or b"").endswith(b"for web2")


async def test_a_revoked_session_is_ended_before_anything_more_is_delivered() -> None:
    computation = CountingComputation()
    hub = LiveHub(computation, 0.05, problem=lambda error: b"problem")
    task = asyncio.create_task(hub.run())
    try:
        kept, revoked = hub.subscribe("kept", None), hub.subscribe("gone", None)
        await asyncio.gather(kept.next(), revoked.next())
        computation.revoked.add("gone")
        assert await revoked.next() is None, "ended, with no reading after the revocation"
        assert revoked.ended and hub.subscriber_count == 1
        assert await kept.next() is not None
    finally:
        hub.close()
        task.cancel()


async def test_a_viewer_back_within_the_period_of_an_idle_hub_keeps_receiving() -> None:
    """A reading that took long to compute is still fresh when the hub, its last viewer
    gone, goes idle. A viewer coming back then (a reload) is served it from the cache,
    and must still get the periods after it: it once waited for ever, as nothing woke
    the idle hub (seen as a 60 s read timeout in the parallel viewers test)."""
    period = 1.0
    computation, computing = CountingComputation(), threading.Event()

    def outlasting(choices: Collection[Choice], session_ids: Collection[str]) -> Batch:
        computing.set()
        time.sleep(period)  # a computation that takes its whole period: the case under test
        return computation(choices, session_ids)

    hub = LiveHub(outlasting, period, problem=lambda error: b"problem")
    task = asyncio.create_task(hub.run())
    try:
        left = hub.subscribe("left", None)
        await wait_for(computing.is_set, what="the computation started")
        hub.unsubscribe(left)  # gone while its reading is computed
        await wait_for(lambda: hub.computations == 1 and hub.idle, what="the hub idle")
        back = hub.subscribe("back", None)
        assert await back.next() == b"reading 1 for None", "served from the cache"
        assert await asyncio.wait_for(back.next(), 10 * period) == b"reading 2 for None"
    finally:
        hub.close()
        task.cancel()


async def test_closing_the_hub_ends_every_stream(
    hub_and_computation: tuple[LiveHub, CountingComputation],
) -> None:
    hub, _ = hub_and_computation
    subscription = hub.subscribe("a", None)
    stream = hub.stream(subscription, b"ended")
    assert (await anext(stream)).startswith(b"reading")
    hub.close()
    with pytest.raises(StopAsyncIteration):  # closed, not "ended": the session is fine
        await anext(stream)
    assert hub.subscriber_count == 0
    assert hub.subscribe("late", None).ended, "a closed hub takes nobody new"


async def collect(subscription: Subscription, count: int) -> list[bytes]:
    received: list[bytes] = []
    while len(received) < count:
        payload = await subscription.next()
        assert payload is not None
        received.append(payload)
    return received


# -- over real HTTP, both engines ---------------------------------------------------


def sign_up_and_sign_in(server: LiveServer, sessions: int) -> list[str]:
    """An account, and ``sessions`` sign-in sessions of it (tokens)."""
    with server.client() as http:
        response = http.post(
            "/auth/register",
            json={"full_name": "Live Viewer", "email": "viewer@example.com", "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
    tokens = []
    for _ in range(sessions):
        with server.client() as http:
            response = http.post(
                "/auth/login", json={"email": "viewer@example.com", "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            tokens.append(cookie_token(response))
    return tokens


def read_events(
    server: LiveServer, token: str, count: int, stop: threading.Event
) -> list[tuple[str, bytes, float]]:
    """Open the feed as a viewer and read ``count`` events, or until ``stop`` or an
    ``ended``: each one's name, data and arrival time."""
    seen: list[tuple[str, bytes, float]] = []
    with server.client() as http:
        http.cookies.set(SESSION_COOKIE, token)
        with http.stream("GET", "/system/live", headers={"accept": "text/event-stream"}) as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-type"].startswith("text/event-stream")
            block: list[str] = []
            for line in r.iter_lines():
                if line:
                    block.append(line)
                    continue
                name = block[0].removeprefix("event: ")
                data = block[1].removeprefix("data: ").encode() if len(block) > 1 else b""
                seen.append((name, data, time.monotonic()))
                block = []
                if len(seen) >= count or stop.is_set() or name == "ended":
                    break
    return seen


def test_parallel_viewers_share_one_reading_per_period(tmp_path: Path, database_url: str) -> None:
    with live_server(tmp_path, database_url=database_url, live_period_seconds=PERIOD) as server:
        tokens = sign_up_and_sign_in(server, VIEWERS)
        hub: LiveHub = server.app.state.live_hub
        for round_no in range(ROUNDS):
            where = f"round {round_no + 1}/{ROUNDS}"
            computed, started = hub.computations, time.monotonic()
            stop = threading.Event()
            results = in_parallel([partial(read_events, server, t, 4, stop) for t in tokens])
            elapsed = time.monotonic() - started
            for events in results:
                assert [name for name, _, _ in events] == ["reading"] * 4, where
            computations = hub.computations - computed
            # One per period whatever the number of viewers; per viewer it would be 32.
            assert computations <= elapsed / PERIOD + 2, f"{where}: {computations}, {elapsed}s"
            readings = [{data for _, data, _ in events} for events in results]
            assert set.intersection(*readings), f"{where}: no reading reached every viewer"
            wait_until(lambda: hub.subscriber_count == 0, what="every stream unsubscribed")


def test_a_revoked_session_stops_receiving_within_one_period(
    tmp_path: Path, database_url: str
) -> None:
    with live_server(tmp_path, database_url=database_url, live_period_seconds=PERIOD) as server:
        hub: LiveHub = server.app.state.live_hub
        for round_no in range(ROUNDS):
            where = f"round {round_no + 1}/{ROUNDS}"
            server.execute("DELETE FROM sessions", "DELETE FROM users")
            revoked, kept = sign_up_and_sign_in(server, 2)
            stop = threading.Event()
            with ThreadPoolExecutor(2) as pool:
                revoked_viewer = pool.submit(read_events, server, revoked, 1000, stop)
                kept_viewer = pool.submit(read_events, server, kept, 1000, stop)
                wait_until(lambda: hub.subscriber_count == 2, what="both viewers subscribed")
                with server.client() as http:
                    http.cookies.set(SESSION_COOKIE, revoked)
                    assert http.post("/auth/logout").status_code == 200, where
                signed_out = time.monotonic()
                events = revoked_viewer.result(timeout=10)
                time_after = [t for _, _, t in events if t > signed_out]
                stop.set()
                kept_events = kept_viewer.result(timeout=10)
            assert events[-1][0] == "ended", f"{where}: {[n for n, _, _ in events]}"
            assert events[-1][2] - signed_out <= 2 * PERIOD + 1.0, f"{where}: ended late"
            late = [n for n, _, t in events[:-1] if t > signed_out + PERIOD]
            assert not late, f"{where}: readings after the sign-out: {late} ({time_after})"
            assert kept_events[-1][0] == "reading", f"{where}: the other viewer was cut off"
            assert kept_events[-1][2] > signed_out, where


async def test_no_session_is_refused_and_bad_input_gets_words(api: Api) -> None:
    client = await api.client()
    response = await client.get(f"{API_PREFIX}/system/live")
    assert response.status_code == 401
    assert "not signed in" in response.json()["detail"]
    client.cookies.set(SESSION_COOKIE, "forged-or-replayed-token")
    assert (await client.get(f"{API_PREFIX}/system/live")).status_code == 401
    client.cookies.clear()
    await client.post(
        f"{API_PREFIX}/auth/register",
        json={"full_name": "Ada", "email": "ada@example.com", "password": PASSWORD},
    )
    response = await client.get(f"{API_PREFIX}/system/live", params={"instance": "x" * 5000})
    assert response.status_code == 422
    assert "instance" in response.text


@pytest.mark.engines("sqlite")
def test_a_reader_that_goes_away_is_unsubscribed_at_once(tmp_path: Path) -> None:
    """Long before the next reading (the period is a minute): Starlette listens for the
    disconnect beside the stream (uvicorn's HTTP scope declares no ASGI 2.4, under which
    it would find out only at its next write)."""
    with live_server(tmp_path, live_period_seconds=60) as server:
        (token,) = sign_up_and_sign_in(server, 1)
        hub: LiveHub = server.app.state.live_hub
        for _ in range(ROUNDS):
            events = read_events(server, token, 1, threading.Event())
            assert [name for name, _, _ in events] == ["reading"]
            wait_until(lambda: hub.subscriber_count == 0, timeout=5, what="the reader unsubscribed")


@pytest.mark.engines("sqlite")
async def test_a_thousand_streams_opened_and_closed_leave_nothing_behind(api: Api) -> None:
    """Each opened through the web target's in-process transport, read once, closed."""
    signed_up = await (await api.client()).post(
        f"{API_PREFIX}/auth/register",
        json={"full_name": "Ada", "email": "ada@example.com", "password": PASSWORD},
    )
    token = cookie_token(signed_up)
    hub: LiveHub = api.app.state.live_hub
    tasks_before = len(asyncio.all_tasks())
    transport = InProcessTransport(api.app, client=("127.0.0.1", 1))
    client = APIClient(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
    client.http.cookies.set(SESSION_COOKIE, token)
    readings = 0
    try:
        for _ in range(1000):
            async for event in client.events("/system/live"):
                assert event.name == "reading"
                readings += 1
                break
        # A stream that ended at once would leave nothing behind too: each one was read.
        assert readings == 1000
        await wait_for(lambda: hub.subscriber_count == 0, what="every stream unsubscribed")
        await wait_for(lambda: transport.requests_in_flight == 0, what="no request in flight")
        await wait_for(
            lambda: len(asyncio.all_tasks()) <= tasks_before, what="the streams' tasks ended"
        )
        gc.collect()
        assert not [o for o in gc.get_objects() if isinstance(o, Subscription)]
    finally:
        await client.aclose()
