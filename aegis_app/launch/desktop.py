"""Desktop target: the shared view tree in a native Flet window, API in a thread.

The window is one Flet session. Its ``APIClient`` talks HTTP to the embedded backend
on ``127.0.0.1:<random port>`` with the launch secret; the session cookie is kept in
the OS keyring between launches. Views, routing and state are the web target's.

Start-up (issue 10): this module imports nothing heavy and reads the start clock first.
:func:`run_desktop` starts the backend's thread (it imports the API, migrates, listens),
imports Flet beside it and starts the window's client process, which takes about 0.8 s
of its own on another core. The views are imported in a thread of their own once the
backend answers, while the client is still starting; the window's ``main`` waits for
them. The threads share one interpreter, so their imports take turns; what runs in
parallel is the client's start. The self-test's module is imported only by
``aegis desktop --self-test``.
"""

from __future__ import annotations

from aegis_app.launch.start_clock import since_start  # first: the clock starts

# isort: split
import asyncio
import concurrent.futures
import logging
import os
import platform
import signal
import sys
import threading
from typing import TYPE_CHECKING

from aegis_app.launch.embedded_backend import BackendStartError, EmbeddedBackend
from aegis_app.metadata import app_metadata
from backend.core.config import Settings
from backend.core.logging import configure_logging

if TYPE_CHECKING:
    import flet as ft
    import httpx

    from aegis_app.api_client import APIClient
    from aegis_app.app import SessionHandler
    from aegis_app.launch.keyring_store import KeyringCookieStore
    from aegis_app.launch.window_lifecycle import WindowLifecycle
    from aegis_app.target import Target

log = logging.getLogger("aegis.desktop")

USER_AGENT = f"Aegis desktop ({platform.system() or 'unknown OS'})"

__all__ = ["desktop_target", "run_desktop", "self_test"]


def self_test() -> int:
    """``aegis desktop --self-test`` (its module is imported only when asked for)."""
    from aegis_app.launch.desktop_self_test import self_test as run_self_test

    return run_self_test()


def desktop_target(backend: EmbeddedBackend) -> Target[KeyringCookieStore]:
    import httpx

    from aegis_app.launch.keyring_store import KeyringCookieStore
    from aegis_app.target import API_TIMEOUT, Target

    def new_http_client(page: ft.Page) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=backend.base_url,
            headers={**backend.auth_headers, "user-agent": USER_AGENT},
            timeout=API_TIMEOUT,
            trust_env=False,  # never send loopback traffic (and the secret) to a proxy
        )

    def new_cookie_store(page: ft.Page, api: APIClient) -> KeyringCookieStore:
        return KeyringCookieStore()

    return Target(new_http_client, new_cookie_store)


def _prepare_views(backend: EmbeddedBackend) -> SessionHandler:
    """The shared ``main``, once the backend answers (raises its BackendStartError)."""
    backend.wait_ready()
    # Imported after the backend is ready, while the client starts: the two threads
    # share one interpreter, and the backend is what the first view waits for first.
    from aegis_app.app import create_frontend_app

    frontend = create_frontend_app(desktop_target(backend))
    log.info("views ready (%s)", since_start())
    return frontend


def prepare_views(backend: EmbeddedBackend) -> concurrent.futures.Future[SessionHandler]:
    """Run :func:`_prepare_views` in a thread of its own; its result or error, later."""
    future: concurrent.futures.Future[SessionHandler] = concurrent.futures.Future()
    # Running from now on, so it cannot be cancelled: a window closed while it waits
    # cancels its asyncio wrapper only, and the thread can still hand over its result.
    future.set_running_or_notify_cancel()

    def work() -> None:
        try:
            future.set_result(_prepare_views(backend))
        except BaseException as error:  # handed to main(), which says it in the window
            future.set_exception(error)

    threading.Thread(target=work, name="aegis-views", daemon=True).start()
    return future


def window_main(
    views: concurrent.futures.Future[SessionHandler], lifecycle: WindowLifecycle
) -> SessionHandler:
    """The window's ``main``: title and size from ``flet.toml``, then the shared ``main``.

    If the backend could not start, the same window says why instead.
    """
    meta = app_metadata()

    async def main(page: ft.Page) -> None:
        lifecycle.attach(page)
        log.info("window connected (%s)", since_start())
        page.title = meta.window_title
        page.window.width = meta.window_width
        page.window.height = meta.window_height
        page.window.min_width = meta.window_min_width
        page.window.min_height = meta.window_min_height
        # Sent now: when the first view redirects, push_route reaches the client before
        # the first update, and window sizes set before it were then never applied.
        page.update()
        try:
            frontend_main = await asyncio.wrap_future(views)
        except BackendStartError as error:  # run_desktop() exits with 1 for it
            log.error("%s", error)
            await start_error_main(str(error))(page)
            return
        await frontend_main(page)
        log.info(
            "first view shown: %s (%s)",
            page.title,
            since_start(),
        )

    return main


START_ERROR_TITLE = "Aegis could not start"


def start_error_main(message: str) -> SessionHandler:
    """A window that only says why the app could not start, with a way to close it."""
    import flet as ft

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


def load_window_modules() -> type[WindowLifecycle]:
    """Flet and what the window needs before its client starts; Flet's diff patched."""
    from flet.messaging.flet_socket_server import FletSocketServer

    from aegis_app.launch.flet_diff_patch import (
        remember_root_fields,
        skip_eager_debug_formatting,
        skip_eager_send_logging,
    )
    from aegis_app.launch.flet_hints_patch import remember_type_hints
    from aegis_app.launch.window_lifecycle import WindowLifecycle

    skip_eager_debug_formatting()
    skip_eager_send_logging(FletSocketServer)
    remember_root_fields()
    remember_type_hints()
    log.info("Flet imported (%s)", since_start())
    return WindowLifecycle


HTTPX_CLI = "httpx._main"


def leave_out_httpx_cli() -> None:
    """httpx imports its command line client (rich, pygments: about 0.1 s) whenever they
    are installed, as they are beside the dev tools and in the bundle. The desktop never
    runs it; a ``None`` in ``sys.modules`` makes that import fail, and httpx then defines
    a stub ``main`` instead (its own fallback for a missing ``httpx[cli]``)."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault(HTTPX_CLI, None)  # type: ignore[arg-type]  # documented: "no such module"


def run_desktop() -> int:
    """``aegis desktop``: the backend's thread first, then the window beside it."""
    from aegis_app.launch.window_lifecycle import cannot_open_window

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
    leave_out_httpx_cli()
    backend = EmbeddedBackend(settings)
    exit_code = 0
    try:
        backend.begin()
        lifecycle = load_window_modules()()
        views = prepare_views(backend)
        asyncio.run(lifecycle.run(window_main(views, lifecycle)))
        log.info("window closed%s", " on request" if lifecycle.quit_requested else "")
        if views.done() and isinstance(views.exception(), BackendStartError):
            exit_code = 1
    except BackendStartError as error:  # no port for it: a window says only that
        log.error("%s", error)
        # Started from a desktop icon there is no console: say it in a window too.
        asyncio.run(load_window_modules()().run(start_error_main(str(error))))
        exit_code = 1
    except KeyboardInterrupt:
        log.info("stopped before the window was ready")
    except Exception:
        log.exception("the desktop window failed")
        exit_code = 1
    finally:
        backend.stop()
    return exit_code
