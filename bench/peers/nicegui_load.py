"""NiceGUI tabs for the bench, spoken at the protocol level; runs in the peer venv.

``python nicegui_load.py BASE_URL`` reads one JSON command per line on stdin and
answers each with one JSON line on stdout:

* ``{"cmd": "open", "n": N, "concurrency": C, "timeout": T}`` opens N more tabs ->
  ``{"opened": k, "failed": f, "elapsed": s, "error": "first failure"}``;
* ``{"cmd": "refreshes"}`` -> ``{"refreshes": total "Updated ..." updates received}``;
* ``{"cmd": "click", "n": K}`` clicks the first tab's button K times ->
  ``{"ms": [click -> first update carrying the swapped text, ...]}``;
* ``{"cmd": "close"}`` closes every tab and exits.

A tab does what a browser tab does with the server: GET the page (NiceGUI builds the
visitor's elements then and embeds them in the HTML with the ``client_id``), connect
Socket.IO over the WebSocket transport with the page's query (implicit handshake, as
the page script does), take every ``update``, and ack the last message id every 3 s
(the page script's ``ack()``; without it the server keeps up to 1,000 messages per
visitor for a resend). What a browser does beyond that (fetch the static files,
render) costs the server nothing per visitor, so the server's memory and CPU per
visitor are the same as with Chromium, at a fraction of the client's cost.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlencode

# Installed in the peers' own venv (bench/.work), not in the project's.
import aiohttp  # type: ignore[import-not-found]
import socketio  # type: ignore[import-not-found]

ACK_SECONDS = 3.0
QUERY = re.compile(r"'client_id': '([^']+)', 'next_message_id': (\d+)")
ELEMENTS = re.compile(r"parseElements\(String\.raw`(.*?)`\)", re.S)


class Tab:
    def __init__(self, base: str, http: aiohttp.ClientSession) -> None:
        self.base = base
        self.http = http
        self.sio = socketio.AsyncClient(reconnection=False, http_session=http)
        self.client_id = ""
        self.next_message_id = 0
        self.refreshes = 0
        self.button: tuple[str, str] | None = None
        """(element id, click listener id) of the page's button."""
        self.toggled_id = ""
        self.waiter: asyncio.Future[float] | None = None
        self.disconnected: str | None = None
        self.sio.on("update", self.on_update)
        self.sio.on("disconnect", self.on_disconnect)

    async def open(self, timeout: float) -> None:
        async with self.http.get(self.base + "/", timeout=aiohttp.ClientTimeout(timeout)) as r:
            r.raise_for_status()
            page = await r.text()
        query = QUERY.search(page)
        found = ELEMENTS.search(page)
        if query is None or found is None:
            raise RuntimeError("no client_id or elements in the page")
        self.client_id, self.next_message_id = query[1], int(query[2])
        elements: dict[str, Any] = json.loads(html.unescape(found[1]))
        for key, element in elements.items():
            if element.get("tag") == "q-btn" and element.get("events"):
                self.button = (key, element["events"][0]["listener_id"])
            if element.get("text") == "A":
                self.toggled_id = key
        params = {
            "client_id": self.client_id,
            "next_message_id": self.next_message_id,
            "implicit_handshake": "true",
            "document_id": str(uuid.uuid4()),
            "tab_id": str(uuid.uuid4()),
        }
        await self.sio.connect(
            f"{self.base}?{urlencode(params)}",
            socketio_path="/_nicegui_ws/socket.io",
            transports=["websocket"],
            wait_timeout=timeout,
        )

    def on_update(self, message: dict[str, Any]) -> None:
        self.next_message_id = max(self.next_message_id, int(message.get("_id", -1)) + 1)
        texts = [e.get("text") for e in message.values() if isinstance(e, dict)]
        if any(isinstance(t, str) and t.startswith("Updated ") for t in texts):
            self.refreshes += 1
        if self.waiter is not None and self.toggled_id in message and not self.waiter.done():
            self.waiter.set_result(time.perf_counter())

    def on_disconnect(self, reason: Any = None) -> None:
        self.disconnected = str(reason)
        print(
            f"{time.strftime('%H:%M:%S')} tab {self.client_id} disconnected: {reason}",
            file=sys.stderr,
            flush=True,
        )

    async def ack(self) -> None:
        if self.sio.connected:
            await self.sio.emit(
                "ack", {"client_id": self.client_id, "next_message_id": self.next_message_id}
            )

    async def click(self) -> float:
        assert self.button is not None, "no button on the page"
        self.waiter = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await self.sio.emit(
            "event",
            {
                "id": int(self.button[0]),
                "client_id": self.client_id,
                "listener_id": self.button[1],
                "args": [],
            },
        )
        arrived = await asyncio.wait_for(self.waiter, 10)
        self.waiter = None
        return (arrived - started) * 1000


class Load:
    def __init__(self, base: str) -> None:
        self.base = base
        self.tabs: list[Tab] = []
        self.http: aiohttp.ClientSession | None = None

    async def open(self, n: int, concurrency: int, timeout: float) -> dict[str, Any]:
        if self.http is None:
            # force_close: a page GET must not leave its connection for a WebSocket to
            # reuse; uvicorn then closed such sockets at its 5 s keep-alive timeout.
            connector = aiohttp.TCPConnector(limit=0, force_close=True)
            self.http = aiohttp.ClientSession(connector=connector)
        http = self.http
        limit = asyncio.Semaphore(concurrency)

        async def one() -> Tab:
            tab = Tab(self.base, http)
            async with limit:
                try:
                    await tab.open(timeout)
                except BaseException:
                    await tab.sio.disconnect()
                    raise
            return tab

        started = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
        elapsed = time.perf_counter() - started
        tabs = [r for r in results if isinstance(r, Tab)]
        failures = [r for r in results if not isinstance(r, Tab)]
        self.tabs += tabs
        return {
            "opened": len(tabs),
            "failed": len(failures),
            "elapsed": elapsed,
            "error": repr(failures[0]) if failures else None,
        }

    async def keep_acking(self) -> None:
        while True:
            await asyncio.sleep(ACK_SECONDS)
            await asyncio.gather(*(t.ack() for t in self.tabs), return_exceptions=True)

    async def click(self, n: int) -> dict[str, Any]:
        times: list[float] = []
        live = [t for t in self.tabs if t.sio.connected]
        if not live:
            return {"ms": times, "timeouts": 0, "error": "no tab is connected"}
        for _ in range(n):
            try:
                times.append(await live[0].click())
            except TimeoutError:
                return {"ms": times, "timeouts": 1}
        return {"ms": times, "timeouts": 0}

    async def close(self) -> None:
        await asyncio.gather(*(t.sio.disconnect() for t in self.tabs), return_exceptions=True)
        if self.http is not None:
            await self.http.close()


async def main(base: str) -> None:
    # Socket.IO's own account of a dropped connection goes to stderr (the bench's log).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("engineio.client").setLevel(logging.WARNING)
    logging.getLogger("socketio.client").setLevel(logging.WARNING)
    load = Load(base)
    acking = asyncio.create_task(load.keep_acking())
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command["cmd"] == "open":
            answer = await load.open(command["n"], command["concurrency"], command["timeout"])
        elif command["cmd"] == "refreshes":
            answer = {
                "refreshes": sum(t.refreshes for t in load.tabs),
                "disconnected": sum(t.disconnected is not None for t in load.tabs),
            }
        elif command["cmd"] == "click":
            answer = await load.click(command["n"])
        else:
            break
        print(json.dumps(answer), flush=True)
    acking.cancel()
    await load.close()
    print(json.dumps({"closed": True}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
