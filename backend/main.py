"""The FastAPI application factory: the API alone, with nothing UI-specific in it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from backend.api.errors import install_error_handlers
from backend.api.routes import account, audit, auth, health, sessions, system, users
from backend.core.config import API_PREFIX, Settings
from backend.core.db import make_engine, migrate, session_factory
from backend.core.guards import BodySizeLimit, CrossSiteGuard
from backend.core.security import LoginThrottle
from backend.services.handoff import CookieHandoffStore
from backend.services.scheduler import default_scheduler

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]

# A shared address (NAT, office) sees many users fail, so the per-IP limit is looser.
IP_FAILURES_FACTOR = 4


def create_api(settings: Settings | None = None, *, hooks: Sequence[LifespanHook] = ()) -> FastAPI:
    """Build the app. The database is migrated and opened when its lifespan starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        app.state.engine = engine
        app.state.session_factory = session_factory(engine)
        app.state.scheduler = default_scheduler(app, app.state.session_factory, settings)
        try:
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(app.state.scheduler.run())
                for hook in hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            engine.dispose()

    app = FastAPI(title="Aegis", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.email_throttle = LoginThrottle(
        settings.login_failures_allowed, settings.login_failure_window_seconds
    )
    app.state.ip_throttle = LoginThrottle(
        settings.login_failures_allowed * IP_FAILURES_FACTOR, settings.login_failure_window_seconds
    )
    app.state.handoffs = CookieHandoffStore()
    install_error_handlers(app)
    routers = (
        health.router,
        auth.router,
        account.router,
        sessions.router,
        users.router,
        audit.router,
        system.router,
    )
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    app.add_middleware(CrossSiteGuard)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
