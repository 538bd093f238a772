"""Pins the flet-web 0.82.2 workarounds in ``aegis_app.launch.flet_web_patches``.

If a Flet upgrade changes what they patch, these fail: then re-check each workaround
against the new release (1.0.x fixed both sub-path bugs and flet#6512 upstream) and
drop the ones it no longer needs.

The multi-tab check talks Flet's wire protocol over the real ``/dashboard/ws``: in
0.82.2 every binary frame is ``msgpack.packb([action, body])`` with no type byte.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import warnings
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import flet as ft
import msgpack
import pytest
from flet.messaging.session import Session
from flet_web.fastapi.flet_app import FletApp
from flet_web.fastapi.flet_app_manager import FletAppManager

from aegis_app.launch import flet_web_patches as mount_flet_module
from aegis_app.launch.flet_diff_patch import PATCHED_MARK
from aegis_app.launch.flet_web_patches import (
    FLET_APP_SEND_LOOP_ATTRIBUTE,
    FLET_APP_SEND_QUEUE_ATTRIBUTE,
    FLET_APP_SESSION_ATTRIBUTE,
    FLET_APP_WEBSOCKET_ATTRIBUTE,
    REDACTED,
    SESSION_CANCEL_CALLS_ATTRIBUTE,
    WEBSOCKET_PATH_ATTRIBUTE,
    canvaskit_dir,
    install_session_rules,
    keep_session_after_dispose,
    let_a_gone_client_go_quietly,
    mount_flet,
    redact_flet_session_ids,
)
from aegis_app.launch.web import create_web_app
from backend.core.config import Settings
from tests.waiting import wait_for, wait_until

with warnings.catch_warnings():
    # Starlette asks for its `httpx2` fork for the TestClient; plain httpx (pinned <0.29
    # for the app) still works, and only the TestClient speaks WebSocket in-process.
    warnings.filterwarnings(
        "ignore", message="Using `httpx` with `starlette.testclient` is deprecated"
    )
    from starlette.testclient import TestClient, WebSocketTestSession

REGISTER_CLIENT = 1
SAME_ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_web_app(settings)) as test_client:  # runs the lifespan
        yield test_client


def test_flet_web_is_the_release_the_workarounds_were_written_for() -> None:
    assert version("flet-web") == "0.82.2", "re-check aegis_app/launch/flet_web_patches.py"
    assert version("flet") == "0.82.2"


def test_index_html_points_the_client_at_the_mounted_paths(client: TestClient) -> None:
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.text
    assert '<base href="/dashboard/">' in html
    assert 'webSocketEndpoint="/dashboard/ws"' in html
    assert 'webSocketEndpoint="/ws"' not in html
    # A deep link gets the same page (the SPA fallback), so reloads work on any route.
    assert 'webSocketEndpoint="/dashboard/ws"' in client.get("/dashboard/sessions").text


def test_canvaskit_is_served_from_the_root_where_the_client_looks(client: TestClient) -> None:
    assert (canvaskit_dir() / "canvaskit.wasm").is_file()
    response = client.get("/canvaskit/canvaskit.wasm")
    assert response.status_code == 200
    assert response.content[:4] == b"\0asm"


def test_the_private_attribute_the_patch_sets_still_exists() -> None:
    from flet_web.fastapi.flet_static_files import FletStaticFiles

    static = FletStaticFiles(websocket_endpoint_path="/x/ws")
    assert getattr(static, WEBSOCKET_PATH_ATTRIBUTE) == "/x/ws"


def test_the_session_rules_are_installed_once() -> None:
    install_session_rules()
    install_session_rules()
    wrapped = FletAppManager.get_session
    assert getattr(wrapped, "_aegis_session_rules", False)
    assert not getattr(wrapped.__wrapped__, "_aegis_session_rules", False)
    disconnect = FletAppManager.disconnect_session
    assert not hasattr(disconnect.__wrapped__, "__wrapped__")
    keep_session_after_dispose()
    keep_session_after_dispose()
    assert not hasattr(FletApp.dispose.__wrapped__, "__wrapped__")


def register(ws: WebSocketTestSession, session_id: str | None) -> dict[str, Any]:
    page = {"route": "/", "width": 800, "height": 600, "web": True, "platform": "linux"}
    ws.send_bytes(
        msgpack.packb([REGISTER_CLIENT, {"session_id": session_id, "page_name": "", "page": page}])
    )
    action, body = msgpack.unpackb(ws.receive_bytes())
    assert action == REGISTER_CLIENT, (action, body)
    assert set(body) == {"session_id", "page_patch", "error"}
    assert not body["error"], body["error"]
    assert body["session_id"]
    return dict(body)


def disconnects_logged(caplog: pytest.LogCaptureFixture) -> int:
    """Flet logs this as its manager marks a session's connection gone."""
    return sum(r.getMessage().startswith("Session disconnected") for r in caplog.records)


def test_a_duplicated_tab_gets_its_own_session_and_a_reload_re_attaches(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "flet_web.fastapi")
    with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as first:
        first_id = register(first, None)["session_id"]
        # A duplicated tab: same sessionStorage, so the same id, while the first is live.
        with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as duplicate:
            duplicate_id = register(duplicate, first_id)["session_id"]
        assert duplicate_id != first_id, "flet#6512: the duplicate took over the live session"

    # The first tab reloads: its old connection is gone, so it gets its session back. The
    # server notices a close on its own loop; wait until it has marked both tabs gone.
    wait_until(lambda: disconnects_logged(caplog) >= 2, 5, what="both tabs' disconnects")
    with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as reloaded:
        reloaded_id = register(reloaded, first_id)["session_id"]
    assert reloaded_id == first_id, "a reload no longer re-attaches to its Python session"


def test_websocket_from_another_origin_is_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/dashboard/ws", headers={"origin": "http://evil.example"}),
    ):
        pass


def test_without_the_backport_flet_still_has_the_multi_tab_bug(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When this fails, upstream fixed flet#6512 here too: drop the backport."""
    monkeypatch.setattr(FletAppManager, "get_session", FletAppManager.get_session.__wrapped__)
    with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as first:
        first_id = register(first, None)["session_id"]
        with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as duplicate:
            assert register(duplicate, first_id)["session_id"] == first_id


# -- 4: main outliving its client ------------------------------------------------------


def run_main_past_its_client(caplog: pytest.LogCaptureFixture) -> list[str]:
    """A bare Flet app whose ``main`` is still running when its client leaves (as a tab
    reloaded during the first load). Returns Flet's error records."""
    from fastapi import FastAPI
    from flet_web.fastapi import app as flet_app

    finished = threading.Event()

    async def main(page: ft.Page) -> None:
        await wait_for(lambda: page.session.connection is None, 10, what="the client to go")
        # Set on a later turn of the loop: after FletApp's code that follows main.
        asyncio.get_running_loop().call_soon(finished.set)

    outer = FastAPI()
    mount_flet(outer, flet_app(main), "/bare")
    with caplog.at_level(logging.ERROR, "flet_web.fastapi"), TestClient(outer) as client:
        with client.websocket_connect("/bare/ws") as ws:
            register(ws, None)
        assert finished.wait(10), "main never saw its client leave"
    return [r.getMessage() for r in caplog.records if r.name == "flet_web.fastapi"]


def test_main_returning_after_its_client_left_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert run_main_past_its_client(caplog) == []


def test_without_the_patch_flet_still_reports_that_as_an_error(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When this fails, upstream fixed it: drop ``keep_session_after_dispose``."""
    assert hasattr(FletApp, "dispose")
    monkeypatch.setattr(FletApp, "dispose", FletApp.dispose.__wrapped__)
    monkeypatch.setattr(mount_flet_module, "keep_session_after_dispose", lambda: None)
    assert run_main_past_its_client(caplog) == ["Unhandled error processing page session: "]


def test_the_private_send_loop_and_queue_the_patch_relies_on_still_exist() -> None:
    """What it does is pinned over a real server in test_web_sessions.py."""
    let_a_gone_client_go_quietly()
    let_a_gone_client_go_quietly()
    send_loop = getattr(FletApp, FLET_APP_SEND_LOOP_ATTRIBUTE)
    assert getattr(send_loop, "_aegis_quiet_send_loop", False)
    assert asyncio.iscoroutinefunction(send_loop.__wrapped__)
    assert not hasattr(send_loop.__wrapped__, "__wrapped__")
    inner = FletApp.send_message.__wrapped__
    if getattr(inner, PATCHED_MARK, False):  # flet_diff_patch's send_message is under it
        inner = inner.__wrapped__
    assert not hasattr(inner, "__wrapped__"), "wrapped once"
    source = inspect.getsource(send_loop.__wrapped__)
    # The wrapper is Flet's loop written again: when Flet's changes, look at ours.
    for line in (
        "message = await self.__send_queue.get()",
        "await self.__websocket.send_bytes(message)",
        "self.__websocket = None",
        "self.__send_queue = None",
    ):
        assert line in source, line


async def test_the_send_loop_lets_go_of_each_message_once_sent() -> None:
    """Flet's loop kept the last message it sent until the next one: for a quiet
    dashboard, its last refresh (tens of KB) for as long as it stays open."""
    let_a_gone_client_go_quietly()
    sent: list[bytes] = []

    class Socket:
        async def send_bytes(self, data: bytes) -> None:
            sent.append(data)

    app = object.__new__(FletApp)
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    setattr(app, FLET_APP_SEND_QUEUE_ATTRIBUTE, queue)
    setattr(app, FLET_APP_WEBSOCKET_ATTRIBUTE, Socket())
    loop = asyncio.ensure_future(getattr(app, FLET_APP_SEND_LOOP_ATTRIBUTE)())
    queue.put_nowait(bytes(30_000))
    await wait_for(lambda: len(sent) == 1, 2, what="the message sent")
    await wait_for(lambda: waits_on_the_queue(loop), 2, what="the loop waiting again")
    message = sent.pop()
    holders = [
        frame
        for frame in frames_of(loop)
        if any(value is message for value in frame.f_locals.values())
    ]
    assert not holders, "the send loop still holds the message it sent"
    queue.put_nowait(None)
    await loop
    assert getattr(app, FLET_APP_SEND_QUEUE_ATTRIBUTE) is None


def frames_of(task: asyncio.Future[Any]) -> list[Any]:
    """The frames of a task's coroutine and of what it awaits, outermost first."""
    frames, awaited = [], getattr(task, "get_coro", lambda: None)()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None)
        if frame is not None:
            frames.append(frame)
        awaited = getattr(awaited, "cr_await", None)
    return frames


def waits_on_the_queue(task: asyncio.Future[Any]) -> bool:
    return any(frame.f_code.co_name == "get" for frame in frames_of(task))


def test_the_attribute_the_dispose_patch_keeps_still_exists() -> None:
    import concurrent.futures

    async def main(page: ft.Page) -> None:
        return None

    loop = asyncio.new_event_loop()
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as executor:
            flet_app = FletApp(loop, executor, main, None)
        assert hasattr(flet_app, FLET_APP_SESSION_ATTRIBUTE)
    finally:
        loop.close()


# -- 5: no session ids in the log ----------------------------------------------------


def test_flet_session_ids_are_replaced_in_flets_log_records(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redact_flet_session_ids()
    redact_flet_session_ids()
    assert len(logging.getLogger("flet_web.fastapi").filters) == 1
    key = "dashboard_AbCdEfGh12345678_" + "0123456789abcdef" * 2 + "01234567"
    with caplog.at_level(logging.INFO):
        logging.getLogger("flet_web.fastapi").info(f"New session created (1 total): {key}")
        logging.getLogger("flet_web.fastapi").info("Session reconnected: %s", key)
        logging.getLogger("flet").info("Session was garbage collected: Zz9Yy8Xx7Ww6Vv5U")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        f"New session created (1 total): dashboard_{REDACTED}_{key[27:]}",
        f"Session reconnected: dashboard_{REDACTED}_{key[27:]}",
        f"Session was garbage collected: {REDACTED}",
    ]


# -- 6: calls to a client that is gone -------------------------------------------------


async def test_calls_to_a_client_that_is_gone_fail_at_once(
    pilot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pending when it goes, or made while it is away: either can never be answered."""
    answer = pilot.conn._answer
    not_answered: list[str] = []  # a silent client: each call reaches it, none is answered
    monkeypatch.setattr(pilot.conn, "_answer", lambda call, call_id: not_answered.append(call_id))

    async def read_a_preference() -> Any:
        return await ft.SharedPreferences().get("aegis.theme")

    pending = pilot.conn.track(read_a_preference())
    await wait_for(lambda: not_answered, 5, what="the call's turn to be answered to pass")
    assert not pending.done(), "the client never answers; the call waits"
    await pilot.session.disconnect(300)
    with pytest.raises(RuntimeError, match="Session closed"):
        await pending
    with pytest.raises(RuntimeError, match="the client is not connected"):
        await pilot.conn.track(read_a_preference())

    monkeypatch.setattr(pilot.conn, "_answer", answer)
    await pilot.reconnect()
    assert await pilot.conn.track(read_a_preference()) is None, "answered once it is back"
    assert callable(getattr(Session, SESSION_CANCEL_CALLS_ATTRIBUTE, None))
