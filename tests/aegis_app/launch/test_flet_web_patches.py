"""Pins the flet-web 0.82.2 workarounds in ``aegis_app.launch.flet_web_patches``.

If a Flet upgrade changes what they patch, these fail: then re-check each workaround
against the new release (1.0.x fixed both sub-path bugs and flet#6512 upstream) and
drop the ones it no longer needs.

The multi-tab check talks Flet's wire protocol over the real ``/dashboard/ws``: in
0.82.2 every binary frame is ``msgpack.packb([action, body])`` with no type byte.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import msgpack
import pytest
from flet_web.fastapi.flet_app_manager import FletAppManager

from aegis_app.launch.flet_web_patches import (
    WEBSOCKET_PATH_ATTRIBUTE,
    backport_one_tab_per_session,
    canvaskit_dir,
)
from aegis_app.launch.web import create_web_app
from backend.core.config import Settings

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


def test_one_tab_per_session_backport_is_installed_once() -> None:
    backport_one_tab_per_session()
    backport_one_tab_per_session()
    wrapped = FletAppManager.get_session
    assert getattr(wrapped, "_aegis_one_tab_per_session", False)
    assert not getattr(wrapped.__wrapped__, "_aegis_one_tab_per_session", False)  # type: ignore[attr-defined]


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


def test_a_duplicated_tab_gets_its_own_session_and_a_reload_re_attaches(
    client: TestClient,
) -> None:
    with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as first:
        first_id = register(first, None)["session_id"]
        # A duplicated tab: same sessionStorage, so the same id, while the first is live.
        with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as duplicate:
            duplicate_id = register(duplicate, first_id)["session_id"]
        assert duplicate_id != first_id, "flet#6512: the duplicate took over the live session"

    # The first tab reloads: its old connection is gone, so it gets its session back.
    # (The server notices the close asynchronously; give it a moment.)
    deadline = time.monotonic() + 5
    while True:
        with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as reloaded:
            reloaded_id = register(reloaded, first_id)["session_id"]
        if reloaded_id == first_id or time.monotonic() > deadline:
            break
        time.sleep(0.1)
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
    monkeypatch.setattr(FletAppManager, "get_session", FletAppManager.get_session.__wrapped__)  # type: ignore[attr-defined]
    with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as first:
        first_id = register(first, None)["session_id"]
        with client.websocket_connect("/dashboard/ws", headers=SAME_ORIGIN) as duplicate:
            assert register(duplicate, first_id)["session_id"] == first_id
