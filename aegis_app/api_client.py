"""The UI's only way to the backend: one ``httpx.AsyncClient`` and cookie jar per session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from backend.core.config import API_PREFIX, SESSION_COOKIE

log = logging.getLogger("aegis.api_client")

SESSION_ENDED = "Your session has ended. Please sign in again."
TIMED_OUT = "The Aegis server did not answer in time. Try again in a moment."
SERVER_FAILED = "The server ran into a problem. Nothing was changed; try again."
UNREADABLE = "The server sent an unreadable answer."
DATABASE_OUTAGE_PREFIX = "The database"
"""How the API begins the ``detail`` of its 503 while the database cannot serve."""


def unreachable(address: str) -> str:
    return f"Cannot reach the Aegis server at {address}. Check that it is running, then try again."


CookieListener = Callable[[str | None], Awaitable[None]]
UnauthorizedListener = Callable[[], Awaitable[None]]


class APIError(Exception):
    """A request that did not succeed, with a message fit to show a person.

    Never raised itself: a request fails as one of the kinds below, each with its own
    words. ``status`` is the HTTP status, 0 when no answer came at all.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NoAnswer(APIError):
    """No HTTP answer at all."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


class ServerUnreachable(NoAnswer):
    """Nothing answers at the server's address (refused, reset, no route, no name)."""

    def __init__(self, address: str) -> None:
        super().__init__(unreachable(address))
        self.address = address


class ServerTimedOut(NoAnswer):
    """The server took the connection, or the request, and did not answer in time."""

    def __init__(self) -> None:
        super().__init__(TIMED_OUT)


class SessionEnded(APIError):
    """A 401 on a request that needed the session: it ended under us (signed out
    elsewhere, revoked, expired). The target has already been told; the router is
    taking the user to sign in, so a view has nothing more to say."""

    def __init__(self) -> None:
        super().__init__(401, SESSION_ENDED)


class RequestRefused(APIError):
    """A 4xx: the server understood and said no, in its own words when it gave some
    (a wrong password, a name already taken, too many attempts)."""


class ServerError(APIError):
    """A 5xx: the server failed; its own words when it gave some."""


class DatabaseUnavailable(ServerError):
    """A 503 whose words begin "The database": the database cannot serve right now."""


class UnreadableAnswer(APIError):
    """A success whose body is not the JSON the API sends (a proxy's page, say)."""

    def __init__(self, status: int) -> None:
        super().__init__(status, UNREADABLE)


def error_for(status: int, detail: object) -> APIError:
    """The kind of error an HTTP error status and its ``detail`` make."""
    words = detail if isinstance(detail, str) and detail else None
    if status >= 500:
        if status == 503 and words is not None and words.startswith(DATABASE_OUTAGE_PREFIX):
            return DatabaseUnavailable(status, words)
        return ServerError(status, words or SERVER_FAILED)
    return RequestRefused(status, words or f"The request failed ({status}).")


@dataclass(frozen=True)
class ServerEvent:
    """One Server-Sent Event: its name and its ``data`` as sent (JSON, not parsed here:
    the dashboard's many viewers share one parse of the same bytes)."""

    name: str
    data: bytes


EVENT_STREAM = "text/event-stream"
STREAM_TIMEOUT = httpx.Timeout(15.0, connect=5.0, read=None)
"""No read timeout: a stream is quiet between events by design."""
ENDED_EVENT = "ended"


class APIClient:
    """Returns parsed JSON or raises a kind of :class:`APIError`; never lets httpx
    errors escape.

    ``on_session_cookie`` hears every change of the session cookie (a new sign-in, a
    sign-out) so the target can persist it; ``on_unauthorized`` hears a 401 on a request
    that needed a session, which means the session ended under us.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.on_session_cookie: CookieListener | None = None
        self.on_unauthorized: UnauthorizedListener | None = None

    @property
    def session_token(self) -> str | None:
        for cookie in self.http.cookies.jar:
            if cookie.name == SESSION_COOKIE:
                return cookie.value
        return None

    def adopt_session_token(self, token: str) -> None:
        """Put a token obtained elsewhere (browser handshake, keyring) into the jar."""
        self.http.cookies.jar.clear()
        self.http.cookies.set(SESSION_COOKIE, token, domain=self.cookie_domain, path="/")

    def forget_session(self) -> None:
        self.http.cookies.jar.clear()

    @property
    def cookie_domain(self) -> str:
        return self.http.base_url.host

    @property
    def address(self) -> str:
        """The server's address as a person would type it (``127.0.0.1:8000``)."""
        url = self.http.base_url
        return f"{url.host}:{url.port}" if url.port is not None else url.host

    async def get_me_quietly(self) -> Any:
        """``/auth/me`` without the session-ended alarm: used to probe a stored cookie."""
        return await self.request("GET", "/auth/me", needs_session=False)

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, body: Any = None, *, needs_session: bool = True) -> Any:
        return await self.request("POST", path, json=body, needs_session=needs_session)

    async def patch(self, path: str, body: Any = None) -> Any:
        return await self.request("PATCH", path, json=body)

    async def delete(self, path: str, **params: Any) -> Any:
        return await self.request("DELETE", path, params=params or None)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        needs_session: bool = True,
    ) -> Any:
        before = self.session_token
        try:
            response = await self.http.request(method, API_PREFIX + path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise ServerTimedOut() from exc
        except httpx.HTTPError as exc:
            log.info("backend unreachable: %s", exc)
            raise ServerUnreachable(self.address) from exc
        after = self.session_token
        if after != before and self.on_session_cookie is not None:
            await self.on_session_cookie(after)
        if response.status_code == 401 and needs_session:
            await self._session_ended(before)
            raise SessionEnded()
        if response.is_error:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise UnreadableAnswer(response.status_code) from exc

    async def events(self, path: str, **params: Any) -> AsyncIterator[ServerEvent]:
        """The Server-Sent Events of ``path`` until the server ends the stream.

        An ``ended`` event means the sign-in session ended: handled as a 401 (the
        session is forgotten and the target told), and the stream stops there.
        """
        before = self.session_token
        try:
            async with self.http.stream(
                "GET",
                API_PREFIX + path,
                params=params or None,
                headers={"accept": EVENT_STREAM},
                timeout=STREAM_TIMEOUT,
            ) as response:
                if response.is_error:
                    await response.aread()
                    if response.status_code == 401:
                        await self._session_ended(before)
                        raise SessionEnded()
                    raise _error(response)
                async for event in _server_events(response.aiter_raw()):
                    if event.name == ENDED_EVENT:
                        await self._session_ended(before)
                        return
                    yield event
                    del event  # not held while the stream is quiet
        except httpx.TimeoutException as exc:
            raise ServerTimedOut() from exc
        except httpx.HTTPError as exc:
            log.info("event stream from the backend broke: %s", exc)
            raise ServerUnreachable(self.address) from exc

    async def _session_ended(self, token_before: str | None) -> None:
        if token_before is not None:
            self.forget_session()
            if self.on_session_cookie is not None:
                await self.on_session_cookie(None)
        if self.on_unauthorized is not None:
            await self.on_unauthorized()

    async def aclose(self) -> None:
        await self.http.aclose()


def _error(response: httpx.Response) -> APIError:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return error_for(response.status_code, detail)


async def _server_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerEvent]:
    """Split a byte stream into events (``event:`` and ``data:`` lines, a blank line
    between events); chunks may cut an event anywhere.

    Nothing of an event is kept while waiting for the next chunk: a reading is tens of
    kilobytes, and every open dashboard waits here. Lines are found with one-byte
    searches: CPython searches for one byte with ``memchr``, but for ``b"\n\n"`` it
    walked the whole data line byte by byte (30 µs for a 30 KB reading, per viewer).
    """
    buffer = b""
    async for chunk in chunks:
        buffer = buffer + chunk if buffer else chunk
        while (end := _blank_line(buffer)) >= 0:
            event = _parse_event(buffer, end)
            buffer = buffer[end + 2 :]
            yield event
            del event


def _blank_line(buffer: bytes) -> int:
    """Where the first event of ``buffer`` ends (its ``\n\n``), or -1."""
    at = buffer.find(b"\n")
    while at >= 0 and buffer[at + 1 : at + 2] != b"\n":
        at = buffer.find(b"\n", at + 1)
    return at


def _parse_event(buffer: bytes, end: int) -> ServerEvent:
    """The event in ``buffer[:end]``; each data line is copied once, straight from it."""
    name, data = "message", []
    start = 0
    while start < end:
        stop = buffer.find(b"\n", start, end)
        stop = end if stop < 0 else stop
        colon = buffer.find(b":", start, stop)
        field = buffer[start : stop if colon < 0 else colon]
        value_at = stop if colon < 0 else colon + 1
        if buffer[value_at : value_at + 1] == b" ":
            value_at += 1
        if field == b"event":
            name = buffer[value_at:stop].decode()
        elif field == b"data":
            data.append(buffer[value_at:stop])
        start = stop + 1
    return ServerEvent(name, data[0] if len(data) == 1 else b"\n".join(data))
