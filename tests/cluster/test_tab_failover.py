"""A browser tab outlives the instance that holds it.

Chromium signs in through HAProxy and opens the users page; the instance its Flet
session lives on (named by HAProxy's stickiness cookie) is killed with SIGKILL. Flet's
client reconnects; HAProxy finds the dead port and sends the WebSocket to the other
instance, where a fresh Flet session reads the ``aegis_session`` cookie from the
handshake and signs in, on the route the client reports. The tab must show the users
page again, signed in and live, within 15 s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from deploy.cluster import Cluster
from tests.browser.browser_support import go_via_rail, sign_in, wait_for_text
from tests.browser.conftest import (
    CHROMIUM_ARGS,
    enable_semantics,
    expect_location,
    expect_shown,
    new_context,
    open_page,
    screenshot,
)
from tests.cluster.cluster_support import (
    ADMIN_EMAIL,
    API,
    PASSWORD,
    STICKY,
    Figures,
    client,
)
from tests.conftest import require_executable

pytestmark = pytest.mark.browser

FAILOVER_SECONDS = 15


# Module scope: Playwright's sync API keeps an event loop in this thread while it lives.
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


def rename(cluster: Cluster, token: str, full_name: str) -> None:
    with client(cluster.balancer.base_url, token=token) as http:
        response = http.patch(f"{API}/auth/me", json={"full_name": full_name})
    assert response.status_code == 200, response.text


def test_a_tab_reconnects_to_the_other_instance_signed_in_on_the_same_route(
    cluster: Cluster,
    admin_token: str,
    context: BrowserContext,
    figures: Figures,
    artifacts_dir: Path,
) -> None:
    rename(cluster, admin_token, "Ada Admin")
    page: Page = context.new_page()
    open_page(page, cluster.balancer.url())
    sign_in(page, ADMIN_EMAIL, PASSWORD)
    expect_shown(page, "Welcome, Ada Admin")
    go_via_rail(page, "Users", "/users")
    expect_shown(page, "Ada Admin")  # the first row: the first account

    (holder,) = [c["value"] for c in context.cookies() if c["name"] == STICKY]
    survivor = next(i.name for i in cluster.instances if i.name != holder)
    # A name the tab has not drawn: only a live session, reading the database again,
    # can show it.
    new_name = f"Ada Failover {uuid.uuid4().hex[:6]}"
    rename(cluster, admin_token, new_name)

    killed_at = time.monotonic()
    cluster.instance(holder).kill()
    # Twice: in the top bar (the session signed in again) and in the users table (the
    # route's view loaded its data on the new instance).
    wait_for_text(page, f"{new_name}[\\s\\S]*{new_name}", timeout=(FAILOVER_SECONDS + 15) * 1000)
    seconds = time.monotonic() - killed_at
    figures.add(
        f"tab failover: instance {holder} killed with SIGKILL, the tab was live on "
        f"instance {survivor}, signed in on /dashboard/users, {seconds:.1f} s later"
    )

    expect_location(page, r"/dashboard/users$")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_have_count(0)
    (now_on,) = [c["value"] for c in context.cookies() if c["name"] == STICKY]
    assert now_on == survivor
    screenshot(page, artifacts_dir / "cluster-tab-after-failover.png")
    assert seconds < FAILOVER_SECONDS
    # Live, not a picture: the rail still navigates, and a reload stays signed in.
    go_via_rail(page, "Sessions", "/sessions")
    expect_shown(page, "This session")
    page.reload()
    enable_semantics(page)
    expect_shown(page, "This session")
    rename(cluster, admin_token, "Ada Admin")
