"""Workarounds for flet-web 0.82.2, kept in one place. Each is pinned by a test.

1. Mounted under a sub-path, the 0.82.2 web client fetches ``/canvaskit/...`` from the
   server root (404; the page never leaves the loading logo) and resolves its WebSocket
   endpoint against the root (``/ws``: 403, reconnect loop). 1.0.x fixed both. We serve
   flet-web's ``canvaskit`` folder at ``/canvaskit`` and give the static-files app the
   absolute WebSocket path.
2. flet#6512: a duplicated tab (or ``window.open`` of the same URL) copies
   ``sessionStorage`` and re-attaches to the *live* Python session of the first tab, which
   then goes dead. Upstream's fix (PR #6513, 1.0.x) only re-attaches to a session with no
   live connection; we backport exactly that. A reload still re-attaches, because by
   then the old connection is gone.
3. The app's own session rules (:class:`SessionRules`), which Flet has no hook for:
   whether a re-connecting client may have a given session back (the same wrapper of
   ``FletAppManager.get_session`` as 2), and how long a disconnected session is kept
   (a wrapper of ``FletAppManager.disconnect_session``, which only passes a per-session
   timeout on to Flet's own expiry and eviction loop).
4. A client that leaves while ``main`` still runs (a reload during the first load)
   makes ``FletApp.dispose`` drop the app's session; when ``main`` returns, FletApp
   calls ``after_event`` on ``None`` and logs "Unhandled error processing page
   session". We keep that reference (the session lives on in the manager anyway).
5. A client that closes while patches are still queued for it (a tab closed or
   reloaded during a load) makes FletApp's send loop raise ``WebSocketDisconnect``
   out of ``handle``, which then never calls ``disconnect_session``: the session is
   never marked disconnected, so it is never evicted, and it looks live for ever (no
   reload can have it back). Here 7 of 10 tabs closed right after registering leaked
   so. The send loop now ends quietly instead, and ``handle`` goes on as for any close.
   Between the end of the send loop and ``disconnect_session``, ``send_message`` hit
   the queue the loop had already dropped (``AttributeError`` in whatever was
   updating the page): such messages are dropped, as Flet drops them a moment later.
   And a WebSocket closed before it sent REGISTER left its send loop waiting for ever:
   the handler never returned, and ``aegis serve`` then ignored SIGTERM (found by
   helper "http-guards"). Its send loop is now ended with its receive loop. The send
   loop is ours (Flet's, line for line), except that it lets go of a message once it
   is sent: Flet's held the last one while the page was quiet, 30 KB per dashboard.
6. A call to the client (``invoke_method``: ``push_route``, ``SharedPreferences``,
   ``launch_url``, ...) waits for its answer with no timeout. One made while the client
   is away, or pending when it goes, can never be answered (Flet drops the message, or
   the answer went down with the socket; a reloaded page is a new client), and it hung
   ``main`` for ever: a reload during the first load got a blank page. Now such a call
   fails at once with ``RuntimeError``, as a call the client refuses does.
7. Flet logs every session id at INFO (``flet_web.fastapi``: "New session created",
   "Session reconnected", ...; ``flet``: "Session was garbage collected"). Whoever
   presents an id gets that session back, so the ids are replaced in those records.
8. Flet's diff formats debug f-strings it throws away (the repr of whole control
   subtrees, on every update), and so does ``FletApp.send_message`` (the repr of every
   message). The desktop diffs and sends too and has no flet-web, so that patch lives in
   ``flet_diff_patch``; :func:`mount_flet` applies it for the web target, with
   ``remember_root_fields`` (the encoder walked each control's class hierarchy for
   every field it sent). ``flet_hints_patch.remember_type_hints`` keeps each control
   class's type hints, which Flet worked out again for every message from the client.
9. Text typed into a field before Flutter's web engine listens to it was dropped (a
   fill then Enter at once, keys right after a click): ``early_typing`` adds a script
   to ``index.html`` that gives it to the engine once it listens.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from pathlib import Path
from typing import Any, Protocol

import flet_web
from fastapi import FastAPI
from flet.messaging.session import Session
from flet_web.fastapi.flet_app import FletApp
from flet_web.fastapi.flet_app_manager import FletAppManager
from flet_web.fastapi.flet_static_files import FletStaticFiles
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from starlette.websockets import WebSocketDisconnect

from aegis_app.launch.early_typing import keep_early_typing
from aegis_app.launch.flet_diff_patch import (
    remember_root_fields,
    skip_eager_debug_formatting,
    skip_eager_send_logging,
)
from aegis_app.launch.flet_hints_patch import remember_type_hints

WEBSOCKET_PATH_ATTRIBUTE = "_FletStaticFiles__websocket_endpoint_path"
FLET_APP_SESSION_ATTRIBUTE = "_FletApp__session"
FLET_APP_SEND_LOOP_ATTRIBUTE = "_FletApp__send_loop"
FLET_APP_SEND_QUEUE_ATTRIBUTE = "_FletApp__send_queue"
FLET_APP_WEBSOCKET_ATTRIBUTE = "_FletApp__websocket"
FLET_APP_RECEIVE_LOOP_ATTRIBUTE = "_FletApp__receive_loop"
SESSION_CANCEL_CALLS_ATTRIBUTE = "_Session__cancel_method_calls"
CLIENT_GONE = "the client is not connected"


def canvaskit_dir() -> Path:
    return Path(flet_web.get_package_web_dir()) / "canvaskit"


def find_static_files(flet_app: FastAPI) -> FletStaticFiles:
    for route in flet_app.routes:
        if isinstance(route, Mount) and isinstance(route.app, FletStaticFiles):
            return route.app
    raise RuntimeError("flet-web layout changed: no FletStaticFiles mount in the Flet app")


def fix_sub_path(outer: FastAPI, flet_app: FastAPI, mount_path: str) -> None:
    static = find_static_files(flet_app)
    if not hasattr(static, WEBSOCKET_PATH_ATTRIBUTE):
        raise RuntimeError("flet-web changed: FletStaticFiles has no websocket path attribute")
    setattr(static, WEBSOCKET_PATH_ATTRIBUTE, f"{mount_path}/ws")
    outer.mount("/canvaskit", StaticFiles(directory=canvaskit_dir()), name="flet-canvaskit")


class SessionRules(Protocol):
    """What the app decides about its Flet sessions; Flet asks through the wrappers."""

    def may_reattach(self, session: Session) -> bool:
        """May the client now registering (its context is the current one) have it back?"""
        ...

    def disconnect_timeout(self, session: Session, default_seconds: int) -> int:
        """How long to keep ``session`` for a reconnect, now that its client is gone."""
        ...


class FletDefaults:
    """Flet's own behaviour: any client may re-attach, every session gets the default."""

    def may_reattach(self, session: Session) -> bool:
        return True

    def disconnect_timeout(self, session: Session, default_seconds: int) -> int:
        return default_seconds


_rules: SessionRules = FletDefaults()


def install_session_rules(rules: SessionRules | None = None) -> None:
    """Idempotent: wraps ``get_session`` and ``disconnect_session`` once per process.

    There is one ``FletAppManager`` per process, so the rules are process-wide too;
    ``rules`` replaces the ones installed before (``None`` keeps them).
    """
    global _rules
    if rules is not None:
        _rules = rules
    original_get = FletAppManager.get_session
    if getattr(original_get, "_aegis_session_rules", False):
        return

    @functools.wraps(original_get)
    async def get_session(self: FletAppManager, session_id: str) -> Any:
        session = await original_get(self, session_id)
        if session is None:
            return None
        if session.connection is not None:
            return None  # flet#6512: live elsewhere, this tab must get a session of its own
        return session if _rules.may_reattach(session) else None

    original_disconnect = FletAppManager.disconnect_session

    @functools.wraps(original_disconnect)
    async def disconnect_session(
        self: FletAppManager, session_id: str, session_timeout_seconds: int
    ) -> None:
        session = await original_get(self, session_id)
        if session is not None:
            session_timeout_seconds = _rules.disconnect_timeout(session, session_timeout_seconds)
        await original_disconnect(self, session_id, session_timeout_seconds)

    get_session._aegis_session_rules = True  # type: ignore[attr-defined]
    FletAppManager.get_session = get_session
    FletAppManager.disconnect_session = disconnect_session


def keep_session_after_dispose() -> None:
    """Idempotent: wraps ``FletApp.dispose`` once per process."""
    original = FletApp.dispose
    if getattr(original, "_aegis_keeps_session", False):
        return

    @functools.wraps(original)
    def dispose(self: FletApp) -> None:
        session = getattr(self, FLET_APP_SESSION_ATTRIBUTE)
        original(self)
        setattr(self, FLET_APP_SESSION_ATTRIBUTE, session)

    dispose._aegis_keeps_session = True  # type: ignore[attr-defined]
    FletApp.dispose = dispose


def let_a_gone_client_go_quietly() -> None:
    """Idempotent: wraps FletApp's send and receive loops, ``send_message`` and
    ``handle``, once per process."""
    original = getattr(FletApp, FLET_APP_SEND_LOOP_ATTRIBUTE)
    if getattr(original, "_aegis_quiet_send_loop", False):
        return
    original_send_message = FletApp.send_message

    @functools.wraps(original_send_message)
    def send_message(self: FletApp, message: Any) -> None:
        if getattr(self, FLET_APP_SEND_QUEUE_ATTRIBUTE, None) is None:
            return  # the client is gone; the session is being marked disconnected
        original_send_message(self, message)

    @functools.wraps(original)
    async def send_loop(self: FletApp) -> None:
        # Flet's loop, but it lets go of each message once sent. Flet's kept the last
        # one in a local for as long as the page stayed quiet: a live dashboard's last
        # refresh, about 30 KB per open dashboard.
        queue = getattr(self, FLET_APP_SEND_QUEUE_ATTRIBUTE)
        websocket = getattr(self, FLET_APP_WEBSOCKET_ATTRIBUTE)
        # What was queued was for a client that is gone; its receive loop ends too.
        with contextlib.suppress(WebSocketDisconnect):
            while (message := await queue.get()) is not None:
                await websocket.send_bytes(message)
                message = None
            setattr(self, FLET_APP_WEBSOCKET_ATTRIBUTE, None)
            setattr(self, FLET_APP_SEND_QUEUE_ATTRIBUTE, None)

    original_receive_loop = getattr(FletApp, FLET_APP_RECEIVE_LOOP_ATTRIBUTE)

    @functools.wraps(original_receive_loop)
    async def receive_loop(self: FletApp) -> None:
        await original_receive_loop(self)
        if getattr(self, FLET_APP_SESSION_ATTRIBUTE) is None:  # it never registered
            await getattr(self, FLET_APP_SEND_QUEUE_ATTRIBUTE).put(None)  # ends the send loop
            raise _NeverRegistered  # handle() has no session to disconnect

    original_handle = FletApp.handle

    @functools.wraps(original_handle)
    async def handle(self: FletApp, websocket: Any) -> None:
        with contextlib.suppress(_NeverRegistered):
            await original_handle(self, websocket)

    send_loop._aegis_quiet_send_loop = True  # type: ignore[attr-defined]
    setattr(FletApp, FLET_APP_SEND_LOOP_ATTRIBUTE, send_loop)
    setattr(FletApp, FLET_APP_RECEIVE_LOOP_ATTRIBUTE, receive_loop)
    FletApp.send_message = send_message
    FletApp.handle = handle


class _NeverRegistered(Exception):
    """A connection closed before REGISTER: there is no session to let go of."""


def fail_client_calls_without_a_client() -> None:
    """Idempotent: wraps ``Session.invoke_method`` and ``Session.disconnect`` once."""
    original_invoke = Session.invoke_method
    if getattr(original_invoke, "_aegis_needs_a_client", False):
        return
    original_disconnect = Session.disconnect

    @functools.wraps(original_invoke)
    async def invoke_method(
        self: Session,
        control_id: int,
        method_name: str,
        args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (Flet's own signature)
    ) -> Any:
        if self.connection is None:
            raise RuntimeError(f"{method_name}: {CLIENT_GONE}")
        return await original_invoke(self, control_id, method_name, args, timeout)

    @functools.wraps(original_disconnect)
    async def disconnect(self: Session, session_timeout_seconds: int) -> None:
        await original_disconnect(self, session_timeout_seconds)
        if self.connection is None:  # not re-attached while the event handlers ran
            getattr(self, SESSION_CANCEL_CALLS_ATTRIBUTE)()  # they fail with "Session closed"

    invoke_method._aegis_needs_a_client = True  # type: ignore[attr-defined]
    Session.invoke_method = invoke_method  # type: ignore[method-assign]
    Session.disconnect = disconnect  # type: ignore[method-assign]


FLET_LOGGERS_WITH_SESSION_IDS = ("flet_web.fastapi", "flet")
# Flet's session id is random_string(16) (letters and digits); the manager's key for it
# is "<page name>_<id>_<sha1 of client address and agent>".
_SESSION_ID = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{16}(?![A-Za-z0-9])")
REDACTED = "<session>"


class RedactSessionIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SESSION_ID.sub(REDACTED, message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redact_flet_session_ids() -> None:
    """Idempotent. A logger's filter sees only records logged on that very logger."""
    for name in FLET_LOGGERS_WITH_SESSION_IDS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSessionIds) for f in logger.filters):
            logger.addFilter(RedactSessionIds())


def mount_flet(
    outer: FastAPI,
    flet_app: FastAPI,
    mount_path: str,
    wrap: Any = None,
    rules: SessionRules | None = None,
) -> None:
    """Mount the Flet sub-app at ``mount_path`` with every workaround applied."""
    fix_sub_path(outer, flet_app, mount_path)
    install_session_rules(rules)
    keep_session_after_dispose()
    skip_eager_send_logging(FletApp)  # before the wrapper below takes send_message
    let_a_gone_client_go_quietly()
    fail_client_calls_without_a_client()
    redact_flet_session_ids()
    skip_eager_debug_formatting()
    remember_root_fields()
    remember_type_hints()
    keep_early_typing()
    app: ASGIApp = wrap(flet_app) if wrap is not None else flet_app
    outer.mount(mount_path, app, name="dashboard")
