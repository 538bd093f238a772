"""Web target: the API and the Flet dashboard in one FastAPI process.

The browser holds only Flet's renderer. Each tab's ``APIClient`` calls the API
in-process (``httpx.ASGITransport``), so its cookie jar never leaves Python; the
browser holds the same session as an HttpOnly cookie, which a new Python session
reads from the WebSocket handshake after a refresh or a server restart.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from urllib.parse import quote

import flet as ft
import flet.fastapi as flet_fastapi
import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE

from aegis_app.api_client import APIClient
from aegis_app.app import create_frontend_app
from aegis_app.launch.flet_web_patches import mount_flet
from aegis_app.launch.in_process import InProcessTransport
from aegis_app.launch.serving import Drain, DrainGate, DrainingServer
from aegis_app.launch.web_sessions import AdmittedSessions, WebSessionRules, handshake_token
from aegis_app.metadata import app_metadata
from aegis_app.target import API_TIMEOUT, AdmitEveryone, Target
from backend.core.config import API_PREFIX, SESSION_COOKIE, Settings, server_settings
from backend.core.hosts import WILDCARD_ADDRESSES, HostAllowlist
from backend.core.logging import configure_logging
from backend.main import create_api, end_live_streams

log = logging.getLogger("aegis.web")

# Only the ASGI transport sees this host. https, so that a cookie the backend marks
# Secure (AEGIS_COOKIE_SECURE=always) is still sent back by httpx. The Host allowlist
# lets it through only on requests marked in-process (InProcessMark), never from outside.
IN_PROCESS_BASE_URL = "https://aegis.internal"


class HandshakeCookieReader:
    """Reads ``aegis_session`` from the WebSocket upgrade into :data:`handshake_token`.

    Flet does not pass cookies to ``main``, but ``main`` runs in a task created while
    handling this connection, so it inherits the context variable set here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            handshake_token.set(_session_cookie(Headers(scope=scope).get("cookie", "")))
        await self.app(scope, receive, send)


def _session_cookie(header: str) -> str | None:
    # Starlette's parser is as lenient as browsers are. With SimpleCookie, one odd
    # sibling cookie (JSON, a space, a backslash, a stray quote) lost ours too.
    return cookie_parser(header).get(SESSION_COOKIE) or None


class BrowserCookieStore:
    """The session lives in the browser as an HttpOnly cookie.

    Loading reads it from the WebSocket handshake. Saving a new token (after sign-in)
    sends the browser through the one-time cookie hand-off on its next navigation (the
    web target's ``after_navigation`` is :meth:`hand_off`), so an HTTP response can set the cookie;
    JavaScript never sees the token.
    """

    description = "Browser cookie (HttpOnly, not readable by scripts)"
    notice = None  # the browser can always keep it

    def __init__(self, api: APIClient, mount_path: str) -> None:
        self._api = api
        self._mount_path = mount_path
        self._handshake = handshake_token.get()
        self._handoff_pending = False

    def load(self) -> str | None:
        return self._handshake

    async def save(self, token: str | None) -> None:
        self._handoff_pending = token is not None and token != self._handshake
        if token is None:
            self._handshake = None

    async def hand_off(self, route: str) -> None:
        """With a new token saved: take the browser through the hand-off to ``route``."""
        if not self._handoff_pending:
            return
        self._handoff_pending = False
        self._handshake = self._api.session_token
        handoff = await self._api.post("/auth/handoff")
        target = quote(self._mount_path + route, safe="/?=&")
        try:
            await ft.UrlLauncher().launch_url(
                f"{API_PREFIX}/auth/handoff/{handoff['code']}?next={quote(target, safe='/')}",
                web_only_window_name="_self",
            )
        except RuntimeError as error:
            # The tab left first. Without the cookie it cannot have this session back
            # (see web_sessions), so it signs in again; the unused code expires.
            log.info("the cookie hand-off did not reach the browser: %s", error)


def web_target(
    app: FastAPI, mount_path: str, admitted: AdmittedSessions | None = None
) -> Target[BrowserCookieStore]:
    def new_http_client(page: ft.Page) -> httpx.AsyncClient:
        # The browser's address and agent, so the sessions list shows the real device.
        return httpx.AsyncClient(
            transport=InProcessTransport(app, client=(page.client_ip or "127.0.0.1", 0)),
            base_url=IN_PROCESS_BASE_URL,
            headers={"user-agent": page.client_user_agent or "unknown browser"},
            timeout=API_TIMEOUT,
        )

    def new_cookie_store(page: ft.Page, api: APIClient) -> BrowserCookieStore:
        return BrowserCookieStore(api, mount_path)

    admission = admitted if admitted is not None else AdmitEveryone()
    return Target(
        new_http_client,
        new_cookie_store,
        after_navigation=BrowserCookieStore.hand_off,
        admission=admission,
    )


@asynccontextmanager
async def flet_app_manager(_: FastAPI) -> AsyncIterator[None]:
    # Starlette never runs a mounted app's lifespan; without this, closed sessions
    # would never be evicted.
    await flet_fastapi.app_manager.start()
    try:
        yield
    finally:
        await flet_fastapi.app_manager.shutdown()


def create_web_app(
    settings: Settings | None = None, *, allowed_hosts: HostAllowlist | None = None
) -> FastAPI:
    settings = settings or Settings()
    meta = app_metadata()
    admitted = AdmittedSessions(settings.anonymous_sessions_per_ip)
    app = create_api(
        settings,
        hooks=[flet_app_manager, admitted.closed_at_shutdown],
        allowed_hosts=allowed_hosts,
    )
    flet_app = flet_fastapi.app(
        create_frontend_app(web_target(app, meta.web_mount_path, admitted)),
        app_name=meta.name,
        app_short_name=meta.name,
        app_description=meta.description,
        no_cdn=True,  # CanvasKit from the wheel: no third-party CDN, works offline
        session_timeout_seconds=settings.flet_session_timeout_seconds,
    )

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{meta.web_mount_path}/")

    mount_flet(
        app, flet_app, meta.web_mount_path, wrap=HandshakeCookieReader, rules=WebSessionRules()
    )
    return app


def serve(
    host: str,
    port: int,
    *,
    forwarded_allow_ips: Sequence[str],
    timeout_keep_alive: int,
    timeout_graceful_shutdown: int,
    drain_seconds: float,
) -> None:
    """Run ``aegis serve`` until SIGTERM/SIGINT (see :mod:`aegis_app.launch.serving`).

    Every setting comes from :mod:`aegis_app.cli`, which holds the defaults (this
    module does not import it back).

    ``forwarded_allow_ips``: the balancer's addresses. Only a connection from one of
    them has its ``X-Forwarded-For``/``-Proto`` believed (the client's address in the
    audit log, the sign-in throttle and the per-address session cap; https for the
    cookie); anyone else's are ignored, so a client cannot spoof its address.
    ``timeout_keep_alive`` outlasts the balancer's (and any poller's) idle period, so
    it is never the server that closes a connection a request is being sent on.
    """
    settings = server_settings()  # the only reader of .env (see backend.core.config)
    configure_logging(settings, "serve")
    if settings.allowed_hosts:
        allowlist = HostAllowlist.parse(settings.allowed_hosts)
    else:
        allowlist = HostAllowlist.for_bound_address(host, port)
        if host in WILDCARD_ADDRESSES:
            log.warning(
                "listening on every interface, but answering only to %s: set "
                "AEGIS_ALLOWED_HOSTS to the names clients use to reach this server",
                allowlist.describe(),
            )
    drain = Drain(drain_seconds)
    app = create_web_app(settings, allowed_hosts=allowlist)
    log.info("serving http://%s:%s%s/", host, port, app_metadata().web_mount_path)
    log.info("answering to the Host names %s (AEGIS_ALLOWED_HOSTS)", allowlist.describe())
    if forwarded_allow_ips:
        log.info("trusting X-Forwarded-For/-Proto only from %s", ", ".join(forwarded_allow_ips))
    config = uvicorn.Config(
        DrainGate(app, drain),
        host=host,
        port=port,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=list(forwarded_allow_ips) or None,
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
        log_config=None,
    )
    server = DrainingServer(config, drain, before_shutdown=[partial(end_live_streams, app)])
    # What start-up built (modules, classes, the apps) lives as long as the process:
    # out of the collector's view, the full collections that come while sessions open
    # no longer walk it each time.
    gc.collect()
    gc.freeze()
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run does
        server.run()
    if not server.started:  # the port was taken, or the lifespan failed: said in the log
        sys.exit(STARTUP_FAILURE)
