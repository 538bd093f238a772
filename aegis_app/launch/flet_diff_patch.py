"""Flet 0.82.2's diff and its connections' ``send_message`` build debug messages they
throw away, and its encoder looks up each field's first declaring class again for every
control it sends (:func:`remember_root_fields`); both targets stop that here.

``flet.controls.object_patch.DiffBuilder`` logs with f-strings, e.g.
``logger.debug(f"\\n_compare_lists: {path} {src} {dst}")``. Python builds an f-string
before the call, whatever the logger's level, so every update formatted the ``repr`` of
whole control subtrees (a list's ``str`` is its items' dataclass ``repr``, recursively):
24-34 % of the server's CPU on a dashboard refresh (issue 10). Flet sets that logger to
INFO, so the strings were always dropped. Newer Flet passes ``%s`` arguments instead.

Replacing the logger cannot help: the string exists before ``debug`` is called. So each
such statement is skipped in a copy of its method: the copy's first instruction of the
statement becomes a jump past it (same length, so line numbers and exception tables stay
valid). A statement is skipped only if it is exactly ``logger.debug(<f-string of local
names and constants>)``, which does nothing but build that string and hand it over; the
rest of the method is the same code object. The original method still runs whenever
that logger is enabled for DEBUG, so Flet's debug output is unchanged too.

This module imports only Flet (not flet-web): the desktop bundle has no flet-web, and the
desktop's window diffs like a web session does. ``flet_web_patches.mount_flet`` applies it
for the web target, ``desktop.run_desktop`` for the desktop. Pinned by
``tests/aegis_app/launch/test_flet_diff_patch.py``.
"""

from __future__ import annotations

import dis
import functools
import inspect
import logging
import types
from collections.abc import Callable
from typing import Any

from flet.controls import object_patch
from flet.messaging import protocol

log = logging.getLogger("aegis.flet_patches")

PATCHED_MARK = "_aegis_skips_eager_debug"
LOGGER_NAME = "logger"  # object_patch's module global: logging.getLogger("flet_object_patch")

# What an f-string of constants and local names (cells too: a nested function uses
# them) compiles to, in 3.11 and later. Any other instruction (a call, an attribute
# lookup) could have effects, and such a statement is not skipped.
_FSTRING_OPS = {
    "LOAD_CONST",
    "LOAD_FAST",
    "LOAD_DEREF",
    "FORMAT_VALUE",
    "BUILD_STRING",
    "FORMAT_SIMPLE",
    "FORMAT_WITH_SPEC",
    "CONVERT_VALUE",
    "LOAD_FAST_LOAD_FAST",
}
_CALL_OPS = ("PRECALL", "CALL")  # 3.11 calls are PRECALL + CALL; 3.12+ CALL alone
_FORMAT_OPS = {"FORMAT_VALUE", "FORMAT_SIMPLE", "FORMAT_WITH_SPEC"}
_JUMP_FORWARD = dis.opmap["JUMP_FORWARD"]
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]


class FletDiffChanged(RuntimeError):
    """Flet's diff is not the code this patch was written for; nothing was patched."""


def eager_debug_statements(
    function: Callable[..., Any], logger_name: str = LOGGER_NAME
) -> list[tuple[int, int]]:
    """``(start, end)`` byte offsets of each ``<logger_name>.debug(f"...")`` statement.

    ``end`` is the offset of the first instruction after the statement. A
    ``logger.debug`` call with ``%s`` arguments is not listed: it formats nothing
    unless DEBUG is on.
    """
    code = function.__code__
    instructions = list(dis.get_instructions(code))
    found: list[tuple[int, int]] = []
    for index, first in enumerate(instructions):
        if first.opname != "LOAD_GLOBAL" or first.argval != logger_name:
            continue
        if index and instructions[index - 1].opname == "EXTENDED_ARG":
            raise FletDiffChanged(f"{function.__qualname__}: an extended logger.debug")
        method = instructions[index + 1]
        if method.opname not in ("LOAD_METHOD", "LOAD_ATTR") or method.argval != "debug":
            continue
        end = index + 2
        while end < len(instructions) and instructions[end].opname != "POP_TOP":
            end += 1
        if end + 1 >= len(instructions):
            raise FletDiffChanged(f"{function.__qualname__}: a logger.debug call without POP_TOP")
        arguments = [i.opname for i in instructions[index + 2 : end]]
        if not _FORMAT_OPS & set(arguments):
            continue  # lazy: its arguments are formatted only if DEBUG is on
        calls = tuple(op for op in arguments if op in _CALL_OPS)
        if calls not in (_CALL_OPS, _CALL_OPS[1:]) or arguments[-1] != "CALL":
            raise FletDiffChanged(f"{function.__qualname__}: an unexpected debug statement")
        unexpected = {op for op in arguments if op not in _CALL_OPS} - _FSTRING_OPS
        if unexpected:
            raise FletDiffChanged(
                f"{function.__qualname__}: a debug f-string with {sorted(unexpected)}"
            )
        inside = instructions[index + 1 : end + 1]
        if any(i.is_jump_target for i in inside):
            raise FletDiffChanged(f"{function.__qualname__}: a jump into a debug statement")
        found.append((first.offset, instructions[end + 1].offset))
    return found


def without_eager_debug(
    function: Callable[..., Any], logger_name: str = LOGGER_NAME
) -> types.FunctionType:
    """A copy of ``function`` that jumps over its eager debug statements."""
    if not isinstance(function, types.FunctionType):
        raise FletDiffChanged(f"{function!r} is not a plain function")
    code = function.__code__
    raw = bytearray(code.co_code)
    for start, end in eager_debug_statements(function, logger_name):
        # The statement's first instruction (LOAD_GLOBAL logger, with its inline caches)
        # becomes JUMP_FORWARD, whose argument counts 2-byte units after itself.
        position = start
        distance = (end - start) // 2 - 1
        if distance > 0xFF:  # needs EXTENDED_ARG first: it takes one of the cache units
            raw[position : position + 2] = bytes((_EXTENDED_ARG, (distance - 1) >> 8))
            position, distance = position + 2, distance - 1
        raw[position : position + 2] = bytes((_JUMP_FORWARD, distance & 0xFF))
    copy = types.FunctionType(
        code.replace(co_code=bytes(raw)),
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__ = function.__qualname__
    return copy


def _choose(
    original: Callable[..., Any], quiet: Callable[..., Any], logger_name: str = LOGGER_NAME
) -> Callable[..., Any]:
    debug_log: logging.Logger = original.__globals__[logger_name]

    @functools.wraps(original)
    def method(*args: Any, **kwargs: Any) -> Any:
        if debug_log.isEnabledFor(logging.DEBUG):
            return original(*args, **kwargs)
        return quiet(*args, **kwargs)

    setattr(method, PATCHED_MARK, True)
    return method


def skip_eager_debug_formatting() -> int:
    """Idempotent: patch ``DiffBuilder`` once per process; how many statements it skips.

    Flet behaves the same without this patch, only slower; so a Flet whose diff does not
    look as expected is left alone with a warning (the test above fails on it).
    """
    builder = object_patch.DiffBuilder
    methods = {
        name: value
        for name, value in vars(builder).items()
        if isinstance(value, types.FunctionType)
    }
    done = [inspect.unwrap(m) for m in methods.values() if getattr(m, PATCHED_MARK, False)]
    if done:
        return sum([len(eager_debug_statements(original)) for original in done])
    try:
        quiet = {
            name: without_eager_debug(method)
            for name, method in methods.items()
            if eager_debug_statements(method)
        }
    except FletDiffChanged as error:
        log.warning("Flet's diff was not patched (it only costs CPU): %s", error)
        return 0
    for name, copy in quiet.items():
        setattr(builder, name, _choose(methods[name], copy))
    skipped = sum(len(eager_debug_statements(methods[name])) for name in quiet)
    log.info("Flet diff: %d eager debug f-strings skipped (%s)", skipped, ", ".join(sorted(quiet)))
    return skipped


SEND_LOGGER_NAME = "transport_log"
"""The connections' module global: ``logging.getLogger("flet_transport")``."""


def skip_eager_send_logging(connection: type) -> int:
    """Idempotent: ``connection.send_message`` without its eager debug f-string.

    Flet's connections (flet-web's ``FletApp``, the desktop's ``FletSocketServer``) log
    ``transport_log.debug(f"send_message: {message}")`` for every message sent: the
    ``repr`` of the whole message, patch and controls included, built and dropped (about
    6 % of a web server's CPU with 100 live dashboards). How many statements it skips.
    """
    method = vars(connection).get("send_message")
    if not isinstance(method, types.FunctionType):
        log.warning("%s.send_message was not patched: not a plain function", connection.__name__)
        return 0
    if getattr(method, PATCHED_MARK, False):
        return len(eager_debug_statements(inspect.unwrap(method), SEND_LOGGER_NAME))
    try:
        statements = eager_debug_statements(method, SEND_LOGGER_NAME)
        quiet = without_eager_debug(method, SEND_LOGGER_NAME)
    except FletDiffChanged as error:
        log.warning("%s.send_message was not patched: %s", connection.__name__, error)
        return 0
    if statements:
        connection.send_message = _choose(method, quiet, SEND_LOGGER_NAME)  # type: ignore[attr-defined]
    return len(statements)


def remember_root_fields() -> None:
    """Idempotent: Flet's encoder remembers which base class declared each field.

    For every field of every control it sends, ``encode_object_for_msgpack`` asks
    ``protocol._get_root_dataclass_field`` which class first declared it (for the
    field's default), and that walks the class's whole MRO: about 50 fields times 10
    classes per control, on every full send (a new session's page, a change of
    structure): 7 % of the CPU of opening dashboards. The answer depends on the class
    alone, and classes do not change, so it is kept.
    """
    original = protocol._get_root_dataclass_field
    if getattr(original, PATCHED_MARK, False):
        return
    remembered = functools.cache(original)
    setattr(remembered, PATCHED_MARK, True)
    protocol._get_root_dataclass_field = remembered
