"""Flet's event and property paths keep each control class's type hints
(``aegis_app.launch.flet_hints_patch``): the same answers as Flet's own lookups, worked
out once, and still reached by the names Flet calls them by."""

from __future__ import annotations

import dataclasses
import importlib
import typing
from typing import Any

import flet as ft
import pytest
from flet.controls import base_control, control_event
from flet.utils import object_model

from aegis_app.launch.flet_hints_patch import (
    EVENT_TYPE_NAME,
    HINTS_NAME,
    PATCHED_MARK,
    remember_type_hints,
    remembering_event_types,
    remembering_type_hints,
)

FROM_DICT_MODULE = importlib.import_module("flet.utils.from_dict")


def control_classes() -> list[type[ft.BaseControl]]:
    """Every control class Flet exports that has an event handler field."""
    found = []
    for name in dir(ft):
        kind = getattr(ft, name)
        if (
            isinstance(kind, type)
            and issubclass(kind, ft.BaseControl)
            and any(f.name.startswith("on_") for f in dataclasses.fields(kind))
        ):
            found.append(kind)
    return found


def test_flet_still_calls_the_lookups_by_their_module_global_names() -> None:
    """Else the patch would change nothing: a Flet upgrade that renames or inlines them
    fails here."""
    assert "get_type_hints" in object_model.patch_dataclass.__code__.co_names
    assert "get_type_hints" in FROM_DICT_MODULE.from_dict.__code__.co_names
    assert "get_event_field_type" in base_control.BaseControl._trigger_event.__code__.co_names
    # get_event_field_type reads its caller's frame: the wrapper must stand in its place.
    assert "currentframe" in control_event.get_event_field_type.__code__.co_names


def test_every_controls_event_types_are_the_same_as_flets() -> None:
    remember_type_hints()
    remember_type_hints()
    patched = vars(base_control)[EVENT_TYPE_NAME]
    assert getattr(patched, PATCHED_MARK, False)
    assert patched.__wrapped__ is control_event.get_event_field_type, "wrapped once"
    assert patched.__globals__ is vars(base_control)
    kinds = control_classes()
    assert len(kinds) > 50, [k.__name__ for k in kinds]
    compared = 0
    for kind in kinds:
        control = kind.__new__(kind)  # the lookups read only the class
        for field in dataclasses.fields(kind):
            if not field.name.startswith("on_"):
                continue
            try:
                expected = control_event.get_event_field_type(control, field.name)
            except RuntimeError:  # not an event (a colour named on_..., say): nor here
                with pytest.raises(RuntimeError):
                    patched(control, field.name)
                continue
            assert patched(control, field.name) == expected, (kind, field.name)
            assert patched(control, field.name) == expected, "kept"
            compared += 1
    assert compared > 200


def test_each_class_is_looked_up_once_and_a_failure_is_not_kept() -> None:
    calls: list[tuple[type, str]] = []
    fail_first = [True]

    def lookup(control: Any, field_name: str) -> Any:
        calls.append((control.__class__, field_name))
        if fail_first[0]:
            fail_first[0] = False
            raise RuntimeError("unresolved")
        return field_name.upper()

    remembered = remembering_event_types(lookup, vars(base_control))
    rail, other_rail, field = ft.NavigationRail(), ft.NavigationRail(), ft.TextField()
    with pytest.raises(RuntimeError):
        remembered(rail, "on_change")
    assert [remembered(c, "on_change") for c in (rail, other_rail, field, rail)] == [
        "ON_CHANGE"
    ] * 4
    assert remembered(field, "on_submit") == "ON_SUBMIT"
    assert calls == [
        (ft.NavigationRail, "on_change"),  # failed
        (ft.NavigationRail, "on_change"),
        (ft.TextField, "on_change"),
        (ft.TextField, "on_submit"),
    ]


def test_type_hints_are_kept_per_class_and_the_rest_passed_through() -> None:
    calls: list[Any] = []

    def counting(obj: Any, *args: Any) -> dict[str, Any]:
        calls.append(obj)
        return typing.get_type_hints(obj, *args)

    @dataclasses.dataclass
    class Reading:
        value: int
        words: typing.Annotated[str, "shown"]

    remembered = remembering_type_hints(counting)
    first = remembered(Reading, globalns=globals(), localns={})
    assert first == {"value": int, "words": str}
    assert remembered(Reading, globalns=globals(), localns={}) is first
    extras = remembered(Reading, include_extras=True)  # passed through
    assert extras["words"] == typing.Annotated[str, "shown"]
    assert remembered(object_model) == {}  # a module: passed through
    assert calls == [Reading, Reading, object_model]


def test_a_reported_property_is_applied_as_before() -> None:
    """The client's property reports go through the remembered hints: plain values, an
    enum and a nested dataclass still land as Flet's own path put them."""
    remember_type_hints()
    assert getattr(vars(object_model)[HINTS_NAME], PATCHED_MARK, False)
    assert getattr(vars(FROM_DICT_MODULE)[HINTS_NAME], PATCHED_MARK, False)
    rail = ft.NavigationRail()
    object_model.patch_dataclass(rail, {"selected_index": 2})
    field = ft.TextField()
    object_model.patch_dataclass(field, {"value": "typed", "text_align": "center"})
    assert (rail.selected_index, field.value, field.text_align) == (
        2,
        "typed",
        ft.TextAlign.CENTER,
    )
    event = FROM_DICT_MODULE.from_dict(ft.TapEvent, {"control": field, "name": "tap"})
    assert isinstance(event, ft.TapEvent)
    assert event.control is field
