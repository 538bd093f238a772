"""The UI's only way to the backend: one ``httpx.AsyncClient`` and cookie jar per session."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from backend.core.config import API_PREFIX, SESSION_COOKIE

log = logging.getLogger("aegis.api_client")

UNREACHABLE = "Cannot reach the Aegis server. Check that it is running, then try again."
TIMED_OUT = "The Aegis server took too long to answer. Try again in a moment."
SESSION_ENDED = "Your session has ended. Please sign in again."

CookieListener = Callable[[str | None], Awaitable[None]]
UnauthorizedListener = Callable[[], Awaitable[None]]


class APIError(Exception):
    """A request that did not succeed, with a message fit to show a person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class APIClient:
    """Returns parsed JSON or raises :class:`APIError`; never lets httpx errors escape.

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
            raise APIError(0, TIMED_OUT) from exc
        except httpx.HTTPError as exc:
            log.info("backend unreachable: %s", exc)
            raise APIError(0, UNREACHABLE) from exc
        after = self.session_token
        if after != before and self.on_session_cookie is not None:
            await self.on_session_cookie(after)
        if response.status_code == 401 and needs_session:
            if before is not None:
                self.forget_session()
                if self.on_session_cookie is not None:
                    await self.on_session_cookie(None)
            if self.on_unauthorized is not None:
                await self.on_unauthorized()
            raise APIError(401, SESSION_ENDED)
        if response.is_error:
            raise APIError(response.status_code, _error_message(response))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise APIError(response.status_code, "The server sent an unreadable answer.") from exc

    async def aclose(self) -> None:
        await self.http.aclose()


def _error_message(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str) and detail:
        return detail
    if response.status_code >= 500:
        return "The server ran into a problem. Nothing was changed; try again."
    return f"The request failed ({response.status_code})."
