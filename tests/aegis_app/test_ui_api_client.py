"""APIClient against the real backend app: answers, errors in words, cookie events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import flet as ft
import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from aegis_app.api_client import (
    SERVER_FAILED,
    SESSION_ENDED,
    TIMED_OUT,
    UNREADABLE,
    APIClient,
    APIError,
    DatabaseUnavailable,
    RequestRefused,
    ServerError,
    ServerTimedOut,
    ServerUnreachable,
    SessionEnded,
    UnreadableAnswer,
    unreachable,
)
from aegis_app.launch.web import web_target
from backend.api.errors import install_error_handlers
from tests.aegis_app.pilot import BASE_URL
from tests.aegis_app.ui_support import ADA, Backend, unused_port


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
async def client(ui_backend: Backend) -> AsyncIterator[APIClient]:
    api = APIClient(asgi_client(ui_backend.app))
    yield api
    await api.aclose()


def odd_server() -> FastAPI:
    """A tiny real server that answers as the API never does (a proxy in the way, say)."""
    app = FastAPI()

    @app.get("/api/v1/html")
    def html() -> HTMLResponse:
        return HTMLResponse("<html>proxy login</html>")

    @app.get("/api/v1/empty")
    def empty() -> Response:
        return Response(status_code=204)

    @app.get("/api/v1/bad-gateway")
    def bad_gateway() -> HTMLResponse:
        return HTMLResponse("<html>Bad gateway</html>", status_code=502)

    @app.get("/api/v1/teapot")
    def teapot() -> JSONResponse:
        return JSONResponse({"detail": ["not", "a", "string"]}, status_code=418)

    return app


async def test_returns_parsed_json(client: APIClient) -> None:
    status = await client.get("/auth/registration")
    assert status == {"open": True, "first_account": True, "min_password_length": 10}


async def test_a_4xx_is_refused_with_the_backends_message(client: APIClient) -> None:
    with pytest.raises(RequestRefused) as caught:
        await client.post("/auth/register", {**ADA, "password": "short"}, needs_session=False)
    assert caught.value.status == 422
    assert caught.value.message == "Password must be at least 10 characters."
    assert str(caught.value) == caught.value.message


async def test_wrong_password_is_not_mistaken_for_a_lost_session(
    client: APIClient, ada: Any
) -> None:
    recorder = Recorder(client)
    with pytest.raises(RequestRefused) as caught:
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
    client: APIClient, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    client.adopt_session_token(ada[1])
    recorder = Recorder(client)
    assert (await client.get("/auth/me"))["id"] == ada[0]["id"]
    ui_backend.end_all_sessions()
    with pytest.raises(SessionEnded) as caught:
        await client.get("/auth/sessions")
    assert (caught.value.status, caught.value.message) == (401, SESSION_ENDED)
    assert recorder.unauthorized == 1
    assert client.session_token is None
    assert recorder.cookies == [None]


async def test_a_401_without_a_session_raises_the_alarm_but_reports_no_cookie(
    client: APIClient,
) -> None:
    recorder = Recorder(client)
    with pytest.raises(SessionEnded):
        await client.get("/auth/me")
    assert recorder.unauthorized == 1
    assert recorder.cookies == []


async def test_quiet_probe_of_a_dead_token_raises_no_alarm(
    client: APIClient, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    client.adopt_session_token(ada[1])
    recorder = Recorder(client)
    ui_backend.end_all_sessions()
    with pytest.raises(RequestRefused) as caught:
        await client.get_me_quietly()
    assert caught.value.status == 401
    assert recorder.unauthorized == 0


async def test_a_database_outage_is_its_own_kind_of_server_error(
    client: APIClient, ui_backend: Backend, ada: tuple[dict[str, Any], str]
) -> None:
    client.adopt_session_token(ada[1])
    with ui_backend.database_gone(), pytest.raises(DatabaseUnavailable) as caught:
        await client.get("/auth/me")
    assert isinstance(caught.value, ServerError)
    assert caught.value.status == 503
    assert caught.value.message.startswith("The database "), caught.value.message


async def test_a_dead_backend_is_unreachable_and_says_where() -> None:
    port = unused_port()  # nothing listens there: the connection is refused
    api = APIClient(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}"))
    async with api.http:
        with pytest.raises(ServerUnreachable) as caught:
            await api.get("/health")
    assert caught.value.status == 0
    assert caught.value.address == f"127.0.0.1:{port}"
    assert caught.value.message == unreachable(f"127.0.0.1:{port}")
    assert caught.value.message.startswith(f"Cannot reach the Aegis server at 127.0.0.1:{port}.")


async def test_a_dead_backend_breaks_an_event_stream_the_same_way() -> None:
    api = APIClient(httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_port()}"))
    async with api.http:
        with pytest.raises(ServerUnreachable):
            async for _ in api.events("/system/live"):
                pass


async def test_a_server_that_does_not_answer_times_out_in_other_words() -> None:
    """A real server on a real socket that reads the request and never answers."""
    requests: list[bytes] = []
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        await release.wait()  # the slowness under test: no answer until the test ends
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    api = APIClient(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=0.3))
    try:
        async with api.http:
            with pytest.raises(ServerTimedOut) as caught:
                await api.get("/health")
    finally:
        release.set()
        server.close()
        await server.wait_closed()
    assert requests and requests[0].startswith(b"GET /api/v1/health ")
    assert (caught.value.status, caught.value.message) == (0, TIMED_OUT)
    assert caught.value.message == "The Aegis server did not answer in time. Try again in a moment."


async def test_every_kind_is_an_api_error_and_says_something_different() -> None:
    kinds = [
        ServerUnreachable("127.0.0.1:8000"),
        ServerTimedOut(),
        SessionEnded(),
        RequestRefused(409, "That email is taken."),
        ServerError(500, SERVER_FAILED),
        UnreadableAnswer(200),
    ]
    assert all(isinstance(kind, APIError) for kind in kinds)
    assert len({kind.message for kind in kinds}) == len(kinds)


@pytest.fixture
async def odd() -> AsyncIterator[APIClient]:
    api = APIClient(asgi_client(odd_server()))
    async with api.http:
        yield api


async def test_a_non_json_answer_gets_a_clear_message(odd: APIClient) -> None:
    with pytest.raises(UnreadableAnswer) as caught:
        await odd.get("/html")
    assert (caught.value.status, caught.value.message) == (200, UNREADABLE)
    assert UNREADABLE == "The server sent an unreadable answer."


async def test_an_empty_answer_is_none(odd: APIClient) -> None:
    assert await odd.get("/empty") is None


@pytest.mark.parametrize(
    ("path", "kind", "status", "message"),
    [
        ("/bad-gateway", ServerError, 502, SERVER_FAILED),
        ("/teapot", RequestRefused, 418, "The request failed (418)."),
    ],
)
async def test_errors_without_a_usable_detail_are_put_in_words(
    odd: APIClient, path: str, kind: type[APIError], status: int, message: str
) -> None:
    with pytest.raises(kind) as caught:
        await odd.get(path)
    assert (caught.value.status, caught.value.message) == (status, message)


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
        with pytest.raises(ServerError) as caught:
            await api.get("/boom")
    assert caught.value.status == 500
    assert caught.value.message == "Something went wrong on the server. Nothing was changed."


async def test_server_events_are_split_wherever_the_chunks_cut_them() -> None:
    """Over real HTTP (the desktop) an event can arrive in any number of pieces."""
    from aegis_app.api_client import ServerEvent, _server_events

    long = b'{"figures": "' + b"7" * 30_000 + b'"}'
    stream = (
        b'event: reading\ndata: {"a": 1}\n\nevent: problem\ndata: one\ndata: two\n\n'
        b": a comment\ndata:no space\n\nevent: reading\ndata: " + long + b"\n\n"
    )
    expected = [
        ServerEvent("reading", b'{"a": 1}'),
        ServerEvent("problem", b"one\ntwo"),
        ServerEvent("message", b"no space"),
        ServerEvent("reading", long),
    ]
    for size in (1, 2, 7, 4096, len(stream)):

        async def chunks(size: int = size) -> AsyncIterator[bytes]:
            for start in range(0, len(stream), size):
                yield stream[start : start + size]

        assert [event async for event in _server_events(chunks())] == expected, size
