"""Each kind of failed request is shown in its own words, by a real view.

The sign-in page asks the server whether sign-up is open as it opens, so a server that
cannot answer is what the user sees first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import flet as ft
import httpx
import pytest

from aegis_app.api_client import TIMED_OUT, unreachable
from aegis_app.target import Target
from aegis_app.views.auth import SignInView
from tests.aegis_app.pilot import InMemorySessionCookieStore, Pilot
from tests.aegis_app.ui_support import ADA, Backend, MakePilot, unused_port


async def sign_in_page_against(client: Callable[[], httpx.AsyncClient]) -> Pilot:
    store = InMemorySessionCookieStore()
    pilot = Pilot(Target(lambda page: client(), lambda page, api: store), route="/login")
    return await pilot.start()


def error_shown(pilot: Pilot) -> str:
    view = pilot.view_as(SignInView)
    assert view.error_text.visible, f"no error shown; visible texts: {pilot.texts()}"
    return view.error_text.value or ""


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A real server on a real socket that reads each request and never answers."""
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await release.wait()  # the slowness under test: no answer until the test ends
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    release.set()
    server.close()
    await server.wait_closed()


async def test_an_unreachable_server_is_named_with_its_address() -> None:
    port = unused_port()
    pilot = await sign_in_page_against(
        lambda: httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    )
    try:
        assert error_shown(pilot) == unreachable(f"127.0.0.1:{port}")
        assert error_shown(pilot).startswith(f"Cannot reach the Aegis server at 127.0.0.1:{port}.")
    finally:
        await pilot.close()
    assert not pilot.conn.crashes


async def test_a_server_that_does_not_answer_in_time_says_so(silent_server: int) -> None:
    pilot = await sign_in_page_against(
        lambda: httpx.AsyncClient(base_url=f"http://127.0.0.1:{silent_server}", timeout=0.3)
    )
    try:
        assert error_shown(pilot) == TIMED_OUT
        assert "did not answer in time" in TIMED_OUT
    finally:
        await pilot.close()
    assert not pilot.conn.crashes


async def test_a_refusal_shows_the_servers_own_words(make_pilot: MakePilot, ada: object) -> None:
    pilot = await make_pilot("/login")
    await pilot.fill("Email", ADA["email"])
    await pilot.fill("Password", "not the password")
    await pilot.click("Sign in", ft.FilledButton)
    assert error_shown(pilot) == "Incorrect email or password."


async def test_a_database_outage_shows_the_servers_words(
    make_pilot: MakePilot, ui_backend: Backend
) -> None:
    with ui_backend.database_gone():
        pilot = await make_pilot("/login")
        message = error_shown(pilot)
    assert message.startswith("The database "), message
    assert message != unreachable("aegis.internal"), "the server answered: not unreachable"
