"""An instance dies (kill -9) or is stopped (SIGTERM) under load: nothing acknowledged is
lost, and a drained instance fails no request.

The figures (writes acknowledged vs found, failures by kind, drain counts and seconds)
are printed in the run's terminal summary.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgpack
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from deploy.cluster import DRAIN_SECONDS, Cluster, free_port
from deploy.instance import AegisInstance
from tests.cluster.cluster_support import (
    API,
    PASSWORD,
    STICKY,
    Burst,
    Figures,
    client,
    ensure_all_up,
)
from tests.waiting import wait_until

BURST = 200
KILL_AFTER = 40  # acknowledged writes before the kill: mid-burst


def found_on_postgres(cluster: Cluster, prefix: str) -> set[str]:
    rows = cluster.postgres.psql(
        f"SELECT email FROM users WHERE email LIKE '{prefix}-%'", database="aegis"
    )
    return set(rows.split()) if rows else set()


def test_kill_9_during_a_burst_of_writes_loses_no_acknowledged_write_on_postgresql(
    cluster: Cluster, admin_token: str, figures: Figures
) -> None:
    a = cluster.instance("a")
    # Half the writers are stuck to A, half to B; A is killed mid-burst, and HAProxy
    # sends A's writers to B from then on (a refused connection is retried elsewhere).
    burst = Burst(cluster.balancer.base_url, admin_token, total=BURST, instances=("a", "b"))
    burst.run(during=a.kill, when_acknowledged=KILL_AFTER)
    ensure_all_up(cluster)  # restart A

    found = found_on_postgres(cluster, burst.prefix)
    missing = set(burst.acknowledged) - found
    figures.add(
        f"kill -9 during {BURST} writes (PostgreSQL, 2 instances behind HAProxy): "
        f"acknowledged {len(burst.acknowledged)}, found {len(found)}, missing "
        f"{len(missing)}; not acknowledged {dict(burst.failures) or 'none'}, of which "
        f"{len(found) - len(burst.acknowledged)} committed"
    )
    assert not missing, sorted(missing)
    # Only writes that were on their way to A when it died fail (HAProxy answers 502, or
    # closes a kept-alive client connection so the client may retry); the rest of A's
    # writers' requests are refused by the dead port and sent to B.
    assert sum(burst.failures.values()) <= burst.workers, burst.failures


def test_kill_9_during_a_burst_of_writes_on_sqlite_keeps_the_file_intact(
    tmp_path: Path, figures: Figures
) -> None:
    instance = AegisInstance("sqlite", free_port(), tmp_path / "sqlite-instance")
    instance.start()
    try:
        with client(instance.base_url) as http:
            response = http.post(
                f"{API}/auth/register",
                json={"email": "admin@example.com", "password": PASSWORD, "full_name": "Ada"},
            )
        assert response.status_code == 201, response.text
        token = response.cookies["aegis_session"]
        burst = Burst(instance.base_url, token, total=BURST)
        burst.run(during=instance.kill, when_acknowledged=KILL_AFTER)
        database = instance.data_dir / "aegis.db"
        instance.start()  # on the file as the kill left it

        with sqlite3.connect(database) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchall()
            found = {
                email
                for (email,) in db.execute(
                    "SELECT email FROM users WHERE email LIKE ?", (f"{burst.prefix}-%",)
                )
            }
        db.close()
    finally:
        if instance.running:
            instance.stop()
    missing = set(burst.acknowledged) - found
    figures.add(
        f"kill -9 during {BURST} writes (SQLite, 1 instance): acknowledged "
        f"{len(burst.acknowledged)}, found {len(found)}, missing {len(missing)}; "
        f"integrity_check {integrity}; not acknowledged: {dict(burst.failures)}"
    )
    assert integrity == [("ok",)]
    assert not missing, sorted(missing)
    assert len(burst.acknowledged) >= KILL_AFTER


class Load:
    """Pollers through the balancer, half stuck to A and half to B, each sending a request
    every 0 to 0.3 s (now and then a write) until stopped; every outcome counted.

    Pauses between requests leave kept-alive connections idle, which is what a plain
    shutdown breaks: with ``--drain-seconds 0`` six SIGTERMs under this load failed 12
    of 8,803 requests; with the drain, none of 10,596.
    """

    def __init__(self, cluster: Cluster, token: str, workers: int = 40) -> None:
        self.cluster = cluster
        self.token = token
        self.outcomes: Counter[str] = Counter()
        self.moved_to_b = 0  # requests of A's clients that HAProxy answered from B
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, args=("ab"[i % 2],), daemon=True)
            for i in range(workers)
        ]

    def _request(self, http: httpx.Client, n: int) -> httpx.Response:
        if n % 20 == 0:  # a write, which hashes a password: long enough to be in flight
            email = f"drain-{uuid.uuid4().hex[:10]}@example.com"
            body = {"email": email, "full_name": "Drain", "password": PASSWORD}
            return http.post(f"{API}/users", json=body)
        return http.get(f"{API}/auth/me")

    def _work(self, instance: str) -> None:
        base = self.cluster.balancer.base_url
        pause = random.Random()
        with client(base, token=self.token, instance=instance) as http:
            n = pause.randrange(20)
            # The pause paces the load (its behaviour), and it ends at once on stop.
            while not self.stopping.wait(pause.uniform(0, 0.3)):
                n += 1
                try:
                    response = self._request(http, n)
                    outcome = "ok" if response.is_success else f"HTTP {response.status_code}"
                    moved = instance == "a" and response.cookies.get(STICKY) == "b"
                except httpx.HTTPError as error:
                    outcome, moved = type(error).__name__, False
                with self._lock:
                    self.outcomes[outcome] += 1
                    self.moved_to_b += moved

    def total(self) -> int:
        with self._lock:
            return sum(self.outcomes.values())

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(60)


@contextlib.contextmanager
def flet_socket_on(cluster: Cluster, instance: str) -> Iterator[ClientConnection]:
    """A dashboard WebSocket through the balancer, stuck to ``instance``, registered."""
    with connect(
        f"ws://{cluster.balancer.public_host}/dashboard/ws",
        origin=Origin(cluster.balancer.base_url),
        additional_headers={"cookie": f"{STICKY}={instance}"},
        open_timeout=10,
    ) as ws:
        page = {"route": "/", "width": 800, "height": 600, "web": True, "platform": "linux"}
        ws.send(msgpack.packb([1, {"session_id": None, "page_name": "", "page": page}]))
        action, body = msgpack.unpackb(ws.recv(timeout=10))
        assert action == 1 and not body["error"], body
        yield ws


def closed_code(ws: ClientConnection, timeout: float) -> int | None:
    """Read (and drop) what the page is sent until the server closes; the close code."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            ws.recv(timeout=left)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        except TimeoutError:
            break
    raise AssertionError(f"the WebSocket was still open {timeout} s later")


def test_sigterm_drains_without_failing_a_request(
    cluster: Cluster, admin_token: str, figures: Figures
) -> None:
    a = cluster.instance("a")
    with flet_socket_on(cluster, "a") as socket_on_a, Load(cluster, admin_token) as load:
        wait_until(lambda: load.total() >= 200, timeout=60, what="the load is running")
        before = load.total()
        a_log_mark = len(a.log())
        sent_at = time.monotonic()
        a.send(signal.SIGTERM)
        down_after = cluster.balancer.wait_for_states({"a": "DOWN"}, timeout=DRAIN_SECONDS + 10)
        code = a.wait(timeout=DRAIN_SECONDS + 30)
        exited_after = time.monotonic() - sent_at
        during = load.total() - before
        after_exit = load.total()
        wait_until(lambda: load.total() >= after_exit + 200, timeout=60, what="load after exit")
        close_code = closed_code(socket_on_a, timeout=30)
    served_by_a = sum(
        1
        for line in a.log()[a_log_mark:].splitlines()
        if "HTTP/1.1" in line and "/api/v1/health" not in line
    )
    failures = {k: v for k, v in load.outcomes.items() if k != "ok"}
    figures.add(
        f"SIGTERM drain: {load.total()} requests through HAProxy, {during} between SIGTERM "
        f"and exit, failed {sum(failures.values())} {failures or ''}; A answered {served_by_a} "
        f"after SIGTERM, {load.moved_to_b} of A's clients' requests went to B; A was DOWN "
        f"in HAProxy {down_after:.2f} s and exited ({code}) {exited_after:.2f} s after "
        f"SIGTERM; the dashboard WebSocket on A was closed with {close_code}"
    )
    assert not failures, failures
    assert code in (0, -signal.SIGTERM)
    assert exited_after < DRAIN_SECONDS + 30  # the graceful timeout bounds it
    assert close_code == 1012  # "service restart": Flet's client reconnects elsewhere
    assert load.moved_to_b > 0
