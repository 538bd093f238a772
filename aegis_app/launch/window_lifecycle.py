"""Opening and closing the native window, including on SIGTERM/SIGINT.

``ft.run`` installs ``signal.signal`` handlers that only wake a web server, so in
desktop mode a SIGTERM is swallowed and the window stays open. We run Flet in our own
loop, replace those handlers once Flet has installed them, and close the window
ourselves: politely first (``page.window.destroy()``), then by terminating the client
process. When the client exits, ``ft.run_async`` returns and the caller stops the
backend. A second signal kills the client at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    import flet as ft

log = logging.getLogger("aegis.desktop.window")

CLOSE_TIMEOUT = 3.0
NO_DISPLAY = (
    "Aegis cannot open its window: there is no graphical display (DISPLAY is not set). "
    "Start it from a desktop session, or run `aegis serve` and use a browser."
)


def under_flet_run() -> bool:
    """``flet run`` (hot reload) owns the window and restarts us with SIGTERM."""
    return bool(os.environ.get("FLET_DISPLAY_URL_PREFIX"))


def is_linux_server() -> bool:
    """``flet.utils.is_linux_server()`` without importing Flet (0.3 s, before the backend
    starts): Linux that is not WSL, with no ``DISPLAY``. Pinned to Flet's own by a test."""
    if os.environ.get("FLET_PLATFORM") in ("android", "ios") or platform.system() != "Linux":
        return False
    try:
        with open("/proc/version", encoding="utf-8") as version:
            if "microsoft" in version.read():
                return False  # WSL has a display of its own
    except FileNotFoundError:
        pass
    return os.environ.get("DISPLAY") is None


def cannot_open_window() -> str | None:
    """Why a native window cannot open here, in words; ``None`` if it can.

    Without a display Flet silently serves a web page on port 8000 instead.
    """
    if under_flet_run():
        return None
    if os.environ.get("FLET_FORCE_WEB_SERVER") or is_linux_server():
        return NO_DISPLAY
    return None


def client_processes() -> list[psutil.Process]:
    """The Flet client is started as a direct child of this process (zombies excluded)."""
    alive = []
    for child in psutil.Process().children(recursive=False):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
    return alive


def signal_clients(sig: signal.Signals) -> None:
    for child in client_processes():
        with contextlib.suppress(psutil.Error):
            log.info("sending %s to the window process %d", sig.name, child.pid)
            child.send_signal(sig)


class WindowLifecycle:
    def __init__(self) -> None:
        self.page: ft.Page | None = None
        self.quit_requested = False
        self._closing: asyncio.Task[None] | None = None

    def attach(self, page: ft.Page) -> None:
        """Called at the start of ``main``: from now on the window can be closed politely."""
        self.page = page
        if self.quit_requested:  # the signal came while the window was still starting
            self._closing = asyncio.get_running_loop().create_task(self.close_window())

    async def run(self, main: Callable[[ft.Page], Awaitable[None]]) -> None:
        import flet as ft

        loop = asyncio.get_running_loop()
        flet_task = asyncio.create_task(ft.run_async(main, view=ft.AppView.FLET_APP))
        await asyncio.sleep(0)  # ft.run_async installs its signal handlers in its first step
        installed = [] if under_flet_run() else self._install_signal_handlers(loop)
        try:
            await flet_task
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            if self._closing is not None and not self._closing.done():
                self._closing.cancel()
            await self._reap_clients()

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(sig) is signal.SIG_DFL:
                # Flet's handler resets to SIG_DFL once it has run: a signal came in
                # between Flet installing its handler and us replacing it.
                self._on_signal(sig)
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # Windows: keep Flet's handlers
                log.debug("cannot handle %s in the event loop on %s", sig.name, sys.platform)
                continue
            installed.append(sig)
        return installed

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.quit_requested:
            log.warning("%s received again: killing the window", sig.name)
            signal_clients(signal.SIGKILL)
            return
        log.info("%s received: closing the window", sig.name)
        self.quit_requested = True
        self._closing = asyncio.get_running_loop().create_task(self.close_window())

    async def close_window(self) -> None:
        if self.page is not None:
            try:
                closing = self.page.window.destroy()  # type: ignore[no-untyped-call]
                await asyncio.wait_for(closing, CLOSE_TIMEOUT)
            except Exception as error:  # the client may exit before it answers
                log.info("window close request ended with %s", type(error).__name__)
        else:
            signal_clients(signal.SIGTERM)
        if not await _wait_for_clients_gone(CLOSE_TIMEOUT):
            log.warning("the window did not close within %.0f s; terminating it", CLOSE_TIMEOUT)
            signal_clients(signal.SIGTERM)

    async def _reap_clients(self) -> None:
        """Nothing of ours may outlive us: a client still running here is stopped."""
        if not client_processes():
            return
        signal_clients(signal.SIGTERM)
        if not await _wait_for_clients_gone(CLOSE_TIMEOUT):
            signal_clients(signal.SIGKILL)


async def _wait_for_clients_gone(seconds: float) -> bool:
    # Polled: waiting on the child ourselves (psutil.wait_procs) would reap it from
    # under asyncio's child watcher, which Flet is using to await the same process.
    try:
        async with asyncio.timeout(seconds):
            while client_processes():  # noqa: ASYNC110 - see above
                await asyncio.sleep(0.1)
    except TimeoutError:
        return False
    return True
