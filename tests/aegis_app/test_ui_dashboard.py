"""The dashboard: status banner, component cards, metric charts, and its live task."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import flet as ft
import httpx
import pytest
from pilot import InMemorySessionCookieStore, Pilot, in_process_target
from ui_support import Backend, MakePilot

from aegis_app.target import Target
from aegis_app.views.components import STATUS_STYLE
from aegis_app.views.dashboard import OVERALL_MESSAGE, STALE_OPACITY, DashboardView
from aegis_app.views.sessions import SessionsView
from backend.models import MetricSample, utcnow
from backend.services.scheduler import METRICS_JOB

LIVE = 0.02
"""The live task's period in these tests (seconds)."""
WORDS = {word for _, _, word in STATUS_STYLE.values()}
COMPONENTS = ["API", "Database", "Scheduler", "Host"]


def record_requests(pilot: Pilot) -> list[str]:
    """The path of every request the pilot's API client sends from now on."""
    paths: list[str] = []

    async def hook(request: httpx.Request) -> None:
        paths.append(request.url.path)

    pilot.api.http.event_hooks["request"].append(hook)
    return paths


def status_calls(paths: list[str]) -> int:
    return sum(1 for path in paths if path.endswith("/system/status"))


async def periods(count: int) -> None:
    """Let the live task have ``count`` chances to run."""
    await asyncio.sleep(LIVE * count)


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DashboardView, "refresh_seconds", LIVE)


@pytest.fixture
async def dashboard(live: None, signed_in_pilot: Pilot) -> Pilot:
    assert isinstance(signed_in_pilot.view, DashboardView)
    return signed_in_pilot


# -- what it shows -------------------------------------------------------------------


async def test_banner_says_the_overall_status_in_words(signed_in_pilot: Pilot) -> None:
    view = signed_in_pilot.view_as(DashboardView)
    text = view.banner_text.value or ""
    word, _, message = text.partition(". ")
    assert word in WORDS - {"Unknown"}, text
    assert message in OVERALL_MESSAGE.values(), text
    overall = next(key for key, (_, _, w) in STATUS_STYLE.items() if w == word)
    assert view.banner_icon.color == STATUS_STYLE[overall][1]
    assert view.banner_text.color == STATUS_STYLE[overall][1]
    assert OVERALL_MESSAGE[overall] == message
    assert text != "Checking…"


async def test_one_card_per_component_with_its_status_word(signed_in_pilot: Pilot) -> None:
    pilot = signed_in_pilot
    view = pilot.view_as(DashboardView)
    assert len(view.cards.controls) == 4
    for name, card in zip(COMPONENTS, view.cards.controls, strict=True):
        texts = [t for c in _walk(card) for t in _texts(c)]
        assert texts[0] == name, texts
        assert (WORDS - {"Unknown"}) & set(texts), f"{name} has no status word: {texts}"
        assert any(len(t) > 10 for t in texts[2:]), f"{name} gives no reason: {texts}"
    # The scheduler card lists its jobs with when they last ran.
    scheduler = [t for c in _walk(view.cards.controls[2]) for t in _texts(c)]
    assert any("last run" in t for t in scheduler), scheduler


async def test_charts_get_points_from_the_metric_history(
    make_pilot: MakePilot, backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    now = utcnow()
    with backend.app.state.session_factory() as db:
        db.add_all(
            [
                MetricSample(
                    at=now - timedelta(minutes=30),
                    cpu_percent=11.0,
                    memory_percent=41.0,
                    api_latency_ms=None,  # the API did not answer: a gap, not a zero
                    db_latency_ms=3.5,
                    instance=backend.app.state.instance_id,
                ),
                MetricSample(
                    at=now - timedelta(minutes=20),
                    cpu_percent=22.0,
                    memory_percent=42.0,
                    api_latency_ms=180.0,
                    db_latency_ms=4.5,
                    instance=backend.app.state.instance_id,
                ),
            ]
        )
        db.commit()
    pilot = await make_pilot("/", token=ada[1])
    view = pilot.view_as(DashboardView)
    for key, chart in view.charts.items():
        points = chart.series.points
        assert points, f"{key} chart is empty"
        assert all(p.x <= 0 for p in points), "x is minutes before now"
        values = [p.y for p in points]
        assert chart.latest.value == f"{values[-1]:.1f} {chart.unit}"
    cpu, memory = view.charts["cpu_percent"], view.charts["memory_percent"]
    assert [p.y for p in cpu.series.points][:2] == [11.0, 22.0]
    assert [p.y for p in memory.series.points][:2] == [41.0, 42.0]
    assert cpu.chart.max_y == 100.0, "percent charts are fixed at 100"
    assert cpu.chart.min_x == pytest.approx(-30, abs=0.2), "the span is the data there is"
    assert cpu.series.points[0].x == pytest.approx(-30, abs=0.2)
    api = view.charts["api_latency_ms"]
    assert api.series.points[0].y == 180.0, "the sample without an API latency is skipped"
    assert api.chart.max_y is not None and api.chart.max_y >= 180.0
    assert [p.y for p in view.charts["db_latency_ms"].series.points][:2] == [3.5, 4.5]


async def test_without_history_the_charts_say_so(
    make_pilot: MakePilot, backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    # The sampler runs once as the backend starts, then every metrics_interval_seconds
    # (5 s, longer than this test): let that first sample land, then take it away.
    sampler = backend.app.state.scheduler.job(METRICS_JOB)
    async with asyncio.timeout(10):
        while sampler.runs == 0:
            await asyncio.sleep(0.01)
    with backend.app.state.session_factory() as db:
        db.query(MetricSample).delete()
        db.commit()
    pilot = await make_pilot("/", token=ada[1])
    view = pilot.view_as(DashboardView)
    for chart in view.charts.values():
        assert chart.series.points == []
        assert chart.latest.value == "no data yet"


# -- the live task -------------------------------------------------------------------


async def test_the_live_task_refreshes_the_page(dashboard: Pilot) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    assert view.running_tasks == 1
    paths = record_requests(pilot)
    view.updated.value = ""
    frames = len(pilot.conn.frames)
    await pilot.wait_for(lambda: status_calls(paths) >= 2)
    assert any(p.endswith("/system/metrics") for p in paths)
    await pilot.wait_for(lambda: (view.updated.value or "").startswith("Updated "))
    await pilot.wait_for(lambda: len(pilot.conn.frames) > frames)  # pushed to the client
    assert view.running_tasks == 1, "still live"


async def test_no_refresh_while_disconnected_and_resumes_after_reconnect(
    dashboard: Pilot,
) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    paths = record_requests(pilot)
    await pilot.wait_for(lambda: status_calls(paths) >= 1)
    await pilot.session.disconnect(300)
    await pilot.wait_idle()
    assert pilot.state.connected is False
    await periods(2)  # a request already under way may still finish
    before = len(paths)
    await periods(10)
    assert len(paths) == before, f"refreshed while disconnected: {paths[before:]}"
    assert view.running_tasks == 1, "paused, not stopped"
    await pilot.reconnect()
    assert pilot.state.connected is True
    assert pilot.view is view
    after_reconnect = len(paths)
    assert after_reconnect > before, "the reconnect itself reloads"
    await pilot.wait_for(lambda: status_calls(paths[after_reconnect:]) >= 2)


async def test_leaving_the_dashboard_stops_its_live_task(dashboard: Pilot) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    paths = record_requests(pilot)
    await pilot.wait_for(lambda: status_calls(paths) >= 1)
    await pilot.visit("/sessions")
    assert isinstance(pilot.view, SessionsView)
    assert view.running_tasks == 0
    await periods(2)
    before = status_calls(paths)
    await periods(10)
    assert status_calls(paths) == before, "the old dashboard still polls"


async def test_closing_the_session_cancels_the_task_and_closes_the_client(
    live: None, make_pilot: MakePilot, ada: tuple[dict[str, Any], str]
) -> None:
    before = asyncio.all_tasks()
    pilot = await make_pilot("/", token=ada[1])
    view = pilot.view_as(DashboardView)
    http = pilot.api.http
    paths = record_requests(pilot)
    await pilot.wait_for(lambda: status_calls(paths) >= 1)
    await pilot.close()
    assert view.running_tasks == 0
    assert http.is_closed
    assert pilot.router.current is None
    count = len(paths)
    await periods(10)
    assert len(paths) == count, "a request after the session closed"
    left = {
        task
        for task in asyncio.all_tasks() - before
        if not task.done() and task is not asyncio.current_task()
    }
    assert not left, f"tasks outlived the session: {left}"


async def test_a_failing_refresh_shows_the_error_and_keeps_trying(
    dashboard: Pilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    paths = record_requests(pilot)
    backend_down = httpx.ConnectError("connection refused")

    async def refuse(request: httpx.Request) -> None:
        raise backend_down

    pilot.api.http.event_hooks["request"].append(refuse)
    await pilot.wait_for(lambda: view.error_text.visible)
    assert "Cannot reach the Aegis server" in (view.error_text.value or "")
    assert view.running_tasks == 1, "an unreachable server does not stop the task"
    pilot.api.http.event_hooks["request"].remove(refuse)
    count = status_calls(paths)
    await pilot.wait_for(lambda: status_calls(paths) > count + 1 and not view.error_text.visible)


async def test_a_disconnect_during_the_first_load_is_no_crash_and_it_goes_live_on_reconnect(
    live: None, backend: Backend, ada: tuple[dict[str, Any], str], caplog: pytest.LogCaptureFixture
) -> None:
    """The tab reloads (or the network blips) while the dashboard is still loading."""
    loading, finish_loading = asyncio.Event(), asyncio.Event()

    async def hold_the_first_status_request(request: httpx.Request) -> None:
        if request.url.path.endswith("/system/status") and not finish_loading.is_set():
            loading.set()
            await finish_loading.wait()

    store = InMemorySessionCookieStore(ada[1])
    base = in_process_target(backend.app, store)

    def new_http_client(page: ft.Page) -> httpx.AsyncClient:
        client = base.new_http_client(page)
        client.event_hooks["request"].append(hold_the_first_status_request)
        return client

    pilot = Pilot(Target("web", new_http_client, base.new_cookie_store), store=store)
    starting = asyncio.create_task(pilot.start())
    try:
        await asyncio.wait_for(loading.wait(), 5)
        await pilot.session.disconnect(300)  # the client goes away mid-load
        finish_loading.set()
        await starting  # main() runs to its end
        view = pilot.view_as(DashboardView)
        assert "unhandled error in main()" not in caplog.text
        assert (view.running_tasks, view.waiting_tasks) == (0, 1), "nobody to refresh for"

        await pilot.reconnect()
        assert pilot.view is view
        assert (view.running_tasks, view.waiting_tasks) == (1, 0), "live again"
        paths = record_requests(pilot)
        view.updated.value = ""
        frames = len(pilot.conn.frames)
        await pilot.wait_for(lambda: status_calls(paths) >= 2)
        await pilot.wait_for(lambda: (view.updated.value or "").startswith("Updated "))
        await pilot.wait_for(lambda: len(pilot.conn.frames) > frames)  # reaches the client
        banner = view.banner_text.value or ""
        assert banner.split(".")[0] in WORDS, f"no status shown: {banner!r}"
    finally:
        finish_loading.set()
        await pilot.close()
    assert not pilot.conn.crashes


# -- several instances, and a database outage ----------------------------------------

OTHER = "web2:4242:0a0b0c"
"""Another instance on the same database (ids are ``host:pid:random``)."""


def choose(pilot: Pilot, dropdown: ft.Dropdown, key: str) -> asyncio.Task[Any]:
    """Pick an option, as the client does: the new value, then ``select``."""
    pilot.conn.update_props(dropdown._i, {"value": key})
    return pilot.conn.event(dropdown._i, "select", key)


async def test_the_dashboard_says_whose_figures_and_offers_the_other_instances(
    dashboard: Pilot, backend: Backend
) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    me = backend.app.state.instance_id
    await pilot.wait_for(lambda: bool(view.chart_source.value))
    assert view.chart_source.value == (
        f"Figures from instance {me} (host {socket.gethostname()}), the one serving this page."
    )
    assert view.status_source.value == (
        f"Status of instance {me} (host {socket.gethostname()}), the one serving this page."
    )
    assert not view.instance_picker.visible, "one instance: nothing to pick"

    now = utcnow()
    with backend.app.state.session_factory() as db:
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
    await pilot.wait_for(lambda: view.instance_picker.visible)
    assert "2 instances reported in the last hour" in (view.chart_source.value or "")
    options = {o.key: o.text for o in view.instance_picker.options}
    assert options == {me: f"{me} (this page)", OTHER: OTHER}
    assert view.instance_picker.value == me
    assert 77.0 not in [p.y for p in view.charts["cpu_percent"].series.points]

    await choose(pilot, view.instance_picker, OTHER)
    await pilot.wait_idle()
    assert view.chart_instance == OTHER
    assert (view.chart_source.value or "").startswith(f"Figures from instance {OTHER} (host web2).")
    assert [p.y for p in view.charts["cpu_percent"].series.points] == [77.0, 77.0]
    # The live refresh keeps to the pick; the status still describes this instance.
    paths = record_requests(pilot)
    await pilot.wait_for(lambda: status_calls(paths) >= 2)
    assert view.chart_instance == OTHER and view.instance_picker.value == OTHER
    assert [p.y for p in view.charts["cpu_percent"].series.points] == [77.0, 77.0]
    assert me in (view.status_source.value or "")


@contextmanager
def database_gone(backend: Backend) -> Iterator[None]:
    """The SQLite file taken away, a directory in its place: SQLite cannot open it, as
    with a missing volume. Put back as it was at the end."""
    path = backend.settings.resolved_data_dir / "aegis.db"
    aside = path.with_name("aegis.db.away")
    path.rename(aside)
    path.mkdir()
    try:
        yield
    finally:
        path.rmdir()
        aside.rename(path)


async def test_a_database_outage_shows_a_banner_and_keeps_the_last_figures(
    dashboard: Pilot, backend: Backend
) -> None:
    pilot = dashboard
    view = pilot.view_as(DashboardView)
    cpu = view.charts["cpu_percent"]
    await pilot.wait_for(lambda: bool(cpu.series.points) and len(view.cards.controls) == 4)
    assert not view.outage.visible

    with database_gone(backend):
        frames = len(pilot.conn.frames)
        await pilot.wait_for(lambda: view.outage.visible, timeout=10)
        message = view.outage_text.value or ""
        assert message.startswith("The database"), message
        updated, last_success = view.updated.value or "", view.last_success
        assert last_success is not None
        note = view.outage_note.value or ""
        assert note.startswith(f"The figures below are from {updated.removeprefix('Updated ')}")
        assert not view.error_text.visible, "said once, in the banner"
        assert view.figures.opacity == STALE_OPACITY, "the kept figures are shown as stale"
        cards, points = list(view.cards.controls), list(cpu.series.points)
        await pilot.wait_for(lambda: any(message.encode() in f for f in pilot.conn.frames[frames:]))
        paths = record_requests(pilot)
        await pilot.wait_for(lambda: status_calls(paths) >= 2)  # still failing, still trying
        assert view.outage.visible and view.updated.value == updated
        assert view.cards.controls == cards and cpu.series.points == points, "figures kept"
        assert pilot.route == "/" and pilot.state.user is not None, "still signed in"

    await pilot.wait_for(lambda: not view.outage.visible, timeout=10)
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


def test_a_refresh_reuses_the_points_already_drawn() -> None:
    """Only new and dropped points change; the rest keep their control (and their x)."""
    from datetime import UTC, datetime, timedelta

    from aegis_app.views.components import MetricChart

    chart = MetricChart("CPU", "%", "indigo", window_minutes=60)
    start = datetime.now(UTC) - timedelta(minutes=10)
    first = [(start + timedelta(seconds=30 * i), float(i)) for i in range(20)]
    chart.show(first, start + timedelta(minutes=10), fixed_max=100.0)
    drawn = list(chart.series.points)
    later = [*first[1:], (start + timedelta(seconds=600), 99.0)]
    chart.show(later, start + timedelta(minutes=10, seconds=30), fixed_max=100.0)
    points = chart.series.points
    assert len(points) == 20
    assert all(a is b for a, b in zip(points[:19], drawn[1:], strict=True))
    assert points[-1] not in drawn and points[-1].y == 99.0
    assert chart.chart.max_x == pytest.approx(chart.minutes(start + timedelta(minutes=10.5)))
    assert chart.latest.value == "99.0 %"
