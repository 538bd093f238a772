"""SessionState: silent sign-in from a stored cookie, and sign-out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from aegis_app.api_client import APIClient, unreachable
from aegis_app.state import SessionState
from tests.aegis_app.pilot import BASE_URL, InMemorySessionCookieStore
from tests.aegis_app.ui_support import ADA, Backend, unused_port

Ada = tuple[dict[str, Any], str]


def new_state(app: Any, token: str | None) -> SessionState:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    api = APIClient(httpx.AsyncClient(transport=transport, base_url=BASE_URL))
    return SessionState(api, InMemorySessionCookieStore(token))


@pytest.fixture
async def states(ui_backend: Backend) -> AsyncIterator[list[SessionState]]:
    made: list[SessionState] = []
    yield made
    for state in made:
        await state.close()


def store_of(state: SessionState) -> InMemorySessionCookieStore:
    store = state.cookie_store
    assert isinstance(store, InMemorySessionCookieStore)
    return store


async def test_restore_with_a_valid_token_signs_in_silently(
    ui_backend: Backend, ada: Ada, states: list[SessionState]
) -> None:
    state = new_state(ui_backend.app, ada[1])
    states.append(state)
    assert await state.restore() is True
    assert state.signed_in
    assert state.user is not None
    assert (state.user.email, state.user.full_name, state.user.is_admin) == (
        ADA["email"],
        ADA["full_name"],
        True,
    )
    assert state.notice is None
    assert state.api.session_token == ada[1]
    assert store_of(state).saved == [], "the stored cookie is still right"


async def test_restore_with_a_garbage_token_clears_the_store_quietly(
    ui_backend: Backend, states: list[SessionState]
) -> None:
    state = new_state(ui_backend.app, "not-a-real-token")
    states.append(state)
    assert await state.restore() is False
    assert not state.signed_in
    assert store_of(state).token is None
    assert store_of(state).saved == [None]
    assert state.api.session_token is None
    assert state.notice is None, "an old cookie is no news to the user"


async def test_restore_without_a_token_asks_nothing(
    ui_backend: Backend, states: list[SessionState]
) -> None:
    state = new_state(ui_backend.app, None)
    states.append(state)
    assert await state.restore() is False
    assert store_of(state).saved == []
    assert state.notice is None


async def test_restore_while_the_server_is_down_keeps_the_cookie_and_says_why(
    states: list[SessionState],
) -> None:
    port = unused_port()  # nothing listens there: the connection is refused
    api = APIClient(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}"))
    state = SessionState(api, InMemorySessionCookieStore("a-token"))
    states.append(state)
    assert await state.restore() is False
    assert state.notice == unreachable(f"127.0.0.1:{port}")
    assert store_of(state).token == "a-token", "the session may well still be valid"


async def test_sign_out_ends_the_session_and_clears_the_store(
    ui_backend: Backend, ada: Ada, states: list[SessionState]
) -> None:
    state = new_state(ui_backend.app, ada[1])
    states.append(state)
    await state.restore()
    await state.sign_out()
    assert not state.signed_in
    assert state.api.session_token is None
    assert store_of(state).token is None
    other = await ui_backend.client()
    other.cookies.set("aegis_session", ada[1], domain="aegis.internal")
    assert (await other.get("/api/v1/auth/me")).status_code == 401, "ended on the server too"


async def test_sign_in_then_close(ui_backend: Backend, ada: Ada) -> None:
    state = new_state(ui_backend.app, None)
    await state.sign_in(ADA["email"], ADA["password"])
    assert state.user is not None and state.user.full_name == "Ada Lovelace"
    assert store_of(state).token == state.api.session_token is not None
    await state.close()
    assert state.api.http.is_closed
