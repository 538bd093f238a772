"""View lifecycle (enter, leave, refresh, background tasks), session end and reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import flet as ft
import pytest

from aegis_app.api_client import SESSION_ENDED
from aegis_app.views.auth import SignInView
from aegis_app.views.base import BaseView
from aegis_app.views.registry import ROUTE_TO_VIEW
from aegis_app.views.sessions import SessionsView
from tests.aegis_app.pilot import Pilot
from tests.aegis_app.ui_support import Backend, MakePilot
from tests.waiting import wait_for


class ProbeView(BaseView):
    """Records what the router does to it, and runs a background task until cancelled."""

    route = "/probe"
    title = "Probe"
    requires_auth = False
    instances: list[ProbeView] = []

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls: list[str] = []
        self.entered_with: dict[str, str] | None = None
        self.task_started = asyncio.Event()
        self.task_cancelled = False
        ProbeView.instances.append(self)

    def build(self) -> ft.Control:
        return ft.Text("Probe")

    async def on_enter(self, params: dict[str, str]) -> None:
        self.calls.append("enter")
        self.entered_with = params
        self.params = params
        self.start_task(self._forever)

    async def on_refresh(self) -> None:
        self.calls.append("refresh")

    async def on_leave(self) -> None:
        self.calls.append("leave")
        await super().on_leave()

    async def _forever(self) -> None:
        self.task_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.task_cancelled = True
            raise


@pytest.fixture
def probe_route(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ProbeView.instances = []
    monkeypatch.setitem(ROUTE_TO_VIEW, ProbeView.route, ProbeView)
    yield


@pytest.fixture
async def probe(make_pilot: MakePilot, probe_route: None) -> Pilot:
    pilot = await make_pilot("/probe?a=1&b=two")
    await wait_for(
        lambda: ProbeView.instances[0].task_started.is_set(),
        2,
        what="the probe view's task to start",
    )
    return pilot


async def test_on_enter_gets_the_query_parameters(probe: Pilot) -> None:
    view = probe.view_as(ProbeView)
    assert view.entered_with == {"a": "1", "b": "two"}
    assert view.calls == ["enter"]
    assert view.running_tasks == 1
    assert probe.has_text("Probe")


async def test_leaving_a_view_calls_on_leave_and_cancels_its_tasks(probe: Pilot) -> None:
    view = probe.view_as(ProbeView)
    await probe.visit("/login")
    assert isinstance(probe.view, SignInView)
    assert view.calls == ["enter", "leave"]
    await wait_for(lambda: view.task_cancelled, 2, what="the view's task to be cancelled")
    assert view.running_tasks == 0


async def test_a_new_visit_makes_a_new_view(probe: Pilot) -> None:
    await probe.visit("/probe?a=2")
    first, second = ProbeView.instances
    assert first is not second and probe.view is second
    assert first.calls == ["enter", "leave"] and second.entered_with == {"a": "2"}


async def test_reconnect_refreshes_the_view(probe: Pilot) -> None:
    view = probe.view_as(ProbeView)
    assert probe.state.connected
    await probe.session.disconnect(300)
    await probe.wait_idle()
    assert probe.state.connected is False
    await probe.reconnect()
    assert probe.view is view, "a reconnect must keep the view, not rebuild it"
    assert view.calls == ["enter", "refresh"]
    assert probe.state.connected is True


async def test_closing_the_session_cancels_tasks_and_closes_the_http_client(
    probe: Pilot,
) -> None:
    view = probe.view_as(ProbeView)
    http = probe.api.http
    await probe.close()
    assert view.calls == ["enter", "leave"]
    assert view.task_cancelled
    assert view.running_tasks == 0
    assert probe.router.current is None
    assert http.is_closed


async def test_router_close_leaves_the_current_view(probe: Pilot) -> None:
    view = probe.view_as(ProbeView)
    await probe.router.close()
    await wait_for(lambda: view.task_cancelled, 2, what="the view's task to be cancelled")
    assert view.calls == ["enter", "leave"]
    await probe.router.close()  # twice is harmless
    assert view.calls == ["enter", "leave"]


async def test_the_dashboards_live_task_stops_when_the_session_closes(
    signed_in_pilot: Pilot,
) -> None:
    view = signed_in_pilot.view
    assert view.running_tasks == 1
    await signed_in_pilot.close()
    assert view.running_tasks == 0


# -- the session ends under the user -------------------------------------------------


async def test_a_401_on_a_views_call_sends_the_user_to_sign_in_with_a_notice(
    signed_in_pilot: Pilot, ui_backend: Backend
) -> None:
    pilot = signed_in_pilot
    ui_backend.end_all_sessions()
    await pilot.visit("/sessions")  # SessionsView loads /auth/sessions: 401
    assert isinstance(pilot.view, SignInView)
    assert pilot.route == "/login?next=%2Fsessions"
    assert pilot.find(ft.Text, SESSION_ENDED).visible
    assert not pilot.state.signed_in
    assert pilot.api.session_token is None
    assert pilot.store is not None and pilot.store.token is None


async def test_sign_out_elsewhere_ends_this_session_too(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/sessions", token=ada[1])
    assert isinstance(pilot.view, SessionsView)
    other = await ui_backend.client()
    other.cookies.set("aegis_session", ada[1], domain="aegis.internal")
    assert (await other.post("/api/v1/auth/logout")).status_code == 200
    await pilot.visit("/sessions?again=1")  # the sessions list is loaded again: 401
    assert isinstance(pilot.view, SignInView)
    assert pilot.has_text(SESSION_ENDED)


async def test_the_notice_is_shown_once(signed_in_pilot: Pilot, ui_backend: Backend) -> None:
    pilot = signed_in_pilot
    ui_backend.end_all_sessions()
    await pilot.visit("/sessions")
    assert pilot.has_text(SESSION_ENDED)
    await pilot.visit("/register")
    await pilot.visit("/login")
    assert not pilot.has_text(SESSION_ENDED)


async def test_reconnect_with_a_valid_session_refreshes_the_view(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/sessions", token=ada[1])
    view = pilot.view_as(SessionsView)
    # Only other sessions can be ended from here; this one is just listed.
    assert pilot.find_all(ft.OutlinedButton, "End session") == []
    assert len(pilot.find_all(ft.Text, "This session")) == 1
    # A second device signs in meanwhile.
    device = await ui_backend.client()
    response = await device.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 200
    await pilot.reconnect()
    assert pilot.view is view
    assert len(pilot.find_all(ft.OutlinedButton, "End session")) == 1
    assert pilot.pushed_routes == []


async def test_reconnect_after_the_session_ended_goes_to_sign_in(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/sessions", token=ada[1])
    ui_backend.end_all_sessions()
    await pilot.reconnect()
    assert isinstance(pilot.view, SignInView)
    assert pilot.route == "/login?next=%2Fsessions"
    assert pilot.has_text(SESSION_ENDED)
    assert pilot.pushed_routes == ["/login?next=%2Fsessions"], "one history entry, not two"


async def test_a_session_ending_during_an_outage_redirects_once_the_client_is_back(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    """A 401 seen while the tab reloads must not push into the dead connection."""
    pilot = await make_pilot("/sessions", token=ada[1])
    await pilot.session.disconnect(300)
    await pilot.wait_idle()
    ui_backend.end_all_sessions()
    # What a poll's 401 does during the outage; it must return, not wait on the client.
    await asyncio.wait_for(pilot.router.session_ended(), 5)
    assert pilot.pushed_routes == [], "nothing is sent while nobody listens"
    assert isinstance(pilot.view, SessionsView)
    await pilot.reconnect()
    assert isinstance(pilot.view, SignInView)
    assert pilot.pushed_routes == ["/login?next=%2Fsessions"]
    assert pilot.has_text(SESSION_ENDED)
