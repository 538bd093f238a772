"""A protocol-level Flet 0.82.2 client over the real WebSocket, for benchmarks.

It speaks just enough of the wire protocol to stand in for a browser tab:

* each binary frame is ``msgpack.packb([action, body])`` (0.82.2 has no type byte;
  1.0.x prepends ``b"\\x00"``);
* 1 REGISTER, answered with ``{session_id, page_patch, error}``; 2 PATCH from the
  server; 3 EVENT and 4 UPDATE_PROPS from the client; 5 INVOKE_METHOD from the
  server, which awaits a reply carrying the same ``call_id``.

Every server method call is answered (``SharedPreferences.get`` gets ``None``), and
``push_route`` is followed by what the Dart client does after navigating: the page's
``route`` prop and a ``route_change`` event. Without those answers ``main`` blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import websockets

REGISTER, PATCH, EVENT, UPDATE_PROPS, INVOKE_METHOD, SESSION_CRASHED = 1, 2, 3, 4, 5, 6
PAGE_ID = 1


def pack(action: int, body: Any) -> bytes:
    packed: bytes = msgpack.packb([action, body])
    return packed


def unpack(raw: bytes) -> list[Any]:
    # Patches are keyed by list index (ints), hence strict_map_key=False; datetime and
    # other extension types are not needed here and stay ExtType.
    message: list[Any] = msgpack.unpackb(raw, strict_map_key=False)
    return message


def find_controls(node: Any, type_name: str) -> Iterator[dict[str, Any]]:
    """Every serialized control of Flet type ``type_name`` (``_c``) inside ``node``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("_c") == type_name:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class FletClient:
    """One emulated tab: registers, answers method calls, records patches.

    A background reader drains the socket for the whole life of the client (a tab that
    stops reading would stall the server's send queue). Patches whose raw bytes contain
    ``watch`` set :attr:`seen`; if :attr:`timing` is on, every patch is also queued as
    ``(perf_counter, route, raw)`` for the caller, ``route`` being the last one the
    server pushed before that patch.
    """

    def __init__(
        self,
        url: str,
        *,
        cookie: str | None = None,
        origin: str | None = None,
        local_address: str | None = None,
        keep_frames: bool = False,
        count_mark: bytes = b"",
        scan_types: tuple[str, ...] = ("NavigationRail",),
    ) -> None:
        self.url = url
        self.cookie = cookie
        self.origin = origin
        self.local_address = local_address
        """Connect from this address (e.g. another 127.x.y.z: another client IP)."""
        self.keep_frames = keep_frames
        self.frames: list[bytes] = []
        """With ``keep_frames``: the register reply and every patch, raw."""
        self.session_id: str | None = None
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.watch = b""
        self.seen = asyncio.Event()
        self.timing = False
        self.patches: asyncio.Queue[tuple[float, str, bytes]] = asyncio.Queue()
        self.patch_count = 0
        self.count_mark = count_mark
        self.mark_count = 0
        """Patches that contained ``count_mark`` (e.g. the dashboard's "Updated ")."""
        self.scan_types = scan_types
        self.found: dict[str, dict[str, Any]] = {}
        """The last serialized control seen of each type in ``scan_types``."""
        self.invokes: dict[str, int] = {}
        self.rail: dict[str, Any] | None = None
        self.route = "/"
        self.error: str | None = None

    async def open(
        self,
        route: str = "/",
        *,
        watch: bytes = b"",
        timeout: float = 30.0,
        session_id: str | None = None,
    ) -> None:
        """Connect and register; with ``watch``, wait until the page contains it.

        ``session_id`` is what a reloaded tab presents from its ``sessionStorage``.
        """
        self.watch = watch
        self.route = route
        headers = {"Cookie": self.cookie} if self.cookie else None
        extra: dict[str, Any] = {}
        if self.local_address is not None:
            extra["local_addr"] = (self.local_address, 0)
        self.ws = await websockets.connect(
            self.url,
            additional_headers=headers,
            origin=self.origin,  # type: ignore[arg-type]
            max_size=None,
            open_timeout=timeout,
            ping_interval=None,  # the server does not ping either; keep the bench quiet
            compression=None,  # the Flutter web client does not negotiate deflate
            **extra,
        )
        await self.ws.send(
            pack(
                REGISTER,
                {
                    "session_id": session_id,
                    "page_name": "",
                    "page": {
                        "route": route,
                        "width": 1280,
                        "height": 800,
                        "web": True,
                        "platform": "linux",
                        "platform_brightness": "light",
                        "pwa": False,
                        "debug": False,
                        "multi_view": False,
                    },
                },
            )
        )
        raw_reply = await asyncio.wait_for(self.ws.recv(), timeout)
        reply = unpack(raw_reply)
        if reply[0] != REGISTER or reply[1].get("error"):
            raise RuntimeError(f"register failed: {reply!r:.300}")
        if self.keep_frames:
            self.frames.append(raw_reply)
        if watch and watch in raw_reply:  # a re-attached session's page comes whole
            self.seen.set()
        self.session_id = reply[1]["session_id"]
        self._scan(reply[1]["page_patch"])
        self.reader = asyncio.create_task(self._read())
        if watch:
            await asyncio.wait_for(self.seen.wait(), timeout)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = unpack(raw)
                action, body = message[0], message[1]
                if action == PATCH:
                    self.patch_count += 1
                    if self.count_mark and self.count_mark in raw:
                        self.mark_count += 1
                    if self.keep_frames:
                        self.frames.append(raw)
                    if self.timing:
                        self.patches.put_nowait((time.perf_counter(), self.route, raw))
                    if self.watch and self.watch in raw:
                        self.seen.set()
                    if any(t.encode() in raw for t in self.scan_types):
                        self._scan(body)
                elif action == INVOKE_METHOD:
                    await self._answer(body)
                elif action == SESSION_CRASHED:
                    self.error = str(body)
        except websockets.ConnectionClosed:
            pass

    def _scan(self, node: Any) -> None:
        for type_name in self.scan_types:
            for control in find_controls(node, type_name):
                self.found[type_name] = control
        self.rail = self.found.get("NavigationRail", self.rail)

    async def _answer(self, call: dict[str, Any]) -> None:
        name = str(call.get("name"))
        self.invokes[name] = self.invokes.get(name, 0) + 1
        await self.ws.send(
            pack(
                INVOKE_METHOD,
                {
                    "control_id": call["control_id"],
                    "call_id": call["call_id"],
                    "result": None,
                    "error": None,
                },
            )
        )
        if name == "push_route":
            # What the browser does after navigating: new route prop, route_change event.
            route = call["args"]["route"]
            self.route = route
            await self.ws.send(pack(UPDATE_PROPS, {"id": PAGE_ID, "props": {"route": route}}))
            await self.ws.send(
                pack(EVENT, {"target": PAGE_ID, "name": "route_change", "data": {"route": route}})
            )

    async def select_rail(self, index: int) -> None:
        """Click a NavigationRail destination, as the Dart client reports it."""
        assert self.rail is not None, "no NavigationRail seen yet"
        rail_id = self.rail["_i"]
        await self.ws.send(pack(UPDATE_PROPS, {"id": rail_id, "props": {"selected_index": index}}))
        await self.ws.send(pack(EVENT, {"target": rail_id, "name": "change", "data": index}))

    async def click(self, control_id: int) -> None:
        """Click a button, as the Dart client reports it."""
        await self.ws.send(pack(EVENT, {"target": control_id, "name": "click", "data": None}))

    def has_seen(self, text: bytes) -> bool:
        """With ``keep_frames``: whether the page ever contained ``text``."""
        return any(text in frame for frame in self.frames)

    def rail_labels(self) -> list[str]:
        if self.rail is None:
            return []
        return [str(d.get("label", "")) for d in self.rail.get("destinations", [])]

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader
