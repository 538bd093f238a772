"""Desktop target: the shared view tree in a native Flet window, API in a thread.

The window is one Flet session. Its ``APIClient`` talks HTTP to the embedded backend
on ``127.0.0.1:<random port>`` with the launch secret; the session cookie is kept in
the OS keyring between launches. Views, routing and state are the web target's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import signal

import flet as ft
import httpx

from aegis_app.api_client import APIClient
from aegis_app.app import SessionHandler, create_frontend_app
from aegis_app.launch.desktop_self_test import self_test
from aegis_app.launch.embedded_backend import (
    BackendStartError,
    EmbeddedBackend,
    seconds_since_process_start,
)
from aegis_app.launch.keyring_store import KeyringCookieStore
from aegis_app.launch.window_lifecycle import WindowLifecycle, cannot_open_window
from aegis_app.metadata import app_metadata
from aegis_app.target import API_TIMEOUT, Target
from backend.core.config import Settings
from backend.core.logging import configure_logging

log = logging.getLogger("aegis.desktop")

USER_AGENT = f"Aegis desktop ({platform.system() or 'unknown OS'})"

__all__ = ["desktop_target", "run_desktop", "self_test"]


def desktop_target(backend: EmbeddedBackend) -> Target:
    def new_http_client(page: ft.Page) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=backend.base_url,
            headers={**backend.auth_headers, "user-agent": USER_AGENT},
            timeout=API_TIMEOUT,
            trust_env=False,  # never send loopback traffic (and the secret) to a proxy
        )

    def new_cookie_store(page: ft.Page, api: APIClient) -> KeyringCookieStore:
        return KeyringCookieStore()

    return Target("desktop", new_http_client, new_cookie_store)


def window_main(frontend_main: SessionHandler, lifecycle: WindowLifecycle) -> SessionHandler:
    """The shared ``main`` with the window's title and size from ``flet.toml``."""
    meta = app_metadata()

    async def main(page: ft.Page) -> None:
        lifecycle.attach(page)
        log.info("window connected (%.3f s after process start)", seconds_since_process_start())
        page.title = meta.window_title
        page.window.width = meta.window_width
        page.window.height = meta.window_height
        page.window.min_width = meta.window_min_width
        page.window.min_height = meta.window_min_height
        # Sent now: when the first view redirects, push_route reaches the client before
        # the first update, and window sizes set before it were then never applied.
        page.update()
        await frontend_main(page)
        log.info(
            "first view shown: %s (%.3f s after process start)",
            page.title,
            seconds_since_process_start(),
        )

    return main


START_ERROR_TITLE = "Aegis could not start"


def start_error_main(message: str) -> SessionHandler:
    """A window that only says why the app could not start, with a way to close it."""
    meta = app_metadata()

    async def main(page: ft.Page) -> None:
        async def close(_: ft.Event[ft.Button]) -> None:
            await page.window.destroy()  # type: ignore[no-untyped-call]

        page.title = START_ERROR_TITLE
        page.window.width = min(meta.window_width, 720)
        page.window.height = min(meta.window_height, 420)
        page.theme = ft.Theme(color_scheme_seed=ft.Colors.INDIGO)
        page.padding = 32
        page.add(
            ft.Column(
                spacing=16,
                controls=[
                    ft.Row(
                        [
                            ft.Icon(ft.Icons.ERROR_OUTLINE, color=ft.Colors.ERROR, size=32),
                            ft.Text(START_ERROR_TITLE, size=24, weight=ft.FontWeight.BOLD),
                        ]
                    ),
                    ft.Text(message, selectable=True),
                    ft.FilledButton("Close", on_click=close),
                ],
            )
        )

    return main


def run_desktop() -> int:
    """``aegis desktop``: backend first (so the first view's data is ready), then the window."""
    settings = Settings()
    configure_logging(settings, "desktop")
    problem = cannot_open_window()
    if problem is not None:
        log.error("%s", problem)
        return 2
    # GTK would otherwise start accessibility-bus processes that can outlive the window.
    os.environ.setdefault("NO_AT_BRIDGE", "1")
    # Until the window's own handling is installed, SIGTERM stops us like Ctrl+C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    backend = EmbeddedBackend(settings)
    try:
        backend.start()
    except BackendStartError as error:
        log.error("%s", error)
        # Started from a desktop icon there is no console: say it in a window too.
        asyncio.run(WindowLifecycle().run(start_error_main(str(error))))
        return 1
    except KeyboardInterrupt:
        log.info("stopped while the backend was starting")
        backend.stop()
        return 0
    lifecycle = WindowLifecycle()
    exit_code = 0
    try:
        frontend = create_frontend_app(desktop_target(backend))
        asyncio.run(lifecycle.run(window_main(frontend, lifecycle)))
        log.info("window closed%s", " on request" if lifecycle.quit_requested else "")
    except KeyboardInterrupt:
        log.info("stopped before the window was ready")
    except Exception:
        log.exception("the desktop window failed")
        exit_code = 1
    finally:
        backend.stop()
    return exit_code
