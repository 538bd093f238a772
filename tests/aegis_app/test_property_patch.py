"""``send_properties``: the changed values of a live dashboard, as Flet's diff would send
them, in one message. These tests fail when a Flet upgrade changes the wire."""

from __future__ import annotations

from typing import Any

import flet as ft
import msgpack
from flet.controls.base_control import BaseControl
from flet.controls.object_patch import ObjectPatch, Operation
from flet.messaging.protocol import ClientAction, decode_ext_from_msgpack

from aegis_app.views.components import outline
from aegis_app.views.dashboard import DashboardView
from aegis_app.views.property_patch import plain_patch, send_properties
from tests.aegis_app.pilot import Pilot
from tests.waiting import wait_for

Replacements = dict[tuple[Any, ...], Any]


async def quiet_dashboard(pilot: Pilot) -> DashboardView:
    """The dashboard with its first reading shown and its live feed stopped, so that
    only the test changes it."""
    view = pilot.view_as(DashboardView)
    await wait_for(lambda: view.latest is not None, 10, what="the first reading")
    view.cancel_tasks()
    await pilot.wait_idle()
    return view


def change_a_reading(view: DashboardView) -> list[ft.Control]:
    """What a new reading changes: the time, a card's words, a chart, the banner's colour."""
    card = next(iter(view.cards.values()))
    view.updated.value = "Updated 23:59:59"
    card.text.value = "### API Down\nNo answer."
    view.charts[0].image.src = "<svg>new</svg>"
    view.charts[0].image.semantics_label = "CPU: new figures."
    view.banner_text.color = ft.Colors.RED
    return [view.updated, card.text, view.charts[0].image, view.banner_text]


def replacements(message: list[Any]) -> Replacements:
    """A patch message (``ObjectPatch.to_message``'s shape: the tree of paths, then the
    operations) as {path: value} for its ``replace`` operations."""
    tree, *operations = message
    paths: dict[int, tuple[Any, ...]] = {}

    def walk(node: list[Any], path: tuple[Any, ...]) -> None:
        paths[node[0]] = path
        for key, child in (node[1] if len(node) > 1 else {}).items():
            walk(child, (*path, key))

    walk(tree, ())
    replaced: Replacements = {}
    for operation, node, key, *value in operations:
        assert Operation(operation) == Operation.Replace, f"not a replace: {operation}"
        replaced[(*paths[node], key)] = value[0]
    return replaced


def patch_frames(pilot: Pilot, since: int) -> list[dict[str, Any]]:
    bodies = []
    for frame in pilot.conn.frames[since:]:
        action, body = msgpack.unpackb(
            frame, ext_hook=decode_ext_from_msgpack, strict_map_key=False
        )
        if ClientAction(action) == ClientAction.PATCH_CONTROL:
            bodies.append(body)
    return bodies


def flet_diff(root: ft.Control) -> Replacements:
    patch, _added, _removed = ObjectPatch.from_diff(root, root, control_cls=BaseControl)
    return replacements(patch.to_message())


async def test_the_operations_are_those_of_flets_own_diff(signed_in_pilot: Pilot) -> None:
    view = await quiet_dashboard(signed_in_pilot)
    changed = change_a_reading(view)
    patch, _, by_flet = plain_patch(view.layout, changed)
    assert by_flet == []
    ours = replacements(patch.message())
    assert len(ours) == 5, ours
    assert ours == flet_diff(view.layout)


async def test_one_message_and_nothing_left_for_flet_to_send(signed_in_pilot: Pilot) -> None:
    view = await quiet_dashboard(signed_in_pilot)
    changed = change_a_reading(view)
    before = len(signed_in_pilot.conn.frames)
    send_properties(view.layout.page, view.layout, changed)
    [body] = patch_frames(signed_in_pilot, before)
    assert body["id"] == view.layout._i
    sent = replacements(body["patch"])
    assert "Updated 23:59:59" in sent.values()
    assert "<svg>new</svg>" in sent.values()
    assert flet_diff(view.layout) == {}, "Flet would send the same values again"


async def test_a_new_border_is_the_replace_flets_diff_makes(signed_in_pilot: Pilot) -> None:
    view = await quiet_dashboard(signed_in_pilot)
    card = next(iter(view.cards.values()))
    view.banner.border = outline(ft.Colors.RED)
    card.control.border = outline(ft.Colors.AMBER)
    card.control.bgcolor = ft.Colors.AMBER_50
    view.banner_text.value = "Down. Something is wrong."
    changed = [view.banner, card.control, view.banner_text]
    patch, _, by_flet = plain_patch(view.layout, changed)
    assert by_flet == []
    ours = replacements(patch.message())
    assert "Down. Something is wrong." in ours.values()
    assert outline(ft.Colors.RED) in ours.values() and outline(ft.Colors.AMBER) in ours.values()
    assert ours == flet_diff(view.layout)


async def test_a_border_goes_in_the_one_message_and_flet_keeps_it(
    signed_in_pilot: Pilot,
) -> None:
    view = await quiet_dashboard(signed_in_pilot)
    view.banner.border = outline(ft.Colors.RED)
    view.banner_text.value = "Down. Something is wrong."
    before = len(signed_in_pilot.conn.frames)
    send_properties(view.layout.page, view.layout, [view.banner, view.banner_text])
    [body] = patch_frames(signed_in_pilot, before)
    assert body["id"] == view.layout._i
    sent = replacements(body["patch"])
    [border] = [value for path, value in sent.items() if path[-1] == "border"]
    # As Flet's encoder writes a border: each side's colour and width.
    assert border["top"]["color"] == ft.Colors.RED.value and border["top"]["width"] == 1
    assert "Down. Something is wrong." in sent.values()
    assert flet_diff(view.layout) == {}, "Flet would send the border again"
    # The border its next diff compares with is the new one, as after Flet's own update.
    card = next(iter(view.cards.values()))
    card.control.border = outline(ft.Colors.AMBER)
    view.page.update(card.control)
    assert getattr(card.control, "__prev_classes")["border"] is outline(ft.Colors.AMBER)
    assert getattr(view.banner, "__prev_classes")["border"] is outline(ft.Colors.RED)
    # Taken off again, and a later diff of the whole view finds nothing to send.
    view.banner.border = None
    send_properties(view.layout.page, view.layout, [view.banner])
    assert flet_diff(view.layout) == {}


async def test_after_the_layout_changes_values_still_go_to_their_controls(
    signed_in_pilot: Pilot,
) -> None:
    """The dashboard keeps each control's place between readings; the error text
    appearing above the figures moves every card, and the next reading must follow."""
    view = await quiet_dashboard(signed_in_pilot)
    card = next(iter(view.cards.values()))
    view.changes.set(card.text, "value", "### API Slow")
    view.push()  # its place is now kept
    view.show_error("Cannot reach the Aegis server.")
    view.push()
    view.changes.set(card.text, "value", "### API Down")
    before = len(signed_in_pilot.conn.frames)
    view.push()
    [body] = patch_frames(signed_in_pilot, before)
    [(where, value)] = replacements(body["patch"]).items()
    assert value == "### API Down"
    assert follow(view.layout, where[:-1]) is card.text, where


def follow(root: ft.Control, path: tuple[Any, ...]) -> Any:
    node: Any = root
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step, None)
    return node


async def test_a_control_the_client_has_not_been_sent_goes_through_flet(
    signed_in_pilot: Pilot,
) -> None:
    view = await quiet_dashboard(signed_in_pilot)
    new = ft.Text("new")
    view.figures.controls.append(new)
    new.value = "newer"
    patch, _, by_flet = plain_patch(view.layout, [new])
    assert patch.operations == [] and by_flet == [new]
    before = len(signed_in_pilot.conn.frames)
    send_properties(view.layout.page, view.layout, [view.figures])
    [body] = patch_frames(signed_in_pilot, before)
    assert body["id"] == view.figures._i
    assert "newer" in str(body["patch"])


async def test_the_page_title_as_flets_page_diff_sends_it(signed_in_pilot: Pilot) -> None:
    """A click's first answer: the window's title, rooted at the page itself."""
    page = (await quiet_dashboard(signed_in_pilot)).layout.page
    assert isinstance(page, ft.Page)
    page.title = "Sessions · Aegis"
    patch, _, by_flet = plain_patch(page, [page])
    assert by_flet == []
    assert replacements(patch.message()) == {("title",): "Sessions · Aegis"}
    before = len(signed_in_pilot.conn.frames)
    send_properties(page, page, [page])
    [body] = patch_frames(signed_in_pilot, before)
    assert body["id"] == page._i
    assert replacements(body["patch"]) == {("title",): "Sessions · Aegis"}
    assert flet_diff(page) == {}, "Flet would send it again"
    page.title = "Users · Aegis"
    assert flet_diff(page) == {("title",): "Users · Aegis"}, "Flet's own shape"
