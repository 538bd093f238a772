"""Workarounds for flet-web 0.82.2, kept in one place. Each is pinned by a test.

1. Mounted under a sub-path, the 0.82.2 web client fetches ``/canvaskit/...`` from the
   server root (404; the page never leaves the loading logo) and resolves its WebSocket
   endpoint against the root (``/ws``: 403, reconnect loop). 1.0.x fixed both. We serve
   flet-web's ``canvaskit`` folder at ``/canvaskit`` and give the static-files app the
   absolute WebSocket path.
2. flet#6512: a duplicated tab (or ``window.open`` of the same URL) copies
   ``sessionStorage`` and re-attaches to the *live* Python session of the first tab, which
   then goes dead. Upstream's fix (PR #6513, 1.0.x) only re-attaches to a session with no
   live connection; we backport exactly that. A reload still re-attaches, because by
   then the old connection is gone.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import flet_web
from fastapi import FastAPI
from flet_web.fastapi.flet_app_manager import FletAppManager
from flet_web.fastapi.flet_static_files import FletStaticFiles
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

WEBSOCKET_PATH_ATTRIBUTE = "_FletStaticFiles__websocket_endpoint_path"


def canvaskit_dir() -> Path:
    return Path(flet_web.get_package_web_dir()) / "canvaskit"


def find_static_files(flet_app: FastAPI) -> FletStaticFiles:
    for route in flet_app.routes:
        if isinstance(route, Mount) and isinstance(route.app, FletStaticFiles):
            return route.app
    raise RuntimeError("flet-web layout changed: no FletStaticFiles mount in the Flet app")


def fix_sub_path(outer: FastAPI, flet_app: FastAPI, mount_path: str) -> None:
    static = find_static_files(flet_app)
    if not hasattr(static, WEBSOCKET_PATH_ATTRIBUTE):
        raise RuntimeError("flet-web changed: FletStaticFiles has no websocket path attribute")
    setattr(static, WEBSOCKET_PATH_ATTRIBUTE, f"{mount_path}/ws")
    outer.mount("/canvaskit", StaticFiles(directory=canvaskit_dir()), name="flet-canvaskit")


def backport_one_tab_per_session() -> None:
    """Idempotent: wraps ``FletAppManager.get_session`` once per process."""
    original = FletAppManager.get_session
    if getattr(original, "_aegis_one_tab_per_session", False):
        return

    @functools.wraps(original)
    async def get_session(self: FletAppManager, session_id: str) -> Any:
        session = await original(self, session_id)
        if session is not None and session.connection is not None:
            return None  # live elsewhere: this tab must get a session of its own
        return session

    get_session._aegis_one_tab_per_session = True  # type: ignore[attr-defined]
    FletAppManager.get_session = get_session


def mount_flet(outer: FastAPI, flet_app: FastAPI, mount_path: str, wrap: Any = None) -> None:
    """Mount the Flet sub-app at ``mount_path`` with every workaround applied."""
    fix_sub_path(outer, flet_app, mount_path)
    backport_one_tab_per_session()
    app: ASGIApp = wrap(flet_app) if wrap is not None else flet_app
    outer.mount(mount_path, app, name="dashboard")
