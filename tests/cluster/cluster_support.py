"""Helpers for the cluster tests: HTTP clients that pick their source address and
instance, and a burst of admin writes counted by outcome."""

from __future__ import annotations

import ssl
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from deploy.cluster import Cluster
from tests.waiting import wait_until

API = "/api/v1"
PASSWORD = "correct horse battery"
ADMIN_EMAIL = "admin@example.com"
STICKY = "AEGIS_INSTANCE"
# One TLS context for every client (they speak plain http): httpx builds one per client
# otherwise, about 0.1 s each.
TLS = ssl.create_default_context()


@dataclass
class Figures:
    """Lines for the terminal summary: what the cluster tests measured."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        print(line)


FIGURES = pytest.StashKey[Figures]()


def client(
    base_url: str,
    *,
    source: str | None = None,
    token: str | None = None,
    instance: str | None = None,
    timeout: float = 30.0,
) -> httpx.Client:
    """A client from ``source`` (a loopback address: who the server should see), with
    the session ``token`` and, through the balancer, stuck to ``instance``. The cookies
    go in one explicit header, which httpx then never mixes with its jar."""
    cookies = []
    if token is not None:
        cookies.append(f"aegis_session={token}")
    if instance is not None:
        cookies.append(f"{STICKY}={instance}")
    headers = {"cookie": "; ".join(cookies)} if cookies else {}
    transport = httpx.HTTPTransport(local_address=source, verify=TLS) if source else None
    return httpx.Client(
        base_url=base_url, headers=headers, transport=transport, timeout=timeout, verify=TLS
    )


def sign_in(base_url: str, email: str, *, source: str | None = None) -> str:
    with client(base_url, source=source) as http:
        response = http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.cookies["aegis_session"]


def create_user(base_url: str, admin_token: str, email: str) -> httpx.Response:
    with client(base_url, token=admin_token) as http:
        return http.post(
            f"{API}/users",
            json={"email": email, "full_name": "Burst User", "password": PASSWORD},
        )


def ensure_all_up(cluster: Cluster) -> None:
    """Every instance running (restarted if a test stopped it) and UP in HAProxy."""
    for instance in cluster.instances:
        if not instance.running:
            if instance.process is not None:
                instance.wait(30)
            instance.start()
    cluster.balancer.wait_for_states({i.name: "UP" for i in cluster.instances}, timeout=30)


@dataclass
class Burst:
    """Admin writes (new users) sent by ``workers`` threads, each stuck to an instance in
    turn; which were answered 2xx, and how the rest failed."""

    base_url: str
    admin_token: str
    total: int = 200
    workers: int = 8
    instances: tuple[str, ...] = ()
    prefix: str = field(default_factory=lambda: f"burst-{uuid.uuid4().hex[:8]}")
    acknowledged: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sent: int = 0

    def emails(self) -> list[str]:
        return [f"{self.prefix}-{n:03d}@example.com" for n in range(self.total)]

    def _worker(self, index: int, emails: list[str]) -> None:
        instance = self.instances[index % len(self.instances)] if self.instances else None
        with client(self.base_url, token=self.admin_token, instance=instance) as http:
            for email in emails:
                try:
                    response = http.post(
                        f"{API}/users",
                        json={"email": email, "full_name": "Burst User", "password": PASSWORD},
                    )
                    outcome = "2xx" if response.is_success else str(response.status_code)
                except httpx.HTTPError as error:
                    outcome = type(error).__name__
                with self._lock:
                    self._sent += 1
                    if outcome == "2xx":
                        self.acknowledged.append(email)
                    else:
                        self.failures[outcome] = self.failures.get(outcome, 0) + 1

    def acknowledged_count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def run(self, during: Callable[[], None], when_acknowledged: int) -> None:
        """Send every write; call ``during`` (from this thread) once
        ``when_acknowledged`` writes have been answered 2xx."""
        emails = self.emails()
        slices = [emails[i :: self.workers] for i in range(self.workers)]
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(self._worker, i, s) for i, s in enumerate(slices)]
            wait_until(
                lambda: (
                    self.acknowledged_count() >= when_acknowledged or all(f.done() for f in futures)
                ),
                timeout=120,
                what=f"{when_acknowledged} writes acknowledged",
            )
            assert not all(f.done() for f in futures), "the burst ended before the fault"
            during()
            for future in futures:
                future.result()
