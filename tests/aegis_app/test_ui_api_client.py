"""APIClient against the real backend app: answers, errors in words, cookie events."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import flet as ft
import httpx
import pytest
from fastapi import FastAPI

from aegis_app.api_client import SESSION_ENDED, TIMED_OUT, UNREACHABLE, APIClient, APIError
from aegis_app.launch.web import web_target
from backend.api.errors import install_error_handlers
from tests.aegis_app.pilot import BASE_URL
from tests.aegis_app.ui_support import ADA, Backend


class Recorder:
    def __init__(self, client: APIClient) -> None:
        self.cookies: list[str | None] = []
        self.unauthorized = 0
        client.on_session_cookie = self.cookie
        client.on_unauthorized = self.alarm

    async def cookie(self, token: str | None) -> None:
        self.cookies.append(token)

    async def alarm(self) -> None:
        self.unauthorized += 1


def asgi_client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@pytest.fixture
async def client(backend: Backend) -> AsyncIterator[APIClient]:
    api = APIClient(asgi_client(backend.app))
    yield api
    await api.aclose()


def mock_client(handler: Any) -> APIClient:
    return APIClient(httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE_URL))


async def test_returns_parsed_json(client: APIClient) -> None:
    status = await client.get("/auth/registration")
    assert status == {"open": True, "first_account": True, "min_password_length": 10}


async def test_a_4xx_raises_with_the_backends_message(client: APIClient) -> None:
    with pytest.raises(APIError) as caught:
        await client.post("/auth/register", {**ADA, "password": "short"}, needs_session=False)
    assert caught.value.status == 422
    assert caught.value.message == "Password must be at least 10 characters."
    assert str(caught.value) == caught.value.message


async def test_wrong_password_is_not_mistaken_for_a_lost_session(
    client: APIClient, ada: Any
) -> None:
    recorder = Recorder(client)
    with pytest.raises(APIError) as caught:
        await client.post(
            "/auth/login",
            {"email": ADA["email"], "password": "wrong password!"},
            needs_session=False,
        )
    assert (caught.value.status, caught.value.message) == (401, "Incorrect email or password.")
    assert recorder.unauthorized == 0


async def test_sign_in_reports_the_new_cookie(client: APIClient, ada: Any) -> None:
    recorder = Recorder(client)
    user = await client.post(
        "/auth/login", {"email": ADA["email"], "password": ADA["password"]}, needs_session=False
    )
    assert user["full_name"] == "Ada Lovelace"
    assert client.session_token is not None
    assert recorder.cookies == [client.session_token]
    assert (await client.get("/auth/me"))["email"] == ADA["email"]
    assert recorder.cookies == [client.session_token], "no event without a change"


async def test_a_401_on_a_call_that_needs_a_session_ends_it(
    client: APIClient, backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    client.adopt_session_token(ada[1])
    recorder = Recorder(client)
    assert (await client.get("/auth/me"))["id"] == ada[0]["id"]
    backend.end_all_sessions()
    with pytest.raises(APIError) as caught:
        await client.get("/auth/sessions")
    assert (caught.value.status, caught.value.message) == (401, SESSION_ENDED)
    assert recorder.unauthorized == 1
    assert client.session_token is None
    assert recorder.cookies == [None]


async def test_a_401_without_a_session_raises_the_alarm_but_reports_no_cookie(
    client: APIClient,
) -> None:
    recorder = Recorder(client)
    with pytest.raises(APIError):
        await client.get("/auth/me")
    assert recorder.unauthorized == 1
    assert recorder.cookies == []


async def test_quiet_probe_of_a_dead_token_raises_no_alarm(
    client: APIClient, backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    client.adopt_session_token(ada[1])
    recorder = Recorder(client)
    backend.end_all_sessions()
    with pytest.raises(APIError) as caught:
        await client.get_me_quietly()
    assert caught.value.status == 401
    assert recorder.unauthorized == 0


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_dead_backend_is_reported_in_words() -> None:
    api = APIClient(httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_port()}"))
    async with api.http:
        with pytest.raises(APIError) as caught:
            await api.get("/health")
    assert caught.value.status == 0
    assert caught.value.message == UNREACHABLE
    assert "Cannot reach" in caught.value.message


async def test_a_timeout_is_reported_in_words() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    api = mock_client(handler)
    async with api.http:
        with pytest.raises(APIError) as caught:
            await api.get("/health")
    assert (caught.value.status, caught.value.message) == (0, TIMED_OUT)


async def test_a_non_json_answer_gets_a_clear_message() -> None:
    api = mock_client(lambda request: httpx.Response(200, text="<html>proxy login</html>"))
    async with api.http:
        with pytest.raises(APIError) as caught:
            await api.get("/health")
    assert (caught.value.status, caught.value.message) == (
        200,
        "The server sent an unreadable answer.",
    )


async def test_an_empty_answer_is_none() -> None:
    api = mock_client(lambda request: httpx.Response(204))
    async with api.http:
        assert await api.delete("/auth/sessions/x") is None


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(502, text="<html>Bad gateway</html>"),
            "The server ran into a problem. Nothing was changed; try again.",
        ),
        (httpx.Response(418, json={"detail": ["not", "a", "string"]}), "The request failed (418)."),
    ],
)
async def test_errors_without_a_usable_detail_are_put_in_words(
    response: httpx.Response, message: str
) -> None:
    api = mock_client(lambda request: response)
    async with api.http:
        with pytest.raises(APIError) as caught:
            await api.get("/health")
    assert (caught.value.status, caught.value.message) == (response.status_code, message)


async def test_a_backend_crash_through_the_web_target_is_a_500_in_words() -> None:
    """The web target calls the API in-process; the backend's exception must not escape."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("bug")

    page = ft.Page.__new__(ft.Page)  # only client_ip / client_user_agent are read
    page.client_ip = "127.0.0.1"
    page.client_user_agent = "test"
    api = APIClient(web_target(app, "/dashboard").new_http_client(page))
    async with api.http:
        with pytest.raises(APIError) as caught:
            await api.get("/boom")
    assert caught.value.status == 500
    assert caught.value.message == "Something went wrong on the server. Nothing was changed."


async def test_server_events_are_split_wherever_the_chunks_cut_them() -> None:
    """Over real HTTP (the desktop) an event can arrive in any number of pieces."""
    from aegis_app.api_client import ServerEvent, _server_events

    stream = b'event: reading\ndata: {"a": 1}\n\nevent: problem\ndata: one\ndata: two\n\n'
    expected = [ServerEvent("reading", b'{"a": 1}'), ServerEvent("problem", b"one\ntwo")]
    for size in (1, 2, 7, len(stream)):

        async def chunks(size: int = size) -> AsyncIterator[bytes]:
            for start in range(0, len(stream), size):
                yield stream[start : start + size]

        assert [event async for event in _server_events(chunks())] == expected, size
