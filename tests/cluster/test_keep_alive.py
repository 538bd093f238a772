"""Clients polling every 5 s on one kept-alive connection are never reset.

With uvicorn's old 5 s keep-alive, 500 such pollers saw 91 of 6,990 requests reset:
the server closed each idle connection just as the next poll was sent on it. Now
uvicorn keeps an idle connection 75 s and HAProxy keeps a client's 60 s, both far
above the poll period, so each poller keeps its one connection for every round,
through the balancer and straight to an instance.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections import Counter
from dataclasses import dataclass, field

import httpx

from deploy.cluster import Cluster
from tests.cluster.cluster_support import API, Figures

CLIENTS = 150  # per target: 300 connections in all
ROUNDS = 4
POLL_SECONDS = 5.0  # the dashboard's refresh period, and uvicorn's old keep-alive


@dataclass
class Tally:
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    connections: int = 0  # connections opened, over all clients
    slowest: float = 0.0

    def line(self, where: str) -> str:
        failed = {k: v for k, v in self.outcomes.items() if k != "200"}
        return (
            f"{where}: {self.requests} polls by {CLIENTS} clients every {POLL_SECONDS:g} s, "
            f"{sum(failed.values())} failed {failed or ''}, {self.connections} connections, "
            f"slowest answer {self.slowest:.2f} s"
        )


# One TLS context for all clients (they speak plain http): building one per client
# takes about 0.1 s, and 300 of them held the event loop for half a minute.
TLS = ssl.create_default_context()


async def poller(base_url: str, tally: Tally, offset: float) -> None:
    # keepalive_expiry: httpx itself drops a connection idle for 5 s by default.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=None)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30, verify=TLS) as http:
        # Spread the clients over one period, as real pollers are; the sleeps are the
        # poll period under test, not a wait for something to happen.
        await asyncio.sleep(offset)
        local_ports = set()
        for _ in range(ROUNDS):
            started = asyncio.get_running_loop().time()
            tally.requests += 1
            try:
                response = await http.get(f"{API}/health")
                tally.outcomes[str(response.status_code)] += 1
                stream = response.extensions["network_stream"]
                local_ports.add(stream.get_extra_info("client_addr")[1])
            except httpx.HTTPError as error:
                tally.outcomes[type(error).__name__] += 1
            elapsed = asyncio.get_running_loop().time() - started
            tally.slowest = max(tally.slowest, elapsed)
            await asyncio.sleep(max(0.0, POLL_SECONDS - elapsed))
        tally.connections += len(local_ports)


async def test_pollers_every_5_s_are_never_reset(cluster: Cluster, figures: Figures) -> None:
    targets = {
        "keep-alive through HAProxy": cluster.balancer.base_url,
        "keep-alive straight to instance a": cluster.instance("a").base_url,
    }
    tallies = {where: Tally() for where in targets}
    spread = random.Random(9)
    await asyncio.gather(
        *(
            poller(base_url, tallies[where], spread.uniform(0, POLL_SECONDS))
            for where, base_url in targets.items()
            for _ in range(CLIENTS)
        )
    )
    for where, tally in tallies.items():
        figures.add(tally.line(where))
    for where, tally in tallies.items():
        assert tally.outcomes == Counter({"200": CLIENTS * ROUNDS}), (where, tally)
        # Not one connection was closed under a client: each kept its first.
        assert tally.connections == CLIENTS, (where, tally)
