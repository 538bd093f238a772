"""Helpers for the API tests (imported as ``api_helpers``; conftest holds the fixtures).

Each ``Api.client()`` is a separate "device" with its own cookie jar (and, if asked,
its own client IP), talking to the running app in-process over ASGI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.core.config import SESSION_COOKIE, Settings
from backend.core.security import hash_token
from backend.models import SignInSession, User

API = "/api/v1"
PASSWORD = "correct horse battery"


class FakeClock:
    """Stands in for the ``time`` module of one backend module (only ``monotonic``), or,
    through ``utcnow``, for the wall clock a ``SignInThrottles`` is given."""

    EPOCH = datetime(2030, 1, 1, tzinfo=UTC)

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def utcnow(self) -> datetime:
        return self.EPOCH + timedelta(seconds=self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def session_cookie(response: httpx.Response) -> str | None:
    """The raw Set-Cookie header for the session cookie, or None."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{SESSION_COOKIE}="):
            return header
    return None


def cookie_value(response: httpx.Response) -> str | None:
    """The session token the response sets, or None."""
    header = session_cookie(response)
    return header.split(";", 1)[0].split("=", 1)[1] if header is not None else None


def cookie_token(response: httpx.Response) -> str:
    token = cookie_value(response)
    assert token is not None, f"no session cookie in {response.headers!r}"
    return token


def cookie_attributes(header: str) -> dict[str, str]:
    """Lower-cased attribute names (after the name=value pair) mapped to their values."""
    attributes: dict[str, str] = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


@dataclass
class Api:
    app: FastAPI
    settings: Settings
    stack: AsyncExitStack

    async def client(
        self, *, base_url: str = "http://testserver", ip: str = "127.0.0.1"
    ) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url=base_url)
        return await self.stack.enter_async_context(client)

    @contextmanager
    def db(self) -> Iterator[Session]:
        with self.app.state.session_factory() as db:
            yield db

    def user_count(self) -> int:
        with self.db() as db:
            return int(db.scalar(select(func.count()).select_from(User)) or 0)

    def sign_in_session_count(self) -> int:
        with self.db() as db:
            return int(db.scalar(select(func.count()).select_from(SignInSession)) or 0)

    def sign_in_session_row(self, token: str) -> SignInSession | None:
        with self.db() as db:
            return db.scalar(
                select(SignInSession).where(SignInSession.token_hash == hash_token(token))
            )

    def update_sign_in_session(self, token: str, **values: Any) -> None:
        with self.db() as db:
            row = db.scalar(
                select(SignInSession).where(SignInSession.token_hash == hash_token(token))
            )
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            db.commit()

    def update_user(self, email: str, **values: Any) -> None:
        with self.db() as db:
            user = db.scalar(select(User).where(User.email == email))
            assert user is not None
            for name, value in values.items():
                setattr(user, name, value)
            db.commit()

    async def register(
        self,
        client: httpx.AsyncClient,
        email: str = "admin@example.com",
        password: str = PASSWORD,
        full_name: str = "Ada Admin",
    ) -> httpx.Response:
        response = await client.post(
            f"{API}/auth/register",
            json={"email": email, "password": password, "full_name": full_name},
        )
        assert response.status_code == 201, response.text
        return response

    async def login(
        self, client: httpx.AsyncClient, email: str, password: str = PASSWORD
    ) -> httpx.Response:
        return await client.post(f"{API}/auth/login", json={"email": email, "password": password})

    async def signed_in(
        self, email: str = "admin@example.com", *, register: bool = False, **client_kw: Any
    ) -> tuple[httpx.AsyncClient, str]:
        """A new device signed in as ``email`` (registering it first if asked)."""
        client = await self.client(**client_kw)
        if register:
            response = await self.register(client, email)
        else:
            response = await self.login(client, email)
            assert response.status_code == 200, response.text
        return client, cookie_token(response)


MakeApi = Callable[..., Awaitable[Api]]
