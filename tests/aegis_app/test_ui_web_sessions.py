"""The web target's session rules on real sessions (pilots), without a server.

The same rules over a real ``aegis serve`` and its WebSocket are in
``launch/test_web_sessions.py``; these pin each decision on its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from typing import Any

from starlette.types import Receive, Scope, Send

from aegis_app.app import REFUSAL_KEY
from aegis_app.launch.in_process import InProcessTransport
from aegis_app.launch.web_sessions import (
    ANONYMOUS_SESSION_TIMEOUT_SECONDS,
    TOO_MANY_SESSIONS,
    AdmittedSessions,
    WebSessionRules,
    handshake_token,
)
from aegis_app.target import Target
from aegis_app.views.dashboard import DashboardView
from tests.aegis_app.pilot import InMemorySessionCookieStore, Pilot, in_process_target
from tests.aegis_app.ui_support import Backend, MakePilot
from tests.waiting import wait_for

RULES = WebSessionRules()


def presenting(cookie: str | None, pilot: Pilot) -> bool:
    """May a client whose handshake carries ``cookie`` have ``pilot``'s session back?"""

    def decide() -> bool:
        handshake_token.set(cookie)
        return RULES.may_reattach(pilot.session)

    return contextvars.copy_context().run(decide)


async def test_a_signed_in_session_goes_back_only_to_its_own_cookie(
    make_pilot: MakePilot, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/", token=ada[1])
    assert pilot.state.signed_in and pilot.api.session_token == ada[1]
    assert presenting(ada[1], pilot)
    assert not presenting(None, pilot)
    assert not presenting("", pilot)
    assert not presenting(ada[1][:-1], pilot)
    assert not presenting(ada[1] + "x", pilot)
    assert RULES.disconnect_timeout(pilot.session, 300) == 300


async def test_a_signed_out_session_goes_back_to_anyone_and_is_kept_briefly(
    make_pilot: MakePilot, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/")
    assert pilot.api.session_token is None
    assert presenting(None, pilot) and presenting(ada[1], pilot)
    assert RULES.disconnect_timeout(pilot.session, 300) == ANONYMOUS_SESSION_TIMEOUT_SECONDS
    assert RULES.disconnect_timeout(pilot.session, 10) == 10, "never longer than configured"


async def test_signing_out_makes_a_session_anonymous(
    make_pilot: MakePilot, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/", token=ada[1])
    await pilot.router.sign_out()
    assert RULES.disconnect_timeout(pilot.session, 300) == ANONYMOUS_SESSION_TIMEOUT_SECONDS
    assert presenting(None, pilot)


# -- admission ----------------------------------------------------------------------


def capped_target(
    backend: Backend, admitted: AdmittedSessions, token: str | None
) -> Target[InMemorySessionCookieStore]:
    base = in_process_target(backend.app, InMemorySessionCookieStore(token))
    return dataclasses.replace(base, admission=admitted)


async def test_over_the_cap_a_session_is_told_why_and_not_counted(
    ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    admitted = AdmittedSessions(anonymous_per_ip=2)
    pilots = [Pilot(capped_target(ui_backend, admitted, None)) for _ in range(3)]
    signed_in = Pilot(capped_target(ui_backend, admitted, ada[1]))
    try:
        for pilot in pilots:
            await pilot.start()
        first, second, refused = pilots
        assert not first.has_text(TOO_MANY_SESSIONS) and not second.has_text(TOO_MANY_SESSIONS)
        assert refused.has_text(TOO_MANY_SESSIONS)
        assert refused.page.data[REFUSAL_KEY] == TOO_MANY_SESSIONS
        assert refused.router.current is None, "the app itself never started"
        assert not presenting(None, refused), "a reload asks again"
        assert RULES.disconnect_timeout(refused.session, 300) == 0
        assert admitted.anonymous("127.0.0.1") == 2

        await signed_in.start()  # a signed-in session is not anonymous: always let in
        assert isinstance(signed_in.view, DashboardView)
        assert admitted.anonymous("127.0.0.1") == 2

        await first.close()  # evicted: its place is free again
        assert admitted.anonymous("127.0.0.1") == 1
        again = Pilot(capped_target(ui_backend, admitted, None))
        pilots.append(again)
        await again.start()
        assert not again.has_text(TOO_MANY_SESSIONS)
    finally:
        for pilot in [*pilots, signed_in]:
            await pilot.close()
    assert all(not pilot.conn.crashes for pilot in pilots)


async def test_at_shutdown_every_session_stops_and_its_requests_finish_first(
    ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    """Before the database goes away: views stopped, the live feed closed, requests in
    flight completed."""
    admitted = AdmittedSessions(anonymous_per_ip=5)
    pilot = Pilot(capped_target(ui_backend, admitted, ada[1]))
    in_flight, finish = asyncio.Event(), asyncio.Event()
    try:
        await pilot.start()
        view = pilot.view_as(DashboardView)
        await wait_for(lambda: view.latest is not None, 2, what="the first reading")
        assert view.running_tasks == 1
        transport = pilot.api.http._transport
        assert isinstance(transport, InProcessTransport)
        assert transport.requests_in_flight == 1, "the live feed"

        async def held(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["path"].endswith("/auth/me"):
                in_flight.set()
                await finish.wait()
            await answer(scope, receive, send)

        answer, transport.app = transport.app, held

        async def ask_who_am_i() -> None:
            await view.call_api(pilot.api.get("/auth/me"))

        view.start_task(ask_who_am_i)
        await asyncio.wait_for(in_flight.wait(), 5)
        closing = asyncio.create_task(admitted.close_all())
        await wait_for(lambda: view.running_tasks == 0, 2, what="the view's tasks to end")
        await wait_for(
            lambda: transport.requests_in_flight == 1, 2, what="the feed's request to end"
        )  # the feed closed
        await wait_for(
            lambda: ui_backend.app.state.live_hub.subscriber_count == 0,
            2,
            what="the live feed to lose its subscriber",
        )
        assert not closing.done(), "it waits for the request in flight"
        finish.set()
        await asyncio.wait_for(closing, 5)
        assert transport.requests_in_flight == 0, "the request ran to its end"
        assert pilot.api.http.is_closed
        assert admitted.anonymous("127.0.0.1") == 0
    finally:
        finish.set()
        await pilot.close()
