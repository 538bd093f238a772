"""Pins ``aegis_app.launch.flet_diff_patch``: Flet 0.82.2's diff without eager debug strings.

If a Flet upgrade changes the statements the patch skips, these fail: then read
``DiffBuilder`` in ``flet/controls/object_patch.py`` again. If the f-strings are gone
(newer Flet logs with ``%s``), drop the patch; if they moved, update the expected list.

The refreshes run on the dashboard-sized tree of ``bench/flet_diff.py`` in a real
``Session``, every message msgpack-encoded as the web target's connection does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import itertools
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flet as ft
import flet_charts as fch
import pytest
from flet.controls import object_patch
from flet.controls.id_counter import ControlId
from flet.messaging import protocol
from flet.messaging.flet_socket_server import FletSocketServer
from flet.messaging.protocol import ClientAction, ClientMessage
from flet_web.fastapi.flet_app import FletApp

from aegis_app.launch.flet_diff_patch import (
    PATCHED_MARK,
    SEND_LOGGER_NAME,
    eager_debug_statements,
    remember_root_fields,
    skip_eager_debug_formatting,
    skip_eager_send_logging,
    without_eager_debug,
)
from bench.flet_diff import open_dashboard
from tests.aegis_app.launch.desktop_harness import REPO

# DiffBuilder method -> how many ``logger.debug(f"...")`` statements it has in 0.82.2.
EXPECTED = {"_item_added": 1, "_item_removed": 1, "_compare_lists": 2, "_compare_dataclasses": 1}


def patched_methods() -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(object_patch.DiffBuilder).items()
        if getattr(value, PATCHED_MARK, False)
    }


@pytest.fixture
def patched() -> dict[str, Any]:
    assert skip_eager_debug_formatting() == sum(EXPECTED.values())
    return patched_methods()


@pytest.fixture
def unpatched(patched: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Flet's own methods back in place for one test."""
    for name, method in patched.items():
        monkeypatch.setattr(object_patch.DiffBuilder, name, method.__wrapped__)


@pytest.fixture
def repr_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How often the reprs of the dashboard's most numerous controls are built."""
    calls = {"repr": 0}
    for kind in (ft.Text, fch.LineChartDataPoint, ft.Card, ft.Container):
        original: Callable[[Any], str] = kind.__repr__

        def counting(self: Any, original: Callable[[Any], str] = original) -> str:
            calls["repr"] += 1
            return original(self)

        monkeypatch.setattr(kind, "__repr__", counting)
    yield calls


def refresh_frames(refreshes: int = 3) -> list[bytes]:
    """Open the dashboard and refresh it; every frame after the REGISTER answer."""
    session, connection, dashboard = open_dashboard()
    for _ in range(refreshes):
        dashboard.refresh()
        session.page.update()
    return connection.frames[1:]  # the first carries the random session id


def test_the_statements_it_skips_are_the_ones_flet_0822_has(patched: dict[str, Any]) -> None:
    found = {name: len(eager_debug_statements(m.__wrapped__)) for name, m in patched.items()}
    assert found == EXPECTED
    assert skip_eager_debug_formatting() == sum(EXPECTED.values()), "idempotent"
    for method in patched.values():
        assert not getattr(method.__wrapped__, PATCHED_MARK, False), "wrapped once"
    left = {
        name: method
        for name, method in vars(object_patch.DiffBuilder).items()
        if callable(method) and not getattr(method, PATCHED_MARK, False)
    }
    for name, method in left.items():
        if hasattr(method, "__code__"):
            assert not eager_debug_statements(method), f"{name} still formats eagerly"


@pytest.mark.usefixtures("unpatched")
def test_without_the_patch_every_refresh_builds_reprs(repr_calls: dict[str, int]) -> None:
    """Fails when Flet no longer formats eagerly: then the patch is not needed."""
    assert not object_patch.logger.isEnabledFor(logging.DEBUG)
    session, _, dashboard = open_dashboard()
    before = repr_calls["repr"]
    dashboard.refresh()
    session.page.update()
    assert repr_calls["repr"] - before > 1000  # every chart point's list, more than once


@pytest.mark.usefixtures("patched")
def test_with_the_patch_a_refresh_builds_no_repr(repr_calls: dict[str, int]) -> None:
    session, connection, dashboard = open_dashboard()
    sent = len(connection.frames)
    dashboard.refresh()
    session.page.update()
    assert len(connection.frames) == sent + 1, "the refresh was sent"
    assert repr_calls["repr"] == 0


def test_the_patched_diff_sends_the_same_bytes(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    request.getfixturevalue("patched")
    monkeypatch.setattr(ControlId, "_counter", itertools.count(10**6))
    with_patch = refresh_frames()
    request.getfixturevalue("unpatched")
    monkeypatch.setattr(ControlId, "_counter", itertools.count(10**6))
    without = refresh_frames()
    assert len(with_patch) == len(without) == 4
    assert with_patch == without


@pytest.mark.usefixtures("patched")
def test_with_debug_logging_on_flet_still_logs_those_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session, _, dashboard = open_dashboard()
    dashboard.refresh()
    with caplog.at_level(logging.DEBUG, logger=object_patch.logger.name):
        session.page.update()
    messages = [r.getMessage() for r in caplog.records if r.name == object_patch.logger.name]
    assert any(m.startswith("\n_compare_dataclasses: ") for m in messages)
    assert any(m.startswith("\n_compare_lists: ") for m in messages)


def applied_in_a_fresh_process(code: str, tmp_path: Path, connection: type) -> list[str]:
    """The diff's patched methods, then ``send_message`` if ``connection``'s is patched."""
    check = (
        "import json\nfrom flet.controls import object_patch\n"
        f"from {connection.__module__} import {connection.__name__} as connection\n"
        "patched = sorted(n for n, m in vars(object_patch.DiffBuilder).items()"
        f" if getattr(m, {PATCHED_MARK!r}, False))\n"
        f"if getattr(connection.send_message, {PATCHED_MARK!r}, False):\n"
        "    patched.append('send_message')\n"
        "print(json.dumps(patched))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code + check],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AEGIS_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_web_target_applies_it(tmp_path: Path) -> None:
    code = (
        "from aegis_app.launch.web import create_web_app\n"
        "from backend.core.config import Settings\n"
        "create_web_app(Settings(allowed_hosts='testserver', _env_file=None))\n"
    )
    assert applied_in_a_fresh_process(code, tmp_path, FletApp) == [
        *sorted(EXPECTED),
        "send_message",
    ]


def test_the_desktop_target_applies_it_before_its_window_starts(tmp_path: Path) -> None:
    code = "from aegis_app.launch.desktop import load_window_modules\nload_window_modules()\n"
    expected = [*sorted(EXPECTED), "send_message"]
    assert applied_in_a_fresh_process(code, tmp_path, FletSocketServer) == expected


# -- send_message: the repr of every message sent ---------------------------------------

CONNECTIONS = [FletApp, FletSocketServer]  # the web's, the desktop's


class CountedBody:
    """A message body that counts how often it is formatted."""

    formatted = 0

    def __repr__(self) -> str:
        CountedBody.formatted += 1
        return "CountedBody()"


class SentFrames:
    """Stands in for a connection's send queue (a private attribute of each class)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def put_nowait(self, frame: bytes) -> None:
        self.frames.append(frame)


@pytest.mark.parametrize("connection", CONNECTIONS, ids=lambda c: c.__name__)
def test_send_message_formats_every_message_in_flet_0822(connection: type) -> None:
    """Fails when Flet no longer formats eagerly in ``send_message``: drop that patch."""
    original = inspect.unwrap(vars(connection)["send_message"])
    assert len(eager_debug_statements(original, SEND_LOGGER_NAME)) == 1
    assert skip_eager_send_logging(connection) == 1
    assert skip_eager_send_logging(connection) == 1, "idempotent"
    assert getattr(vars(connection)["send_message"], PATCHED_MARK, False)


@pytest.mark.parametrize("connection", CONNECTIONS, ids=lambda c: c.__name__)
def test_the_patched_send_message_packs_alike_and_formats_nothing(connection: type) -> None:
    original = inspect.unwrap(vars(connection)["send_message"])
    quiet = without_eager_debug(original, SEND_LOGGER_NAME)

    def frames(method: Callable[..., None], body: Any) -> list[bytes]:
        queue = SentFrames()
        instance: Any = object.__new__(connection)
        setattr(instance, f"_{connection.__name__}__send_queue", queue)
        with contextlib.suppress(TypeError):  # msgpack cannot pack a CountedBody
            method(instance, ClientMessage(ClientAction.PATCH_CONTROL, body))
        return queue.frames

    patch = {"id": 7, "patch": [[0], [0, 0, "value", "Updated 12:00:00"]]}
    assert frames(quiet, patch) == frames(original, patch) != []
    CountedBody.formatted = 0
    frames(original, {"patch": [CountedBody()]})
    assert CountedBody.formatted == 1, "Flet's own send_message formats the message"
    CountedBody.formatted = 0
    frames(quiet, {"patch": [CountedBody()]})
    assert CountedBody.formatted == 0, "the patched one does not"


@pytest.mark.parametrize("connection", CONNECTIONS, ids=lambda c: c.__name__)
def test_with_debug_logging_on_send_message_still_logs(
    connection: type, caplog: pytest.LogCaptureFixture
) -> None:
    skip_eager_send_logging(connection)
    patched = vars(connection)["send_message"]
    instance: Any = object.__new__(connection)
    queue = SentFrames()
    setattr(instance, f"_{connection.__name__}__send_queue", queue)
    message = ClientMessage(ClientAction.PATCH_CONTROL, {"id": 1, "patch": []})
    with caplog.at_level(logging.DEBUG, logger="flet_transport"):
        patched(instance, message)
    assert any("send_message: " in r.getMessage() for r in caplog.records)
    assert len(queue.frames) == 1


def test_the_encoder_remembers_each_fields_declaring_class() -> None:
    """Same answers as Flet's lookup, for every field of the controls we send; and the
    encoder still calls it by its module-global name (else the patch does nothing)."""
    original: Callable[[type, str], Any] = inspect.unwrap(protocol._get_root_dataclass_field)
    remember_root_fields()
    remember_root_fields()
    remembered: Callable[[type, str], Any] = protocol._get_root_dataclass_field
    assert getattr(remembered, PATCHED_MARK, False)
    assert inspect.unwrap(remembered) is original, "wrapped once"
    kinds = [ft.Text, ft.Markdown, ft.Image, ft.Container, ft.Column, ft.ResponsiveRow]
    kinds += [ft.NavigationRail, ft.AppBar, ft.OutlinedButton, ft.Icon, ft.TextField]
    for kind in kinds:
        for field in dataclasses.fields(kind):
            assert remembered(kind, field.name) is original(kind, field.name), field.name
    encoder = protocol.configure_encode_object_for_msgpack(ft.BaseControl)  # type: ignore[no-untyped-call]  # Flet's, untyped
    assert "_get_root_dataclass_field" in encoder.__code__.co_names
