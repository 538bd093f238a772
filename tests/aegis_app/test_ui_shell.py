"""The shell around signed-in views: rail or narrow menu, and the admin-only guards."""

from __future__ import annotations

import asyncio
from typing import Any

import flet as ft
import httpx
import msgpack
import pytest
from flet.controls.object_patch import DiffBuilder
from flet.messaging.protocol import ClientAction, decode_ext_from_msgpack

from aegis_app.views.audit import AuditView
from aegis_app.views.dashboard import DashboardView
from aegis_app.views.not_found import NotAllowedView
from aegis_app.views.sessions import SessionsView
from aegis_app.views.settings import SettingsView
from aegis_app.views.shell import NARROW_BELOW
from aegis_app.views.users import UsersView
from backend.core.config import API_PREFIX, SESSION_COOKIE
from tests.aegis_app.pilot import Pilot
from tests.aegis_app.ui_support import PASSWORD, Backend, MakePilot

ADMIN_ENTRIES = ["Dashboard", "Sessions", "Users", "Audit log", "Settings"]
VIEWER_ENTRIES = ["Dashboard", "Sessions", "Settings"]
VIEWER = {"email": "vic@example.com", "full_name": "Vic Viewer", "role": "viewer"}


async def resize(pilot: Pilot, width: float, height: float = 800.0) -> None:
    """What the client does when its window changes size (flet 0.82, ``updatePageSize``):
    the page's new ``width``/``height`` props, then a page ``resize`` event with both."""
    size = {"width": width, "height": height}
    pilot.conn.update_props(pilot.page._i, size)
    pilot.conn.event(pilot.page._i, "resize", size)
    await pilot.wait_idle()


def rail(pilot: Pilot) -> ft.NavigationRail | None:
    found = pilot.find_all(ft.NavigationRail)
    assert len(found) <= 1
    return found[0] if found else None


def rail_labels(pilot: Pilot) -> list[str]:
    navigation = rail(pilot)
    assert navigation is not None, "no navigation rail"
    return [str(d.label) for d in navigation.destinations]


def menu(pilot: Pilot) -> ft.PopupMenuButton | None:
    found = pilot.find_all(ft.PopupMenuButton)
    assert len(found) <= 1
    return found[0] if found else None


def menu_labels(pilot: Pilot) -> list[str]:
    button = menu(pilot)
    assert button is not None, "no menu"
    return [str(item.content) for item in button.items]


async def viewer_token(backend: Backend, admin_token: str) -> str:
    """The admin creates a viewer account (POST /users); the viewer signs in."""
    admin = await backend.client()
    admin.cookies.set(SESSION_COOKIE, admin_token, domain="aegis.internal")
    created = await admin.post(f"{API_PREFIX}/users", json={**VIEWER, "password": PASSWORD})
    assert created.status_code == 201, created.text
    device = await backend.client()
    login = {"email": VIEWER["email"], "password": PASSWORD}
    assert (await device.post(f"{API_PREFIX}/auth/login", json=login)).status_code == 200
    return device.cookies[SESSION_COOKIE]


def record_requests(pilot: Pilot) -> list[str]:
    paths: list[str] = []

    async def hook(request: httpx.Request) -> None:
        paths.append(request.url.path)

    pilot.api.http.event_hooks["request"].append(hook)
    return paths


@pytest.fixture
async def viewer(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> Pilot:
    pilot = await make_pilot("/", token=await viewer_token(ui_backend, ada[1]))
    assert pilot.state.user is not None and not pilot.state.user.is_admin
    return pilot


# -- the rail ------------------------------------------------------------------------


async def test_an_admin_sees_every_page_in_the_rail(signed_in_pilot: Pilot) -> None:
    pilot = signed_in_pilot
    assert rail_labels(pilot) == ADMIN_ENTRIES
    navigation = rail(pilot)
    assert navigation is not None and navigation.selected_index == 0
    assert menu(pilot) is None, "no menu while wide"
    assert pilot.has_text("Administrator")


async def test_the_rail_marks_the_current_page_and_navigates(signed_in_pilot: Pilot) -> None:
    pilot = signed_in_pilot
    navigation = rail(pilot)
    assert navigation is not None
    # The client updates selected_index, then sends "change".
    pilot.conn.update_props(navigation._i, {"selected_index": 3})
    pilot.conn.event(navigation._i, "change", 3)
    await pilot.wait_idle()
    assert isinstance(pilot.view, AuditView)
    assert pilot.route == "/audit"
    assert pilot.pushed_routes == ["/audit"]
    assert rail(pilot) is navigation and navigation.selected_index == 3, "the same rail"


@pytest.mark.parametrize(
    ("route", "view_class", "index"),
    [("/sessions", SessionsView, 1), ("/users", UsersView, 2), ("/settings", SettingsView, 4)],
)
async def test_each_page_is_selected_in_the_rail(
    make_pilot: MakePilot,
    ada: tuple[dict[str, Any], str],
    route: str,
    view_class: type,
    index: int,
) -> None:
    pilot = await make_pilot(route, token=ada[1])
    assert isinstance(pilot.view, view_class)
    navigation = rail(pilot)
    assert navigation is not None and navigation.selected_index == index


# -- a viewer ------------------------------------------------------------------------


async def test_a_viewer_sees_no_admin_pages_in_the_rail(viewer: Pilot) -> None:
    assert isinstance(viewer.view, DashboardView)
    assert rail_labels(viewer) == VIEWER_ENTRIES
    assert viewer.find_all(ft.Text, "Viewer"), "the top bar names the role"
    assert not viewer.has_text("Administrator")


@pytest.mark.parametrize("route", ["/users", "/audit", "/users?offset=25"])
async def test_a_viewer_is_told_admin_pages_are_not_allowed(viewer: Pilot, route: str) -> None:
    pilot = viewer
    paths = record_requests(pilot)
    await pilot.visit(route)
    assert isinstance(pilot.view, NotAllowedView)
    assert pilot.find(ft.Text, "Not allowed").visible
    assert pilot.has_text("This page is for administrators. Ask one if you need access.")
    assert pilot.page.title == "Not allowed · Aegis"
    assert pilot.route == route, "the address stays; no redirect"
    assert not pilot.view.error_text.visible
    assert not any(p.startswith(f"{API_PREFIX}/users") or "/audit" in p for p in paths), (
        f"the admin page's data was requested: {paths}"
    )
    # Still inside the app: the shell is there, and still without admin entries.
    assert rail_labels(pilot) == VIEWER_ENTRIES
    assert pilot.state.signed_in
    await pilot.click("Go to the dashboard")
    assert isinstance(pilot.view, DashboardView)
    # The recorder does see the app's requests: the "nothing requested" above is not empty
    # for want of listening.
    await pilot.visit("/sessions")
    assert f"{API_PREFIX}/auth/sessions" in paths, paths


async def test_a_viewer_opening_an_admin_page_directly(
    make_pilot: MakePilot, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    pilot = await make_pilot("/audit", token=await viewer_token(ui_backend, ada[1]))
    assert isinstance(pilot.view, NotAllowedView)
    assert pilot.has_text("Not allowed")


# -- narrow windows ------------------------------------------------------------------


async def test_a_narrow_window_folds_the_rail_into_a_menu_and_back(
    signed_in_pilot: Pilot,
) -> None:
    pilot = signed_in_pilot
    view = pilot.view_as(DashboardView)
    body = view.body
    assert rail(pilot) is not None and menu(pilot) is None

    await resize(pilot, NARROW_BELOW - 1)
    assert pilot.page.width == NARROW_BELOW - 1
    assert rail(pilot) is None, "the rail is gone"
    assert pilot.find_all(ft.VerticalDivider) == []
    button = menu(pilot)
    assert button is not None and button.tooltip == "Menu"
    assert menu_labels(pilot) == ADMIN_ENTRIES
    assert [bool(item.checked) for item in button.items] == [True, False, False, False, False]
    assert pilot.view is view and view.body is body, "the view's own controls are kept"
    assert view.running_tasks == 1, "the live dashboard is still live"

    await resize(pilot, 1024)
    assert rail_labels(pilot) == ADMIN_ENTRIES
    assert menu(pilot) is None
    assert pilot.view is view


async def test_the_menu_navigates(signed_in_pilot: Pilot) -> None:
    pilot = signed_in_pilot
    await resize(pilot, 400)
    button = menu(pilot)
    assert button is not None
    (settings,) = [item for item in button.items if item.content == "Settings"]
    await pilot.click(settings)
    assert isinstance(pilot.view, SettingsView)
    assert pilot.route == "/settings"
    assert menu_labels(pilot) == ADMIN_ENTRIES, "a page entered while narrow is framed narrow"
    assert rail(pilot) is None
    assert menu(pilot) is button, "the same menu"
    assert [item.content for item in button.items if item.checked] == ["Settings"]


async def test_a_viewers_menu_has_no_admin_pages(viewer: Pilot) -> None:
    await resize(viewer, 500)
    assert menu_labels(viewer) == VIEWER_ENTRIES


async def test_resizing_toggles_the_navigation_and_never_rebuilds_the_frame(
    signed_in_pilot: Pilot,
) -> None:
    pilot = signed_in_pilot
    (framed,) = pilot.page.views
    wide_rail = rail(pilot)
    await resize(pilot, 1000)
    await resize(pilot, NARROW_BELOW)  # the breakpoint itself is still wide
    await resize(pilot, 500)
    assert rail(pilot) is None and menu(pilot) is not None
    await resize(pilot, 360)
    await resize(pilot, 1200)
    assert pilot.page.views == [framed], "one frame for the whole session"
    assert rail(pilot) is wide_rail, "the same rail, shown again"


async def test_a_rail_click_diffs_the_new_content_and_the_rail_not_the_top_bar(
    signed_in_pilot: Pilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    pilot = signed_in_pilot
    navigation = rail(pilot)
    assert navigation is not None
    (framed,) = pilot.page.views
    top_bar = framed.appbar
    assert top_bar is not None
    visited: list[object] = []
    compare = DiffBuilder._compare_dataclasses

    def counting(self: DiffBuilder, parent: Any, path: Any, src: Any, dst: Any, frozen: Any) -> Any:
        visited.append(dst)
        return compare(self, parent, path, src, dst, frozen)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(DiffBuilder, "_compare_dataclasses", counting)
    pilot.conn.update_props(navigation._i, {"selected_index": 1})
    pilot.conn.event(navigation._i, "change", 1)
    await pilot.wait_idle()
    assert isinstance(pilot.view, SessionsView)
    assert pilot.page.views == [framed] and framed.appbar is top_bar, "the same shell"
    assert navigation in visited, "the rail's selection is sent"
    assert pilot.view.body in visited, "the new content is sent"
    # Entered and left at once (isolated parent) does not count: the top bar's own
    # controls are what a re-diff would visit. The menu is sent: its ticks moved.
    menu_button = menu(pilot) or framed.appbar.leading
    assert menu_button is not None
    skipped = {id(c) for c in [menu_button, *_subtree(menu_button)]}
    top_bar_controls = [c for c in _subtree(top_bar) if id(c) not in skipped]
    assert any(isinstance(c, ft.OutlinedButton) for c in top_bar_controls)
    rediffed = [c for c in visited if any(c is t for t in top_bar_controls)]
    assert not rediffed, f"the top bar was re-diffed: {[type(c).__name__ for c in rediffed]}"


async def test_a_rail_click_is_answered_with_the_title_before_any_view_work(
    signed_in_pilot: Pilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The click's first answer is the window's new title alone: sent before the view
    being left is told to leave and before the new one is built (issue 10's quiet click;
    the content follows in the next frames)."""
    pilot = signed_in_pilot
    navigation = rail(pilot)
    assert navigation is not None and isinstance(pilot.view, DashboardView)
    frames_when_left: list[int] = []
    leave = DashboardView.on_leave
    # A real connection writes what was sent from its own task: the loop must turn
    # between the title and the rest of the work, or the title waits for all of it.
    loop_turned = asyncio.Event()
    send = pilot.conn.send_message

    def sending(message: Any) -> None:
        send(message)
        asyncio.get_running_loop().call_soon(loop_turned.set)

    async def leaving(view: DashboardView) -> None:
        frames_when_left.append(len(pilot.conn.frames))
        assert loop_turned.is_set(), "the title could not reach the wire before the leave"
        await leave(view)

    monkeypatch.setattr(DashboardView, "on_leave", leaving)
    before = len(pilot.conn.frames)
    monkeypatch.setattr(pilot.conn, "send_message", sending)
    pilot.conn.update_props(navigation._i, {"selected_index": 1})
    pilot.conn.event(navigation._i, "change", 1)
    await pilot.wait_idle()
    assert isinstance(pilot.view, SessionsView)
    assert frames_when_left == [before + 1], "one frame, the title, before the view left"
    action, body = msgpack.unpackb(
        pilot.conn.frames[before], ext_hook=decode_ext_from_msgpack, strict_map_key=False
    )
    assert ClientAction(action) == ClientAction.PATCH_CONTROL
    assert body["id"] == pilot.page._i, "a patch of the page itself"
    assert "Sessions · Aegis" in repr(body["patch"])
    assert "Dashboard" not in repr(body["patch"]), "nothing of the view being left"
    assert len(pilot.conn.frames[before]) < 200, "the title alone"
    assert pilot.page.title == "Sessions · Aegis"


def _subtree(control: ft.BaseControl) -> list[ft.BaseControl]:
    found: list[ft.BaseControl] = []
    for name in ("content", "controls", "actions", "leading", "title"):
        value = getattr(control, name, None)
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ft.BaseControl):
                found += [child, *_subtree(child)]
    return found


async def test_sign_in_pages_have_no_shell_at_any_width(pilot: Pilot) -> None:
    await resize(pilot, 400)
    assert rail(pilot) is None and menu(pilot) is None
    assert pilot.find(ft.TextField, "Email").visible
