"""Send new property values of controls already on the client as one Flet patch.

A live dashboard changes about nine values per reading (the time, the cards' texts, the
charts' images) and nothing else. Flet 0.82.2 sends each ``page.update(control)`` as
its own message, after running its diff over the control: a generic walk of every
field, list and dict it holds (``_internals`` included), for values that are known
already. With 1,000 dashboards open, that was a third of the server's CPU per reading
(issue 10).

:func:`send_properties` reads what Flet recorded for each control (its ``__changes``:
the properties set since the client last heard of it) and, when every recorded value
is a plain one (text, number, bytes, a colour or icon name) or a border, sends them in
a single ``PATCH_CONTROL`` message rooted at one ancestor, with the same ``replace``
operations Flet's diff would have made. It then clears the record, as Flet's diff does,
so a later ``update()`` does not send them again. Anything else (a list of controls, a
control the client has not been sent yet, a session between connections) goes through
Flet's own ``page.update``, and so does a control on which nothing was set (a list of
it changed in place, say: Flet's record does not see that).

A border is the one dataclass value sent here. Flet's diff sends a control's new border
object whole, as a ``replace`` of the property (it descends into a dataclass only when
the same object was changed in place, which the shared borders of
:mod:`aegis_app.views.components` never are), so a status changing colour in every
live dashboard at once costs each viewer this message and not Flet's diff of the
control (about 0.6 ms a viewer, issue 10).
``tests/aegis_app/test_property_patch.py`` pins the equivalence with Flet's diff, so a
Flet upgrade that changes the wire shows up there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import flet as ft
from flet.controls.object_patch import Operation
from flet.messaging.protocol import ClientAction, ClientMessage

RECORD = "__changes"
"""The attribute in which Flet's ``__setattr__`` keeps each changed property's old value."""
PLAIN_TYPES = (str, int, float, bool, bytes, type(None))
"""Values sent as they are: ``ft.Colors`` and ``ft.Icons`` members are ``str``/``int``."""
VALUE_DATACLASSES = (ft.Border,)
"""Dataclass values sent whole, as Flet's diff sends a new object: sides of a colour and
a width, with no control inside. Flet's msgpack encoder writes them, as it does for its
diff."""
SENT_AS_THEY_ARE = PLAIN_TYPES + VALUE_DATACLASSES
PREVIOUS_VALUES = ("__prev_lists", "__prev_dicts", "__prev_classes")
"""Where Flet's encoder and diff keep the last sent list, dict and dataclass of each
property, to compare the next diff with (the dataclasses' last)."""

Path = list[str | int]
REPLACE = Operation.Replace.value


class PlainPatch:
    """Flet's patch message (``ObjectPatch.to_message``'s shape), built directly: the
    tree of the paths' nodes, each ``[number, {step: child}]``, then one
    ``[REPLACE, node number, property, value]`` per value. Plain ints and dicts all the
    way, so msgpack calls Flet's encoder only for a border's value."""

    def __init__(self) -> None:
        self.tree: list[Any] = [0]
        self.operations: list[list[Any]] = []
        self._nodes = 1

    def node(self, path: Path) -> int:
        """The number of the node at ``path``, added to the tree if new."""
        node = self.tree
        for step in path:
            if len(node) == 1:
                node.append({})
            child = node[1].get(step)
            if child is None:
                child = node[1][step] = [self._nodes]
                self._nodes += 1
            node = child
        number: int = node[0]
        return number

    def replace(self, node: int, name: str, value: Any) -> None:
        self.operations.append([REPLACE, node, name, value])

    def message(self) -> list[Any]:
        return [self.tree, *self.operations]


def send_properties(
    page: ft.BasePage,
    root: ft.Control,
    controls: Iterable[ft.Control],
    paths: dict[int, Path] | None = None,
) -> None:
    """Send the recorded property changes of ``controls`` (all under ``root``) to the
    client: plain ones as one message, the rest through Flet's own diff.

    ``paths`` keeps each control's place under ``root`` between calls (finding it
    walks up the tree and searches each parent's children). The caller empties it
    whenever the tree under ``root`` changes, as it then sends the tree through Flet.
    """
    # A page that is not a session's own (an embedded one) is left to Flet.
    connection = page.session.connection if isinstance(page, ft.Page) else None
    if connection is None:
        page.update(*controls)
        return
    patch, sent, by_flet = plain_patch(root, controls, paths)
    if patch.operations:
        # PatchControlBody's fields, as a dict: msgpack packs it as it is.
        body = {"id": root._i, "patch": patch.message()}
        connection.send_message(ClientMessage(ClientAction.PATCH_CONTROL, body))
    for control, recorded in sent:
        _mark_sent(control, recorded)
    if by_flet:
        page.update(*by_flet)


def plain_patch(
    root: ft.Control, controls: Iterable[ft.Control], paths: dict[int, Path] | None = None
) -> tuple[PlainPatch, list[tuple[ft.Control, dict[str, Any]]], list[ft.Control]]:
    """The patch of ``controls``' plain changes, the controls and records it covers, and
    the controls left to Flet's diff. Sends nothing (the tests compare it with Flet's
    diff)."""
    paths = {} if paths is None else paths
    patch = PlainPatch()
    sent: list[tuple[ft.Control, dict[str, Any]]] = []
    by_flet: list[ft.Control] = []
    for control in controls:
        recorded = _plain_changes(control)
        path = _path(root, control, paths) if recorded is not None else None
        if recorded is None or path is None:
            by_flet.append(control)
            continue
        node = patch.node(path)
        for name in recorded:
            patch.replace(node, name, getattr(control, name))
        sent.append((control, recorded))
    return patch, sent, by_flet


def _mark_sent(control: ft.Control, recorded: dict[str, Any]) -> None:
    """What Flet's diff does once it has sent these values: each one becomes what its
    next diff compares with (a border kept, an earlier list, dict or dataclass there
    forgotten: else that diff would send the value again), and the record is cleared."""
    snapshots = [getattr(control, name, None) for name in PREVIOUS_VALUES]
    for name in recorded:
        for snapshot in snapshots:
            if snapshot is not None:
                snapshot.pop(name, None)
        value = getattr(control, name)
        classes = snapshots[-1]
        if classes is not None and isinstance(value, VALUE_DATACLASSES):
            classes[name] = value
    recorded.clear()


def _plain_changes(control: ft.Control) -> dict[str, Any] | None:
    """Flet's record of ``control``'s changed properties, if all are plain values; None
    if the client has not been sent the control yet, if nothing was set on it, or if a
    value needs Flet's diff."""
    recorded: dict[str, Any] | None = getattr(control, RECORD, None)
    if not recorded:
        return None  # not sent yet, or only changed inside its lists: Flet's diff finds out
    for name in recorded:
        # Event handlers go over the wire as "has a handler", which Flet's diff works out.
        if name.startswith("on_") or not isinstance(getattr(control, name), SENT_AS_THEY_ARE):
            return None
    return recorded


def _path(root: ft.Control, control: ft.Control, paths: dict[int, Path]) -> Path | None:
    """Where ``control`` sits under ``root``, as the wire names it (``["controls", 2,
    "content"]``); None if it is not under ``root`` through ``content``/``controls``."""
    kept = paths.get(id(control))
    if kept is None:
        kept = _search(root, control)
        if kept is not None:
            paths[id(control)] = kept
    return kept


def _search(root: ft.Control, control: ft.Control) -> Path | None:
    steps: Path = []
    node: Any = control
    while node is not root:
        parent = node.parent
        if parent is None:
            return None
        if getattr(parent, "content", None) is node:
            steps.append("content")
        else:
            children = getattr(parent, "controls", None)
            index = _index_of(children, node) if isinstance(children, list) else None
            if index is None:
                return None
            steps += (index, "controls")
        node = parent
    steps.reverse()
    return steps


def _index_of(children: list[Any], child: Any) -> int | None:
    for index, candidate in enumerate(children):
        if candidate is child:
            return index
    return None
