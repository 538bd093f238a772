"""Per-session state: who is signed in, and the client that talks to the backend."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from aegis_app.api_client import APIClient, APIError, RequestRefused, SessionEnded

log = logging.getLogger("aegis.state")

STATE_KEY = "session_state"


class SessionCookieStore(Protocol):
    """Where a target keeps the session cookie between Python sessions.

    The web target keeps it in the browser (as an HttpOnly cookie), the desktop target
    in the OS keyring. ``description`` is what Settings shows, in words; ``notice`` says
    why the store cannot keep a session here (a desktop without a usable keyring), for
    the sign-in view to tell the user, and is ``None`` while it can.
    """

    @property
    def description(self) -> str: ...

    @property
    def notice(self) -> str | None: ...

    def load(self) -> str | None: ...

    async def save(self, token: str | None) -> None: ...


@dataclass
class SignedInUser:
    """Who is signed in to this Flet session, as ``/auth/me`` described them.

    Not the backend's ``CurrentUser`` dependency (a database row for one request): this
    is the UI's copy, kept for the session's life.
    """

    id: int
    email: str
    full_name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> SignedInUser:
        return cls(
            id=int(data["id"]),
            email=str(data["email"]),
            full_name=str(data["full_name"]),
            role=str(data["role"]),
        )


class SessionState:
    """Lives at ``page.data["session_state"]`` for as long as the Flet session does."""

    def __init__(self, api: APIClient, cookie_store: SessionCookieStore) -> None:
        self.api = api
        self.cookie_store = cookie_store
        self.user: SignedInUser | None = None
        self.notice: str | None = None
        """A one-shot message for the next view, such as why the user was signed out."""
        self.connected = True
        api.on_session_cookie = cookie_store.save

    @property
    def signed_in(self) -> bool:
        return self.user is not None

    async def restore(self) -> bool:
        """Sign in silently from a stored cookie, if there is one that still works."""
        token = self.cookie_store.load()
        if not token:
            # A store that cannot keep sessions here says why; the sign-in view tells.
            self.notice = self.notice or self.cookie_store.notice
            return False
        self.api.adopt_session_token(token)
        try:
            self.user = SignedInUser.from_api(await self.api.get_me_quietly())
        except APIError as error:
            if isinstance(error, RequestRefused) and error.status == 401:
                # The stored session is over: no news to the user, who simply signs in.
                self.api.forget_session()
                await self.cookie_store.save(None)
            else:  # the server could not tell (unreachable, failing): keep the cookie
                self.notice = error.message
            self.user = None
        return self.user is not None

    async def check_still_signed_in(self) -> bool:
        """After a reconnect: is the session we had still valid on the server?"""
        if self.user is None:
            return False
        try:
            self.user = SignedInUser.from_api(await self.api.get("/auth/me"))
        except SessionEnded:
            self.user = None
        except APIError:
            return True  # the server is unreachable, not our session; keep the user
        return self.user is not None

    async def sign_in(self, email: str, password: str) -> None:
        data = await self.api.post(
            "/auth/login", {"email": email, "password": password}, needs_session=False
        )
        self.user = SignedInUser.from_api(data)

    async def register(self, full_name: str, email: str, password: str) -> None:
        data = await self.api.post(
            "/auth/register",
            {"full_name": full_name, "email": email, "password": password},
            needs_session=False,
        )
        self.user = SignedInUser.from_api(data)

    async def sign_out(self) -> None:
        try:
            await self.api.post("/auth/logout", needs_session=False)
        except APIError as error:
            log.info("sign-out request failed (%s); forgetting the session locally", error)
        self.user = None
        if self.api.session_token is not None:
            self.api.forget_session()
            await self.cookie_store.save(None)

    def session_ended(self, notice: str) -> None:
        self.user = None
        self.notice = notice

    async def close(self) -> None:
        await self.api.aclose()
