"""Shared pieces of the frontend logic tests (importable by name, unlike conftest)."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete

from backend.core.config import API_PREFIX, SESSION_COOKIE, Settings
from backend.models import SignInSession
from tests.aegis_app.pilot import BASE_URL, Pilot

PASSWORD = "correct horse battery"
FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Firefox/128.0"
SAFARI_ON_MACOS = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Version/17.5 Safari/605.1.15"
ADA = {"email": "ada@example.com", "full_name": "Ada Lovelace", "password": PASSWORD}


@dataclass
class Backend:
    app: FastAPI
    settings: Settings
    stack: AsyncExitStack
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def client(
        self, ip: str = "10.0.0.2", user_agent: str = FIREFOX_ON_WINDOWS
    ) -> httpx.AsyncClient:
        """Another device, with its own cookie jar."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(ip, 40000)),
            base_url=BASE_URL,
            headers={"user-agent": user_agent},
        )
        return await self.stack.enter_async_context(client)

    async def register(self, **overrides: str) -> tuple[dict[str, Any], str]:
        """Register an account from another device; returns (user, session token)."""
        client = await self.client()
        response = await client.post(f"{API_PREFIX}/auth/register", json={**ADA, **overrides})
        assert response.status_code == 201, response.text
        return response.json(), client.cookies[SESSION_COOKIE]

    @contextmanager
    def database_gone(self) -> Iterator[None]:
        """The SQLite file taken away, a directory in its place: SQLite cannot open it,
        as with a missing volume. Put back as it was at the end."""
        path = self.settings.resolved_data_dir / "aegis.db"
        aside = path.with_name("aegis.db.away")
        path.rename(aside)
        # A connection opened in between (the scheduler's, say) creates an empty file
        # there; take it away too, until the directory is in place.
        for _ in range(100):
            try:
                path.mkdir()
                break
            except FileExistsError:
                path.unlink(missing_ok=True)
        else:
            raise AssertionError(f"{path} kept coming back")
        try:
            yield
        finally:
            path.rmdir()
            aside.rename(path)

    def end_all_sessions(self) -> None:
        """What an admin (or the idle timeout) does behind the UI's back."""
        with self.app.state.session_factory() as db:
            db.execute(delete(SignInSession))
            db.commit()


def unused_port() -> int:
    """A loopback port nothing listens on (the OS just handed it out and took it back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


MakeBackend = Callable[..., Awaitable[Backend]]
MakePilot = Callable[..., Awaitable[Pilot]]
