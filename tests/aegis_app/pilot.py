"""An in-process Flet "pilot": the real view tree driven without a Flutter client.

``flet.testing`` needs the Flutter SDK, which this machine does not have. Instead a
:class:`Pilot` runs ``create_frontend_app(target)``'s ``main(page)`` in a real
``flet.messaging.session.Session`` whose connection (:class:`RecordingConnection`)
stands in for the client:

* every outgoing message is msgpack-encoded exactly as ``FletApp.send_message`` does.
  The encoder records each control's previous lists and children, which later diffs
  rely on, so skipping it makes the second ``page.update()`` send wrong patches;
* every ``invoke_method`` the Python side awaits (``push_route``, ``focus``,
  ``launch_url``, ...) is answered with success on the next loop turn, and
  ``push_route`` is followed, as the real client does, by a route update of the page
  and a ``route_change`` event;
* a ``SESSION_CRASHED`` message (an exception escaped an event handler) is kept in
  :attr:`RecordingConnection.crashes`, and the ``pilot`` fixture fails the test on it.

The pilot then acts like a user: :meth:`Pilot.fill` (props update, then ``change``),
:meth:`Pilot.click`, :meth:`Pilot.submit`, :meth:`Pilot.visit` (address bar / back
button), :meth:`Pilot.reconnect` (reload or network blip) and :meth:`Pilot.close`
(session evicted). Each action waits until the work it started is done
(:meth:`Pilot.wait_idle`), so a test can assert right after it.

Background work that a view starts with ``start_task`` is not waited for (it may run
forever); wait for its effects with ``tests.waiting.wait_for``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import flet as ft
import httpx
import msgpack
from flet.controls.base_control import BaseControl
from flet.controls.context import _context_page
from flet.messaging.connection import Connection
from flet.messaging.protocol import (
    ClientAction,
    ClientMessage,
    RegisterClientResponseBody,
    configure_encode_object_for_msgpack,
    decode_ext_from_msgpack,
)
from flet.messaging.session import Session
from flet.pubsub.pubsub_hub import PubSubHub

from aegis_app.api_client import APIClient
from aegis_app.app import ROUTER_KEY, create_frontend_app
from aegis_app.launch.flet_web_patches import fail_client_calls_without_a_client
from aegis_app.launch.in_process import InProcessTransport
from aegis_app.routing import Router
from aegis_app.state import STATE_KEY, SessionState
from aegis_app.target import Target
from aegis_app.views.base import BaseView

log = logging.getLogger("tests.pilot")

# As the web target's sessions: a call to a client that is away fails at once.
fail_client_calls_without_a_client()

C = TypeVar("C", bound=BaseControl)
V = TypeVar("V", bound=BaseView)

BASE_URL = "https://aegis.internal"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"

# An answer to an invoked client method: (result, error). Error None means success.
MethodAnswer = Callable[[dict[str, Any]], tuple[Any, str | None]]


class InMemorySessionCookieStore:
    """A test double of ``aegis_app.state.SessionCookieStore`` that remembers calls."""

    description = "In memory (tests)"
    notice = None

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.saved: list[str | None] = []
        self.navigations: list[str] = []

    def load(self) -> str | None:
        return self.token

    async def save(self, token: str | None) -> None:
        self.saved.append(token)
        self.token = token

    async def navigated(self, route: str) -> None:
        """The target's ``after_navigation``: every route the router has shown."""
        self.navigations.append(route)


@dataclasses.dataclass
class Invocation:
    control_id: int
    name: str
    args: dict[str, Any]


class RecordingConnection(Connection):
    """Plays the Flutter client's side of the protocol, in-process."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Flet's Connection is untyped
        self.loop = loop
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pilot")
        self.pubsubhub = PubSubHub(loop=loop, executor=self.executor)
        self.page_name = "dashboard"
        self.page_url = "https://aegis.test/dashboard"
        self.session: Session | None = None
        self.frames: list[bytes] = []
        """Every message as the real client would have received it."""
        self.invocations: list[Invocation] = []
        self.crashes: list[str] = []
        self.answers: dict[str, MethodAnswer] = {}
        """Per method name, how the "client" answers; default: success, result None."""
        self.foreground: set[asyncio.Task[Any]] = set()
        # Flet's encoder factory is untyped.
        self._encode = configure_encode_object_for_msgpack(BaseControl)  # type: ignore[no-untyped-call]

    # -- server → client -------------------------------------------------------------
    def send_message(self, message: ClientMessage) -> None:
        frame = msgpack.packb([message.action, message.body], default=self._encode)
        self.frames.append(frame)
        action_code, body = msgpack.unpackb(
            frame, ext_hook=decode_ext_from_msgpack, strict_map_key=False
        )
        action = ClientAction(action_code)
        if action == ClientAction.SESSION_CRASHED:
            self.crashes.append(body["message"])
        elif action == ClientAction.INVOKE_METHOD:
            call = Invocation(body["control_id"], body["name"], body.get("args") or {})
            self.invocations.append(call)
            # Like a network round trip: the answer arrives on a later loop turn.
            self.loop.call_soon(self._answer, call, body["call_id"])

    def _answer(self, call: Invocation, call_id: str) -> None:
        session = self.session
        if session is None:
            return
        answer = self.answers.get(call.name)
        result, error = answer(call.args) if answer else (None, None)
        try:
            session.handle_invoke_method_results(call.control_id, call_id, result, error)
        except RuntimeError:
            return  # the control is gone (session closed); the real client would drop it
        if call.name == "push_route" and error is None:
            self.client_route_change(str(call.args["route"]))

    # -- client → server -------------------------------------------------------------
    def track(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the pilot waits for in :meth:`Pilot.wait_idle`."""
        assert self.session is not None
        _context_page.set(self.session.page)
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.foreground.add(task)
        task.add_done_callback(self.foreground.discard)
        return task

    def client_route_change(self, route: str) -> None:
        """What the client sends when its location changes: the route prop, then the event."""
        assert self.session is not None
        self.session.apply_page_patch({"route": route})
        self.event(self.session.page._i, "route_change", {"route": route})

    def event(self, control_id: int, name: str, data: Any = None) -> asyncio.Task[Any]:
        assert self.session is not None
        return self.track(self.session.dispatch_event(control_id, name, data))

    def update_props(self, control_id: int, props: dict[str, Any]) -> None:
        assert self.session is not None
        self.session.apply_patch(control_id, props)

    def dispose(self) -> None:
        pass  # the connection object is reused on reconnect


class Pilot:
    """One browser tab (one Flet session) driving the real Aegis view tree."""

    def __init__(
        self,
        target: Target[Any],
        *,
        route: str = "/",
        store: InMemorySessionCookieStore | None = None,
    ) -> None:
        self.target = target
        self.store = store
        """The target's cookie store, when the test built it (for assertions)."""
        self.initial_route = route
        self.conn = RecordingConnection(asyncio.get_running_loop())
        self.session = Session(self.conn)
        self.conn.session = self.session
        self.closed = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> Pilot:
        """Register like the client does, then run ``main(page)`` to completion."""
        session, page = self.session, self.session.page
        _context_page.set(page)
        session.apply_page_patch(
            {"route": self.initial_route, "web": True, "width": 1280.0, "height": 800.0}
        )
        page.client_ip = "127.0.0.1"
        page.client_user_agent = USER_AGENT
        self.conn.send_message(
            ClientMessage(
                ClientAction.REGISTER_CLIENT,
                RegisterClientResponseBody(
                    session.id,
                    session.get_page_patch(),  # type: ignore[no-untyped-call]  # Flet's, untyped
                    "",
                ),
            )
        )
        main = create_frontend_app(self.target)

        async def run_main() -> None:
            # As FletApp does: an exception in main is logged and reported to the client.
            try:
                await main(page)
                await session.after_event(page)
            except Exception as error:
                log.error("unhandled error in main()", exc_info=True)
                session.error(str(error))

        self.conn.track(run_main())
        await self.wait_idle()
        return self

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Until every handler, route change and method answer started so far is done."""
        async with asyncio.timeout(timeout):
            while True:
                for _ in range(3):  # answers and cancellations land on later loop turns
                    await asyncio.sleep(0)
                pending = [task for task in self.conn.foreground if not task.done()]
                if not pending:
                    return
                await asyncio.wait(pending)

    async def reconnect(self) -> None:
        """A reload or network blip: disconnect, then the client re-attaches."""
        await self.session.disconnect(300)
        self.session.attach_connection(self.conn)
        self.conn.track(self.session.dispatch_connect_event())
        await self.wait_idle()

    async def close(self) -> None:
        """The session is evicted: Flet's ``Session.close()`` fires ``page.on_close``."""
        if self.closed:
            return
        self.closed = True
        before = asyncio.all_tasks()
        # Flet's Session.close is untyped. It schedules the "close" event as a task of its own.
        self.session.close()  # type: ignore[no-untyped-call]
        for task in asyncio.all_tasks() - before:
            self.conn.foreground.add(task)
            task.add_done_callback(self.conn.foreground.discard)
        await self.wait_idle()
        self.conn.executor.shutdown(wait=False)

    # -- what the app holds ----------------------------------------------------------
    @property
    def page(self) -> ft.Page:
        page: ft.Page = self.session.page
        return page

    @property
    def state(self) -> SessionState:
        state: SessionState = self.page.data[STATE_KEY]
        return state

    @property
    def router(self) -> Router:
        router: Router = self.page.data[ROUTER_KEY]
        return router

    @property
    def api(self) -> APIClient:
        return self.state.api

    @property
    def view(self) -> BaseView:
        assert self.router.current is not None, "no view is shown"
        return self.router.current

    def view_as(self, kind: type[V]) -> V:
        view = self.view
        assert isinstance(view, kind), f"expected {kind.__name__}, showing {view!r}"
        return view

    @property
    def route(self) -> str:
        return self.page.route or ""

    def invoked(self, name: str) -> list[Invocation]:
        return [call for call in self.conn.invocations if call.name == name]

    @property
    def pushed_routes(self) -> list[str]:
        return [str(call.args["route"]) for call in self.invoked("push_route")]

    # -- finding controls ------------------------------------------------------------
    def controls(self, *, visible_only: bool = True) -> Iterator[BaseControl]:
        """Every control in ``page.views``, depth first; hidden subtrees are skipped."""
        for view in self.page.views:
            yield from _walk(view, visible_only)

    def find_all(
        self, kind: type[C], text: str | None = None, *, visible_only: bool = True
    ) -> list[C]:
        """Controls of ``kind`` whose label/text/value equals ``text`` (if given)."""
        return [
            control
            for control in self.controls(visible_only=visible_only)
            if isinstance(control, kind) and (text is None or text in control_texts(control))
        ]

    def find(self, kind: type[C], text: str | None = None, *, visible_only: bool = True) -> C:
        found = self.find_all(kind, text, visible_only=visible_only)
        if len(found) != 1:
            raise AssertionError(
                f"expected one {kind.__name__} {text!r}, found {len(found)}; "
                f"visible texts: {self.texts()}"
            )
        return found[0]

    def texts(self) -> list[str]:
        """Every visible string: text values, labels, button captions."""
        return [text for control in self.controls() for text in control_texts(control)]

    def has_text(self, text: str) -> bool:
        """Whether ``text`` appears in some visible string."""
        return any(text in shown for shown in self.texts())

    # -- acting like the client ------------------------------------------------------
    async def fill(self, field: ft.TextField | str, value: str) -> None:
        """Type into a field: the client sends the new value, then ``change``."""
        control = self.find(ft.TextField, field) if isinstance(field, str) else field
        self.conn.update_props(control._i, {"value": value})
        if control.on_change is not None:
            self.conn.event(control._i, "change", value)
        await self.wait_idle()

    async def click(
        self, control: BaseControl | str, kind: type[BaseControl] = BaseControl
    ) -> None:
        """Click a control, or the one visible, enabled control labelled ``control``."""
        if isinstance(control, str):
            candidates = [
                c for c in self.find_all(kind, control) if getattr(c, "on_click", None) is not None
            ]
            if len(candidates) != 1:
                raise AssertionError(
                    f"expected one clickable {control!r}, found {len(candidates)}; "
                    f"visible texts: {self.texts()}"
                )
            control = candidates[0]
        assert not getattr(control, "disabled", False), f"{control} is disabled"
        self.conn.event(control._i, "click")
        await self.wait_idle()

    async def submit(self, field: ft.TextField | str) -> None:
        """Press Enter in a field."""
        control = self.find(ft.TextField, field) if isinstance(field, str) else field
        self.conn.event(control._i, "submit", control.value)
        await self.wait_idle()

    async def visit(self, route: str) -> None:
        """The user changes the location (address bar, back button, a link)."""
        self.conn.client_route_change(route)
        await self.wait_idle()


def control_texts(control: BaseControl) -> list[str]:
    """The strings a person would read on ``control`` itself (not its children)."""
    texts = []
    for name in ("value", "label", "content", "text", "tooltip", "hint_text"):
        value = getattr(control, name, None)
        if isinstance(value, str) and value and not (name == "value" and _is_password(control)):
            texts.append(value)
    return texts


def _is_password(control: BaseControl) -> bool:
    return isinstance(control, ft.TextField) and bool(control.password)


def _walk(control: BaseControl, visible_only: bool) -> Iterator[BaseControl]:
    if visible_only and getattr(control, "visible", True) is False:
        return
    yield control
    for field in dataclasses.fields(control):
        if field.name.startswith("_") or field.name == "parent":
            continue
        value = getattr(control, field.name, None)
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, BaseControl):
                yield from _walk(child, visible_only)


def in_process_target(
    api_app: Any,
    store: InMemorySessionCookieStore,
    *,
    http_clients: list[httpx.AsyncClient] | None = None,
) -> Target[InMemorySessionCookieStore]:
    """A Target that talks to ``api_app`` over ASGI and keeps the cookie in ``store``."""

    def new_http_client(page: ft.Page) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            # As web_target: a backend exception arrives as a 500 response.
            # The web target's transport: cancelled views never cut a request short.
            transport=InProcessTransport(api_app, client=("127.0.0.1", 50000)),
            base_url=BASE_URL,
            headers={"user-agent": page.client_user_agent or USER_AGENT},
        )
        if http_clients is not None:
            http_clients.append(client)
        return client

    return Target(
        new_http_client,
        lambda page, api: store,
        after_navigation=InMemorySessionCookieStore.navigated,
    )
