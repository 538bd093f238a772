"""Flet 0.82.2 works out a control class's type hints again for every message its
client sends; both targets keep the answers here (:func:`remember_type_hints`).

Every property the client reports (a rail's new ``selected_index``, a field's text on
each keystroke) goes through ``flet.utils.object_model.patch_dataclass``, which calls
``typing.get_type_hints`` on the control's class: every annotation of every class in
its MRO evaluated again, 0.1-0.4 ms per message here. Every event then goes through
``get_event_field_type`` (``base_control._trigger_event``), which merges the MRO's
annotations and evaluates the handler's type again: 0.15-0.35 ms. A rail click is both:
about 0.6 ms of the 2.7 ms (median) between its first frame reaching the server and its
first answer going out (issue 10's quiet-click goal is 1.5 ms at the client). Events
with data (``from_dict``) ask for their event class's hints too.

The answers depend on the class alone, and classes do not change once defined, so
each is kept per class (and per handler name) after it is first worked out. A lookup
that fails is not kept: it fails again the next time, as before.

``patch_dataclass`` passes its caller's frame as ``localns`` and ``get_event_field_type``
reads its caller's frame itself, so what the first lookup could resolve through that
frame is what is kept. Flet's own callers are always the same functions in the same
modules, so the frame holds the same names each time; the wrapper of
``get_event_field_type`` runs with ``base_control``'s globals, as its one caller does.
Pinned by ``tests/aegis_app/launch/test_flet_hints_patch.py``.
"""

from __future__ import annotations

import functools
import importlib
import types
import typing
from collections.abc import Callable
from typing import Any

from flet.controls import base_control, control_event
from flet.utils import object_model

PATCHED_MARK = "_aegis_remembers"
HINTS_NAME = "get_type_hints"
EVENT_TYPE_NAME = "get_event_field_type"
"""The module-global names Flet calls the two lookups by."""
# flet.utils re-exports the function ``from_dict`` under its module's name.
HINTS_USERS = (object_model, importlib.import_module("flet.utils.from_dict"))
"""The modules whose global ``get_type_hints`` is given a memory."""


def remembering_type_hints(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """``get_type_hints`` that keeps each class's answer (instances, modules and
    ``include_extras`` calls are passed through)."""
    kept: dict[type, dict[str, Any]] = {}

    @functools.wraps(original)
    def get_type_hints(
        obj: Any,
        globalns: dict[str, Any] | None = None,
        localns: dict[str, Any] | None = None,
        include_extras: bool = False,
    ) -> dict[str, Any]:
        if include_extras or not isinstance(obj, type):
            return original(obj, globalns, localns, include_extras)
        hints = kept.get(obj)
        if hints is None:
            hints = kept[obj] = original(obj, globalns, localns)
        return hints  # read only by Flet's callers

    setattr(get_type_hints, PATCHED_MARK, True)
    return get_type_hints


def remembering_event_types(
    original: Callable[[Any, str], Any], caller_globals: dict[str, Any]
) -> types.FunctionType:
    """``get_event_field_type`` that keeps each (class, handler name)'s answer.

    Built with ``caller_globals`` as its globals: ``original`` adds its caller's frame
    to the names it resolves, and this wrapper is now that caller.
    """
    kept: dict[tuple[type, str], Any] = {}

    def get_event_field_type(control: Any, field_name: str) -> Any:
        key = (control.__class__, field_name)
        if key in kept:
            return kept[key]
        found = kept[key] = original(control, field_name)
        return found

    code = get_event_field_type.__code__
    wrapper = types.FunctionType(
        code, caller_globals, code.co_name, None, get_event_field_type.__closure__
    )
    wrapper.__qualname__ = original.__qualname__
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(wrapper, PATCHED_MARK, True)
    return wrapper


def remember_type_hints() -> None:
    """Idempotent: Flet's event and property paths keep each class's type hints."""
    for module in HINTS_USERS:
        if not getattr(vars(module)[HINTS_NAME], PATCHED_MARK, False):
            setattr(module, HINTS_NAME, remembering_type_hints(typing.get_type_hints))
    if not getattr(vars(base_control)[EVENT_TYPE_NAME], PATCHED_MARK, False):
        remembered = remembering_event_types(control_event.get_event_field_type, vars(base_control))
        setattr(base_control, EVENT_TYPE_NAME, remembered)
