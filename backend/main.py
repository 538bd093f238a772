"""The FastAPI application factory: the API alone, with nothing UI-specific in it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from backend.api.errors import install_error_handlers
from backend.api.problems import document_problems
from backend.api.routes import account, audit, auth, health, live, sessions, system, users
from backend.core.config import API_PREFIX, Settings
from backend.core.db import make_engine, migrate, session_factory
from backend.core.deadline import RequestDeadline
from backend.core.guards import (
    BodySizeLimit,
    CrossSiteGuard,
    HostAllowlistGuard,
    SecurityHeaders,
)
from backend.core.hosts import HostAllowlist
from backend.services.handoff import CookieHandoffStore
from backend.services.job_leases import new_instance_id
from backend.services.scheduler import default_scheduler
from backend.services.throttle import SignInThrottles

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class HardenedFastAPI(FastAPI):
    """FastAPI with the security headers outside even Starlette's error middleware, so
    a 500 carries them too (``add_middleware`` would put them inside it)."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


@asynccontextmanager
async def run_live_hub(app: FastAPI) -> AsyncIterator[None]:
    """The live feed's hub, for as long as the app serves; its streams end first."""
    hub = app.state.live_hub = live.new_live_hub(app)
    task = asyncio.create_task(hub.run(), name="aegis-live-hub")
    try:
        yield
    finally:
        hub.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def end_live_streams(app: FastAPI) -> None:
    """For a server about to stop: end the live feed's streams now, so that the graceful
    shutdown (which waits for every open response) does not wait on them."""
    hub = getattr(app.state, "live_hub", None)
    if hub is not None:
        hub.close()


def resolve_allowed_hosts(settings: Settings, given: HostAllowlist | None) -> HostAllowlist:
    if given is not None:
        return given
    if settings.allowed_hosts:
        return HostAllowlist.parse(settings.allowed_hosts)
    raise ValueError(
        "The API needs the host names it answers to: pass allowed_hosts or set "
        "AEGIS_ALLOWED_HOSTS (aegis serve defaults it to the address it is bound to)."
    )


def create_api(
    settings: Settings | None = None,
    *,
    hooks: Sequence[LifespanHook] = (),
    allowed_hosts: HostAllowlist | None = None,
) -> FastAPI:
    """Build the app. The database is migrated and opened when its lifespan starts.

    ``allowed_hosts`` are the Host names it answers to (DNS rebinding); without it,
    ``settings.allowed_hosts`` must list them.
    """
    settings = settings or Settings()
    allowlist = resolve_allowed_hosts(settings, allowed_hosts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = settings.database_timeout_seconds
        engine = make_engine(settings.resolved_database_url, timeout_seconds=timeout)
        migrate(engine, timeout_seconds=timeout)
        app.state.engine = engine
        app.state.session_factory = session_factory(engine)
        app.state.scheduler = default_scheduler(app, app.state.session_factory, settings)
        try:
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(app.state.scheduler.run())
                await stack.enter_async_context(run_live_hub(app))
                for hook in hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            engine.dispose()

    app = HardenedFastAPI(title="Aegis", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.host_allowlist = allowlist
    app.state.throttles = SignInThrottles(settings)
    app.state.handoffs = CookieHandoffStore()
    # Names this process in job status and metric samples shared with other instances.
    app.state.instance_id = new_instance_id()
    install_error_handlers(app)
    document_problems(app)
    routers = (
        health.router,
        auth.router,
        account.router,
        sessions.router,
        users.router,
        audit.router,
        system.router,
        live.router,
    )
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    # Innermost: the guards in front answer at once; the deadline bounds the route's wait
    # on the database (a frozen PostgreSQL, see backend/core/deadline.py).
    app.add_middleware(RequestDeadline, seconds=settings.request_deadline_seconds)
    app.add_middleware(CrossSiteGuard, allowlist=allowlist)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostAllowlistGuard, allowlist=allowlist)  # outermost: first refusal
    return app
