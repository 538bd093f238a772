"""The dashboard: status banner, component cards, charts, and its live feed."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import flet as ft
import httpx
import pytest

from aegis_app.views.chart_images import SERIES
from aegis_app.views.components import STATUS_STYLE
from aegis_app.views.dashboard import STALE_OPACITY, DashboardView
from aegis_app.views.live_figures import OVERALL_MESSAGE, READINGS
from aegis_app.views.sessions import SessionsView
from backend.models import MetricSample, utcnow
from backend.services.live_hub import LiveHub
from tests.aegis_app.pilot import InMemorySessionCookieStore, Pilot, in_process_target
from tests.aegis_app.ui_support import Backend, MakeBackend, MakePilot
from tests.waiting import wait_for

WORDS = {word for _, _, word in STATUS_STYLE.values()}
COMPONENTS = ["API", "Database", "Scheduler", "Host"]


def hub_of(backend: Backend) -> LiveHub:
    hub: LiveHub = backend.app.state.live_hub
    return hub


async def shown(pilot: Pilot) -> DashboardView:
    """The dashboard, once its first reading is on screen."""
    view = pilot.view_as(DashboardView)
    await wait_for(lambda: view.latest is not None, 10, what="the first reading")
    return view


async def next_reading(pilot: Pilot, view: DashboardView) -> None:
    """Until a reading newer than the one shown now has arrived."""
    current = view.latest
    await wait_for(lambda: view.latest is not current, 10, what="a newer reading")


@pytest.fixture
async def dashboard(signed_in_pilot: Pilot) -> Pilot:
    await shown(signed_in_pilot)
    return signed_in_pilot


# -- what it shows -------------------------------------------------------------------


async def test_banner_says_the_overall_status_in_words(dashboard: Pilot) -> None:
    view = dashboard.view_as(DashboardView)
    text = view.banner_text.value or ""
    word, _, message = text.partition(". ")
    assert word in WORDS - {"Unknown"}, text
    assert message in OVERALL_MESSAGE.values(), text
    overall = next(key for key, (_, _, w) in STATUS_STYLE.items() if w == word)
    assert view.banner_icon.color == STATUS_STYLE[overall][1]
    assert view.banner_text.color == STATUS_STYLE[overall][1]
    assert OVERALL_MESSAGE[overall] == message
    assert text != "Checking…"


async def test_one_card_per_component_with_its_status_word(dashboard: Pilot) -> None:
    view = dashboard.view_as(DashboardView)
    assert list(view.cards) == COMPONENTS
    for name, card in view.cards.items():
        heading, reason, *_ = (card.text.value or "").splitlines()
        assert heading.startswith(f"### {name} "), heading
        assert heading.split()[-1] in WORDS - {"Unknown"}, f"{name} has no status word: {heading}"
        assert len(reason) > 10, f"{name} gives no reason: {reason}"
        status_colour = next(c for _, c, w in STATUS_STYLE.values() if w == heading.split()[-1])
        assert card.control.border is not None and card.control.border.top.color == status_colour
    assert "last run" in (view.cards["Scheduler"].text.value or "")


async def test_charts_are_drawn_from_the_metric_history_with_the_figures_in_words(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    now = utcnow()
    with ui_backend.app.state.session_factory() as db:
        db.add_all(
            [
                MetricSample(
                    at=now - timedelta(minutes=30),
                    cpu_percent=11.0,
                    memory_percent=41.0,
                    api_latency_ms=None,  # the API did not answer: a gap, not a zero
                    db_latency_ms=3.5,
                    instance=ui_backend.app.state.instance_id,
                ),
                MetricSample(
                    at=now - timedelta(minutes=20),
                    cpu_percent=22.0,
                    memory_percent=42.0,
                    api_latency_ms=180.0,
                    db_latency_ms=4.5,
                    instance=ui_backend.app.state.instance_id,
                ),
            ]
        )
        db.commit()
    pilot = await make_pilot("/", token=ada[1])
    view = await shown(pilot)
    for card, series in zip(view.charts, SERIES, strict=True):
        svg = card.image.src
        assert isinstance(svg, bytes) and svg.startswith(b"<svg") and b"<polyline" in svg
        assert card.image.visible
        summary = card.summary
        # The span is the data there is; the API's oldest sample had no latency: a gap.
        span = "20" if series.key == "api_latency_ms" else "30"
        assert summary.startswith(f"{series.title} over the last {span} minutes: now "), summary
        assert f">{escape(summary)}</text>".encode() in svg, "the words are drawn under the chart"
    highest = re.search(r"highest ([\d.]+) ms", view.charts[2].summary)
    assert highest is not None and float(highest.group(1)) >= 180.0
    # The newest value may be the scheduler's own sample rather than the 4.5 stored above,
    # so the header is held to the "now" of the words beside it, not to any " ms" text.
    newest = re.search(r": now ([\d.]+ ms),", view.charts[3].summary)
    assert newest is not None, view.charts[3].summary
    drawn = view.charts[3].image.src
    assert isinstance(drawn, bytes) and f">{newest.group(1)}</text>".encode() in drawn, (
        "the newest value is drawn in the chart's header"
    )


async def test_a_dark_theme_gets_the_dark_drawing(dashboard: Pilot) -> None:
    view = dashboard.view_as(DashboardView)
    reading = view.latest
    assert reading is not None
    assert view.charts[0].image.src is reading.charts[0].light_svg
    dashboard.page.theme_mode = ft.ThemeMode.DARK
    await next_reading(dashboard, view)
    assert view.latest is not None
    assert view.charts[0].image.src is view.latest.charts[0].dark_svg


# -- live ----------------------------------------------------------------------------


async def test_a_dashboard_opened_after_a_reading_has_its_cards_at_once(
    dashboard: Pilot, make_pilot: MakePilot, ada: tuple[dict[str, Any], str]
) -> None:
    second = await make_pilot("/", token=ada[1])
    view = second.view_as(DashboardView)
    built = list(view.cards.values())
    assert list(view.cards) == COMPONENTS
    await shown(second)
    assert list(view.cards.values()) == built, "the first reading rebuilt the cards"
    assert all(card.text.value for card in built), "a card without its words"


async def test_readings_are_pushed_and_set_values_without_rebuilding(dashboard: Pilot) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    assert view.running_tasks == 1
    cards = {name: card.control for name, card in view.cards.items()}
    images = [card.image for card in view.charts]
    view.updated.value = ""
    frames = len(pilot.conn.frames)
    await next_reading(pilot, view)
    await wait_for(
        lambda: (view.updated.value or "").startswith("Updated "),
        2,
        what="the reading's time on screen",
    )
    await wait_for(
        lambda: len(pilot.conn.frames) > frames, 2, what="the reading sent to the client"
    )  # pushed to the client
    assert {name: card.control for name, card in view.cards.items()} == cards, "kept"
    assert [card.image for card in view.charts] == images, "the same image controls"
    assert view.running_tasks == 1, "still live"


async def test_many_dashboards_share_one_computation_and_one_drawing_per_period(
    make_backend: MakeBackend, tmp_path: Path
) -> None:
    period = 0.4
    backend = await make_backend(live_period_seconds=period)
    _, token = await backend.register()
    hub = hub_of(backend)
    pilots = []
    for _ in range(5):
        store = InMemorySessionCookieStore(token)
        pilot = Pilot(in_process_target(backend.app, store), route="/", store=store)
        pilots.append(await pilot.start())
    try:
        views = [await shown(pilot) for pilot in pilots]
        computed, decoded, started = hub.computations, READINGS.decoded, time.monotonic()
        for _ in range(3):
            await asyncio.gather(*(next_reading(p, v) for p, v in zip(pilots, views, strict=True)))
        computations = hub.computations - computed
        elapsed = time.monotonic() - started
        assert computations >= 3
        # One per period whatever the number of viewers (per viewer it would be 15+).
        assert computations <= elapsed / period + 2, (computations, elapsed)
        # Once each (one reading may have been computed before the count began).
        assert READINGS.decoded - decoded <= computations + 1, "a reading decoded twice"
        assert hub.subscriber_count == 5
        assert len({id(view.latest) for view in views}) <= 2, "viewers share the decoded reading"
    finally:
        for pilot in pilots:
            await pilot.close()


async def test_no_push_while_disconnected_and_the_newest_shown_after_reconnect(
    dashboard: Pilot,
) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    await pilot.session.disconnect(300)
    await pilot.wait_idle()
    assert pilot.state.connected is False
    # Blanked, as "Updated HH:MM:SS" reads the same for every reading within a second
    # (the period here is 50 ms): a drawn reading must show.
    view.updated.value = shown_text = ""
    drawn_at = view.last_success
    await next_reading(pilot, view)
    await next_reading(pilot, view)
    assert view.updated.value == shown_text, "a reading was drawn for nobody"
    assert view.last_success == drawn_at, "a reading was drawn for nobody"
    assert view.running_tasks == 1, "still following the feed"
    await pilot.reconnect()
    assert pilot.state.connected is True and pilot.view is view
    await wait_for(lambda: view.updated.value != shown_text, 2, what="a newer reading on screen")


async def test_leaving_the_dashboard_unsubscribes(dashboard: Pilot, ui_backend: Backend) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    hub = hub_of(ui_backend)
    assert hub.subscriber_count == 1
    await pilot.visit("/sessions")
    assert isinstance(pilot.view, SessionsView)
    assert view.running_tasks == 0
    await wait_for(
        lambda: hub.subscriber_count == 0, 2, what="the live feed to lose its subscriber"
    )


async def test_closing_the_session_unsubscribes_and_leaves_no_task(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    before = asyncio.all_tasks()
    pilot = await make_pilot("/", token=ada[1])
    view = await shown(pilot)
    http = pilot.api.http
    hub = hub_of(ui_backend)
    await pilot.close()
    assert view.running_tasks == 0
    assert http.is_closed
    assert pilot.router.current is None
    await wait_for(
        lambda: hub.subscriber_count == 0, 2, what="the live feed to lose its subscriber"
    )

    def left() -> set[asyncio.Task[Any]]:
        return {
            task
            for task in asyncio.all_tasks() - before
            if not task.done() and task is not asyncio.current_task()
        }

    await wait_for(lambda: not left(), 2, what="every task of the session to end")


async def test_a_session_ended_elsewhere_stops_the_feed_and_goes_to_sign_in(
    dashboard: Pilot, ui_backend: Backend
) -> None:
    pilot = dashboard
    hub = hub_of(ui_backend)
    view = pilot.view_as(DashboardView)
    ui_backend.end_all_sessions()  # revoked by an admin, or signed out everywhere
    await wait_for(
        lambda: hub.subscriber_count == 0, 10, what="the live feed to lose its subscriber"
    )
    await wait_for(
        lambda: view.running_tasks == 0, 2, what="the view's tasks to end"
    )  # the feed ended, the view left
    await wait_for(lambda: pilot.route.startswith("/login"), 10, what="the sign-in page")
    assert pilot.state.user is None


async def test_a_broken_stream_shows_the_error_and_comes_back(
    dashboard: Pilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    monkeypatch.setattr(view, "retry_seconds", 0.05)
    backend_down = httpx.ConnectError("connection refused")

    async def refuse(request: httpx.Request) -> None:
        raise backend_down

    pilot.api.http.event_hooks["request"].append(refuse)
    sent_before = len(pilot.conn.frames)
    view.cancel_tasks()  # the stream open now breaks; a new one is refused
    view.start_task(view._stay_live)
    await wait_for(lambda: view.error_text.visible, 2, what="the error shown")
    assert "Cannot reach the Aegis server" in (view.error_text.value or "")
    sent = b"".join(pilot.conn.frames[sent_before:])
    assert b"Cannot reach the Aegis server" in sent, "the words never reached the client"
    assert view.running_tasks == 1, "an unreachable server does not stop the task"
    pilot.api.http.event_hooks["request"].remove(refuse)
    await next_reading(pilot, view)
    await wait_for(lambda: not view.error_text.visible, 2, what="the error to clear")


# -- several instances, and a database outage ----------------------------------------

OTHER = "web2:4242:0a0b0c"
"""Another instance on the same database (ids are ``host:pid:random``)."""


def choose(pilot: Pilot, dropdown: ft.Dropdown, key: str) -> asyncio.Task[Any]:
    """Pick an option, as the client does: the new value, then ``select``."""
    pilot.conn.update_props(dropdown._i, {"value": key})
    return pilot.conn.event(dropdown._i, "select", key)


async def test_the_dashboard_says_whose_figures_and_offers_the_other_instances(
    dashboard: Pilot, ui_backend: Backend
) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    me = ui_backend.app.state.instance_id
    await wait_for(lambda: bool(view.chart_source.value), 2, what="the figures' source")
    assert view.chart_source.value == (
        f"Figures from instance {me} (host {socket.gethostname()}), the one serving this page."
    )
    assert view.status_source.value == (
        f"Status of instance {me} (host {socket.gethostname()}), the one serving this page."
    )
    assert view.instance_picker is None, "one instance: nothing to pick, and no picker built"

    now = utcnow()
    with ui_backend.app.state.session_factory() as db:
        db.add_all(
            MetricSample(
                at=now - timedelta(minutes=m),
                cpu_percent=77.0,
                memory_percent=33.0,
                api_latency_ms=2.0,
                db_latency_ms=1.0,
                instance=OTHER,
            )
            for m in (12, 6)
        )
        db.commit()
    await wait_for(
        lambda: view.instance_picker is not None and bool(view.instance_picker.visible),
        10,
        what="the instance picker",
    )
    picker = view.instance_picker
    assert picker is not None
    assert "2 instances reported in the last hour" in (view.chart_source.value or "")
    options = {o.key: o.text for o in picker.options}
    assert options == {me: f"{me} (this page)", OTHER: OTHER}
    assert picker.value == me
    assert "now 77.0 %" not in view.charts[0].summary

    await choose(pilot, picker, OTHER)
    await wait_for(
        lambda: (view.chart_source.value or "").startswith(f"Figures from instance {OTHER}"),
        10,
        what="the figures of the picked instance",
    )
    assert view.chart_instance == OTHER
    assert (view.chart_source.value or "").startswith(f"Figures from instance {OTHER} (host web2).")
    assert "now 77.0 %, average 77.0 %" in view.charts[0].summary
    # The live feed keeps to the pick; the status still describes this instance.
    await next_reading(pilot, view)
    assert view.chart_instance == OTHER and picker.value == OTHER
    assert "now 77.0 %" in view.charts[0].summary
    assert me in (view.status_source.value or "")


def failed_periods(caplog: pytest.LogCaptureFixture) -> int:
    """The periods the live hub could not make a reading for, as it logged them."""
    return sum(
        1 for r in caplog.records if r.name == "aegis.live" and "live reading failed" in r.message
    )


async def test_a_database_outage_shows_a_banner_and_keeps_the_last_figures(
    dashboard: Pilot, ui_backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aegis.live")
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    cpu = view.charts[0]
    await wait_for(
        lambda: view.latest is not None and len(view.cards) == 4,
        2,
        what="the charts and the four cards",
    )
    assert view.outage is None, "no outage: no banner built"

    def outage_shown() -> bool:
        return view.outage is not None and bool(view.outage.control.visible)

    with ui_backend.database_gone():
        frames = len(pilot.conn.frames)
        await wait_for(outage_shown, 10, what="the outage banner")
        assert view.outage is not None
        outage = view.outage
        message = outage.text.value or ""
        assert message.startswith("The database"), message
        updated, last_success = view.updated.value or "", view.last_success
        assert last_success is not None
        note = outage.note.value or ""
        assert note.startswith(f"The figures below are from {updated.removeprefix('Updated ')}")
        assert not view.error_text.visible, "said once, in the banner"
        assert view.figures.opacity == STALE_OPACITY, "the kept figures are shown as stale"
        image = cpu.image.src
        await wait_for(
            lambda: any(message.encode() in f for f in pilot.conn.frames[frames:]),
            2,
            what="the outage message sent to the client",
        )
        # Nothing more happens: the hub says so for every period it could not read,
        # so wait for the next such period, then check no reading came of it.
        computed, failures = hub_of(ui_backend).computations, failed_periods(caplog)
        await wait_for(
            lambda: failed_periods(caplog) > failures, 10, what="another period without a reading"
        )
        assert hub_of(ui_backend).computations == computed, "no reading"
        assert outage_shown() and view.updated.value == updated
        assert cpu.image.src is image, "figures kept"
        assert pilot.route == "/" and pilot.state.user is not None, "still signed in"

    await wait_for(lambda: not outage_shown(), 10, what="the outage banner to clear")
    assert view.last_success is not None and view.last_success > last_success, "refreshed"
    assert not view.error_text.visible and view.figures.opacity == 1.0
    assert view.running_tasks == 1


# -- helpers -------------------------------------------------------------------------


def _walk(control: ft.BaseControl) -> list[ft.BaseControl]:
    found = [control]
    for name in ("content", "controls"):
        value = getattr(control, name, None)
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ft.BaseControl):
                found += _walk(child)
    return found


def _texts(control: ft.BaseControl) -> list[str]:
    if isinstance(control, ft.Text) and control.value:
        return [control.value]
    return []
