"""Steps shared by the browser tests: signing in, the navigation, what is on screen.

The fixtures and the low-level helpers for Flutter's semantics tree are in
``conftest.py``; this module builds on them.
"""

from __future__ import annotations

import base64
import re

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser.conftest import (
    EMAIL,
    FULL_NAME,
    PASSWORD,
    UI_TIMEOUT_MS,
    AegisServer,
    enable_semantics,
    expect_location,
    expect_shown,
    fill,
    new_context,
    textbox,
    wait_for_form,
)

WELCOME = f"Welcome, {FULL_NAME}"
SIGN_IN_URL = r"^/dashboard/login(\?.*)?$"
HANDOFF = "/api/v1/auth/handoff/"


def submit_and_reload(page: Page, button: str) -> None:
    """Click a sign-in/sign-up button and wait for the hand-off's new document."""
    handoffs: list[str] = []
    page.on("request", lambda r: handoffs.append(r.url) if HANDOFF in r.url else None)
    # "load" fires only for a new document, never for the client's own pushState.
    with page.expect_event("load", timeout=UI_TIMEOUT_MS):
        page.get_by_role("button", name=button, exact=True).click()
    assert handoffs, "signing in did not go through the cookie hand-off"
    enable_semantics(page)


def sign_in(page: Page, email: str = EMAIL, password: str = PASSWORD) -> None:
    wait_for_form(page, "Email")
    fill(page, "Email", email)
    fill(page, "Password", password)
    submit_and_reload(page, "Sign in")


def expect_dashboard(page: Page, welcome: str = WELCOME) -> None:
    expect_shown(page, welcome)
    expect_location(page, r"/dashboard/$")


def expect_sign_in_view(page: Page) -> None:
    expect(textbox(page, "Email")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect_location(page, SIGN_IN_URL)


def signed_in_context(
    browser: Browser,
    server: AegisServer,
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0",
) -> BrowserContext:
    """Another device: a browser profile holding a session cookie of its own."""
    context = new_context(browser)
    add_session_cookie(context, server, user_agent)
    return context


def add_session_cookie(
    context: BrowserContext,
    server: AegisServer,
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0",
) -> None:
    token = server.login_token(user_agent=user_agent)
    context.add_cookies(
        [{"name": "aegis_session", "value": token, "url": server.base_url, "httpOnly": True}]
    )


def rail_entry(page: Page, title: str) -> Locator:
    """A navigation rail destination; Flutter names it "<title> Tab <i> of <n>"."""
    return page.get_by_role("button", name=re.compile(rf"^{re.escape(title)} Tab \d+ of \d+$"))


def rail_titles(page: Page) -> list[str]:
    names = page.get_by_role("button", name=re.compile(r" Tab \d+ of \d+$"))
    labels = [names.nth(i).text_content() or "" for i in range(names.count())]
    return [re.sub(r"\s+Tab \d+ of \d+$", "", label).strip() for label in labels]


def go_via_rail(page: Page, title: str, path: str) -> None:
    """Click a rail destination and wait for the address bar to follow."""
    rail_entry(page, title).click()
    expect_location(page, rf"/dashboard{re.escape(path)}$")


def go_to_sessions(page: Page) -> None:
    """Through the navigation rail, which needs a live, signed-in Python session."""
    go_via_rail(page, "Sessions", "/sessions")
    expect_shown(page, "This session")


# Everything Flutter's semantics tree says, as one string: text nodes, and the
# ``aria-label`` of nodes whose texts were merged into their container.
SCREEN_TEXT = """() => [...document.querySelectorAll("flt-semantics-host *")]
    .map((e) => [e.getAttribute("aria-label") ?? "",
                 ...[...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent)]
                .join(" "))
    .join(" ").replace(/\\s+/g, " ")"""


def screen_text(page: Page) -> str:
    text: str = page.evaluate(SCREEN_TEXT)
    return text


def wait_for_text(page: Page, pattern: str, timeout: float = UI_TIMEOUT_MS) -> str:
    """Wait until the screen's text matches ``pattern`` (a JS regex); return the text."""
    page.wait_for_function(
        f"pattern => new RegExp(pattern).test(({SCREEN_TEXT})())", arg=pattern, timeout=timeout
    )
    return screen_text(page)


def pixel(page: Page, png: bytes, x: int, y: int) -> tuple[int, int, int]:
    """The colour of one pixel of a screenshot, decoded by the browser itself."""
    [rgb] = pixel_row(page, png, y, x, x + 1)
    return rgb


def pixel_row(page: Page, png: bytes, y: int, x_from: int, x_to: int) -> list[tuple[int, int, int]]:
    """The colours of the pixels ``x_from`` to ``x_to`` (excluded) of row ``y``."""
    data: list[int] = page.evaluate(
        """async ([data, x, y, width]) => {
            const blob = await (await fetch("data:image/png;base64," + data)).blob();
            const bitmap = await createImageBitmap(blob);
            const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
            const context = canvas.getContext("2d");
            context.drawImage(bitmap, 0, 0);
            return [...context.getImageData(x, y, width, 1).data];
        }""",
        [base64.b64encode(png).decode(), x_from, y, x_to - x_from],
    )
    return [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 4)]


def brightness(rgb: tuple[int, int, int]) -> float:
    red, green, blue = rgb
    return 0.299 * red + 0.587 * green + 0.114 * blue
