"""A real ``aegis serve`` subprocess and Debian's Chromium, driven by Playwright.

``server`` starts ``python -m aegis_app.cli serve`` on a free port with its own data
directory, and can be restarted on the same port and data (``server.restart()``). Its
output goes to a log file that is printed when the test fails. ``browser`` is one
Chromium per test module; ``context`` a fresh profile (cookies, storage) per test.

Flutter draws to a canvas: call :func:`enable_semantics` after every page load
(including the reload that follows each sign-in) before using roles and text.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import require_executable
from tests.waiting import ConditionTimeout, wait_until

REPO = Path(__file__).resolve().parents[2]
HEALTH = "/api/v1/health"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
UI_TIMEOUT_MS = 20_000
# Assertions too: Playwright's own 5 s default is short for a loaded 2-core CI machine
# (the context's timeout covers actions, not expect()).
expect.set_options(timeout=UI_TIMEOUT_MS)
FULL_NAME = "Ada Lovelace"
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AegisServer:
    """One ``aegis serve`` process at a time, on a fixed port and data directory."""

    def __init__(self, data_dir: Path, log_path: Path, port: int) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.exit_codes: list[int] = []
        self.settings: dict[str, str] = {}
        """``AEGIS_*`` variables for the next start, on top of the test defaults."""

    def url(self, path: str = "/dashboard/") -> str:
        return self.base_url + path

    def start(self, timeout: float = 30.0) -> None:
        assert self.process is None, "already running"
        env = {
            **os.environ,
            "AEGIS_DATA_DIR": str(self.data_dir),
            # Evict closed tabs' Python sessions quickly (the minimum the settings allow).
            "AEGIS_FLET_SESSION_TIMEOUT_SECONDS": "10",
            "PYTHONUNBUFFERED": "1",
            **self.settings,
        }
        pythonpath = os.environ.get("PYTHONPATH", "")
        self._log = self.log_path.open("ab")
        self._log.write(f"----- start on port {self.port}\n".encode())
        self._log.flush()
        # cwd is the data dir, so a developer's .env in the repo cannot change the server.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aegis_app.cli", "serve", "--port", str(self.port)],
            cwd=self.data_dir,
            env={**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), pythonpath]))},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_healthy(timeout)
        except BaseException:
            self._abandon()
            raise

    def _wait_healthy(self, timeout: float) -> None:
        process = self.process
        assert process is not None

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"aegis serve exited with {process.returncode} while starting:\n" + self.log()
                )
            try:
                return httpx.get(self.url(HEALTH), timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_until(healthy, timeout, what="aegis serve's health check")
        except ConditionTimeout as error:
            raise AssertionError(f"{error}:\n{self.log()}") from None

    def _abandon(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self, timeout: float = 15.0) -> int:
        process, self.process = self.process, None
        assert process is not None, "not running"
        process.terminate()
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise AssertionError(f"aegis serve ignored SIGTERM for {timeout} s") from None
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
        # Uvicorn re-raises the SIGTERM it handled once shutdown is complete.
        assert code in (0, -signal.SIGTERM), f"aegis serve exited with {code}:\n{self.log()}"
        self.exit_codes.append(code)
        return code

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    # -- the API, for setting up state quickly (not what the tests are about) --

    def register(self, full_name: str = FULL_NAME, email: str = EMAIL) -> None:
        response = httpx.post(
            self.url("/api/v1/auth/register"),
            json={"full_name": full_name, "email": email, "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        # Leave no session behind but the ones a test makes.
        logout = httpx.post(self.url("/api/v1/auth/logout"), cookies=response.cookies)
        assert logout.status_code == 200, logout.text

    def login_token(self, email: str = EMAIL, user_agent: str = "Mozilla/5.0 (X11; Linux)") -> str:
        response = httpx.post(
            self.url("/api/v1/auth/login"),
            json={"email": email, "password": PASSWORD},
            headers={"user-agent": user_agent},
        )
        assert response.status_code == 200, response.text
        return response.cookies["aegis_session"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AegisServer]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    aegis = AegisServer(data_dir, tmp_path / "aegis-serve.log", free_port())
    aegis.start()
    yield aegis
    try:
        if aegis.process is not None:
            aegis.stop()
    finally:
        call = getattr(request.node, "report_call", None)
        if call is None or call.failed:
            print(f"===== aegis serve log ({aegis.log_path}) =====\n{aegis.log()}")


# Module scope, not session: the sync API keeps an asyncio loop running in this thread
# for as long as Playwright lives, and pytest-asyncio's tests after it would then fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_executable("chromium", "the browser tests drive Debian's Chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = new_context(browser)
    yield ctx
    ctx.close()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, context: BrowserContext, artifacts_dir: Path
) -> Iterator[Page]:
    tab = context.new_page()
    yield tab
    call = getattr(request.node, "report_call", None)
    if call is not None and call.failed and not tab.is_closed():
        # What the test saw: a screenshot, the accessibility tree it searched, and what
        # the early-typing script kept. A page that no longer draws must not turn the
        # failure into a second error here.
        shot = artifacts_dir / f"failed-{request.node.name}.png"
        for what, look in (
            ("screenshot", lambda: tab.screenshot(path=str(shot), timeout=10_000) and shot),
            ("page", lambda: f"{tab.url}\n{tab.locator('body').aria_snapshot(timeout=10_000)}"),
            ("early typing", lambda: tab.evaluate("JSON.stringify(window.aegisEarlyTyping)")),
        ):
            try:
                print(f"===== {what}: {look()!s:.20000}")
            except PlaywrightError as error:
                print(f"===== {what}: unavailable ({error.message.splitlines()[0]})")


# -- helpers for driving Flutter's semantics tree --


# Turns Flutter's accessibility tree on as soon as the engine offers it, on every page
# of the context. Turning it on later (after a view with an autofocused field is drawn)
# leaves Flutter typing into its own hidden <input>, so ``fill`` on the field is lost.
SEMANTICS_ON_LOAD = """
new MutationObserver(() => {
  document.querySelector("flt-semantics-placeholder")?.click();
}).observe(document, {childList: true, subtree: true});
"""


def new_context(browser: Browser) -> BrowserContext:
    ctx = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    ctx.set_default_timeout(UI_TIMEOUT_MS)
    ctx.add_init_script(SEMANTICS_ON_LOAD)
    return ctx


def enable_semantics(page: Page) -> None:
    """Wait for Flutter's accessibility tree; needed after every (re)load of the page."""
    page.wait_for_selector("flt-semantics-host", state="attached", timeout=30_000)
    page.evaluate("document.querySelector('flt-semantics-placeholder')?.click()")


def expect_location(page: Page, pattern: str, timeout: float = UI_TIMEOUT_MS) -> None:
    """The address bar matches ``pattern`` (a JS regex). ``page.url`` can lag behind
    Flutter's ``history.pushState``, so ask the page itself."""
    page.wait_for_function(
        "pattern => new RegExp(pattern).test(location.pathname + location.search)",
        arg=pattern,
        timeout=timeout,
    )


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    enable_semantics(page)


def textbox(page: Page, label: str) -> Any:
    return page.get_by_role("textbox", name=label)


def fill(page: Page, label: str, value: str) -> None:
    """Fill a field at once, as a password manager or a paste does (no retry: text typed
    before Flutter listens to a field is kept, see aegis_app/launch/early_typing.py)."""
    textbox(page, label).fill(value)


def shown(page: Page, text: str) -> Any:
    """Text on screen. Flutter merges plain texts into their container's accessible name
    (``aria-label``), so look there as well as in text nodes."""
    return page.get_by_text(text, exact=False).or_(page.get_by_label(text, exact=False))


def expect_shown(page: Page, text: str) -> None:
    expect(shown(page, text).first).to_be_visible()


def expect_not_shown(page: Page, text: str) -> None:
    expect(shown(page, text)).to_have_count(0)


def wait_for_form(page: Page, first_label: str) -> None:
    """The form is on screen: nothing more to wait for before typing into it."""
    expect(textbox(page, first_label)).to_be_visible()


def screenshot(page: Page, path: Path) -> None:
    """Save what the page shows once it is drawn and still (see :func:`still_screenshot`)."""
    path.write_bytes(still_screenshot(page, path.name))


def still_screenshot(page: Page, what: str = "the page") -> bytes:
    """What the page shows once it is drawn and still: Flutter paints a frame after the
    semantics tree that assertions read, and the last click's hover fades out."""
    page.mouse.move(0, VIEWPORT["height"] - 1)  # no hover highlight from the last click
    shots = [b""]

    def drawn_and_still() -> bool:
        shots.append(page.screenshot())
        return shots[-1] == shots[-2] and not is_blank(shots[-1])

    wait_until(drawn_and_still, UI_TIMEOUT_MS / 1000, what=f"a drawn, still page for {what}")
    return shots[-1]


def is_blank(png: bytes) -> bool:
    """One colour all over (nothing drawn yet). A PNG's filtered rows of a single colour
    hold only a few distinct byte values; any text or edge brings hundreds."""
    position, data = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        if kind == b"IDAT":
            data += png[position + 8 : position + 8 + length]
        position += 12 + length
    return len(set(zlib.decompress(data))) <= 16
