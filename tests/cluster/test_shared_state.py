"""Two instances on one PostgreSQL behave as one server: sessions, hand-off codes, the
sign-in throttle and the scheduler are shared; client addresses are the clients' own.

Each test addresses the instances directly (``a``/``b``) and through HAProxy, stuck to
one instance by its ``AEGIS_INSTANCE`` cookie.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import psutil

from deploy.balancer import BALANCER_SOURCE
from deploy.cluster import Cluster
from tests.cluster.cluster_support import (
    API,
    PASSWORD,
    STICKY,
    Figures,
    client,
    create_user,
    sign_in,
)
from tests.cluster.conftest import METRICS_INTERVAL_SECONDS
from tests.waiting import wait_until

# What Chromium sends when our own page navigates its tab to the hand-off.
OWN_NAVIGATION = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate"}


def me(base_url: str, token: str, instance: str | None = None) -> httpx.Response:
    with client(base_url, token=token, instance=instance) as http:
        return http.get(f"{API}/auth/me")


def test_a_session_signed_in_on_a_is_valid_on_b(cluster: Cluster, admin_token: str) -> None:
    a, b = cluster.instance("a"), cluster.instance("b")
    token = sign_in(a.base_url, "admin@example.com")
    assert me(b.base_url, token).json()["email"] == "admin@example.com"
    for instance in ("a", "b"):
        response = me(cluster.balancer.base_url, token, instance)
        assert response.status_code == 200, response.text
        # HAProxy kept the request on the instance the cookie names (it sets the cookie
        # only when it chose another one).
        assert STICKY not in response.cookies
    # Signing out on B ends the session on A too.
    with client(b.base_url, token=token) as http:
        assert http.post(f"{API}/auth/logout").status_code == 200
    assert me(a.base_url, token).status_code == 401


def mint(base_url: str, token: str, instance: str | None = None) -> str:
    with client(base_url, token=token, instance=instance) as http:
        response = http.post(f"{API}/auth/handoff")
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


def redeem(base_url: str, code: str, instance: str | None = None) -> httpx.Response:
    with client(base_url, instance=instance) as http:
        return http.get(
            f"{API}/auth/handoff/{code}",
            params={"next": "/dashboard/users"},
            headers=OWN_NAVIGATION,
            follow_redirects=False,
        )


def test_a_handoff_minted_on_a_is_redeemed_through_b(cluster: Cluster, admin_token: str) -> None:
    a, b, balancer = cluster.instance("a"), cluster.instance("b"), cluster.balancer.base_url
    for where, minted_on, redeemed_on in (
        ("directly", (a.base_url, None), (b.base_url, None)),
        ("through the balancer", (balancer, "a"), (balancer, "b")),
    ):
        token = sign_in(a.base_url, "admin@example.com")
        code = mint(minted_on[0], token, minted_on[1])
        response = redeem(redeemed_on[0], code, redeemed_on[1])
        assert response.status_code == 303, (where, response.text)
        assert response.headers["location"] == "/dashboard/users"
        assert response.cookies.get("aegis_session") == token, where
        # Single use across instances: A refuses the code B has redeemed.
        again = redeem(a.base_url, code)
        assert again.status_code == 303 and "aegis_session" not in again.cookies, where


def test_the_sign_in_throttle_counts_across_both(cluster: Cluster) -> None:
    a, b = cluster.instance("a"), cluster.instance("b")
    email = f"guess-{uuid.uuid4().hex[:8]}@example.com"
    allowed = 5  # AEGIS_LOGIN_FAILURES_ALLOWED's default
    statuses = []
    # From an address of its own, so other tests' sign-ins do not count against it.
    for attempt in range(allowed + 2):
        instance = (a, b)[attempt % 2]
        with client(instance.base_url, source="127.0.0.9") as http:
            response = http.post(f"{API}/auth/login", json={"email": email, "password": "x" * 12})
        statuses.append(response.status_code)
    # Alone, each instance would have seen at most 4 attempts: never a 429.
    assert statuses == [401] * allowed + [429, 429], statuses


def audit_ips(cluster: Cluster, admin_token: str, target: str) -> list[str]:
    with client(cluster.instance("a").base_url, token=admin_token) as http:
        response = http.get(f"{API}/audit", params={"kind": "sign_in", "limit": 100})
    assert response.status_code == 200, response.text
    return [event["ip"] for event in response.json()["items"] if event["target"] == target]


def test_the_audit_log_has_the_clients_address_and_a_spoof_is_ignored(
    cluster: Cluster, admin_token: str
) -> None:
    balancer, a = cluster.balancer.base_url, cluster.instance("a")
    email = f"ip-{uuid.uuid4().hex[:8]}@example.com"
    assert create_user(balancer, admin_token, email).status_code == 201
    spoof = {"x-forwarded-for": "203.0.113.66", "x-forwarded-proto": "https"}

    # Through the balancer from 127.0.0.7, which claims to be 203.0.113.66: HAProxy
    # replaces the header with the real peer, and the instance believes HAProxy.
    with client(balancer, source="127.0.0.7") as http:
        response = http.post(
            f"{API}/auth/login", json={"email": email, "password": PASSWORD}, headers=spoof
        )
    assert response.status_code == 200, response.text
    assert "secure" not in response.headers["set-cookie"].lower()  # the spoofed https too
    # Straight to instance A from 127.0.0.8 with the same claim: only the balancer
    # (connecting from BALANCER_SOURCE) is believed, so A records the real peer.
    with client(a.base_url, source="127.0.0.8") as http:
        response = http.post(
            f"{API}/auth/login", json={"email": email, "password": PASSWORD}, headers=spoof
        )
    assert response.status_code == 200, response.text
    assert "secure" not in response.headers["set-cookie"].lower()

    ips = audit_ips(cluster, admin_token, email)
    assert sorted(ips) == ["127.0.0.7", "127.0.0.8"], ips
    assert BALANCER_SOURCE not in ips


def status(base_url: str, token: str) -> dict[str, Any]:
    with client(base_url, token=token) as http:
        response = http.get(f"{API}/system/status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def job_named(answer: dict[str, Any], name: str) -> dict[str, Any]:
    jobs = [job for component in answer["components"] for job in component.get("jobs", [])]
    return next(job for job in jobs if job["name"] == name)


def test_a_shared_job_runs_once_per_period_across_both(
    cluster: Cluster, admin_token: str, figures: Figures
) -> None:
    """The hand-off clean-up (every 60 s) is leased: whichever instance claims a period
    runs it, and both report that run. Without the lease each instance would run it at
    its own start, and the runs would add up past the periods that have passed."""
    a, b = cluster.instance("a"), cluster.instance("b")
    name, period = "expired hand-off codes", 60.0

    def agree() -> bool:
        ran_by = {job_named(status(i.base_url, admin_token), name)["last_run_by"] for i in (a, b)}
        return len(ran_by) == 1 and None not in ran_by

    wait_until(agree, timeout=60, what="A and B report the same last run")
    runs = {i.name: job_named(status(i.base_url, admin_token), name)["runs"] for i in (a, b)}
    # Runs are counted per process; the older of the two processes bounds the periods.
    started = min(psutil.Process(i.pid).create_time() for i in (a, b) if i.pid is not None)
    periods = int((time.time() - started + 2) // period) + 1  # +2 s: create_time's rounding
    assert sum(runs.values()) <= periods, f"{runs} runs in {periods} periods of {period:.0f} s"
    figures.add(
        f"scheduler: the {period:.0f} s hand-off clean-up ran {runs} in {periods} period(s)"
    )


def test_each_instance_samples_its_own_host_every_period(
    cluster: Cluster, admin_token: str, figures: Figures
) -> None:
    """Metric sampling is not leased: CPU and memory are each host's own, so every
    instance samples every period and its chart has no gaps."""

    def series(instance: str) -> list[datetime]:
        with client(cluster.instance("a").base_url, token=admin_token) as http:
            answer = http.get(f"{API}/system/metrics", params={"minutes": 60, "instance": instance})
        assert answer.status_code == 200, answer.text
        return sorted(datetime.fromisoformat(s["at"]) for s in answer.json()["samples"])

    def reporting() -> list[str]:
        with client(cluster.instance("a").base_url, token=admin_token) as http:
            answer = http.get(f"{API}/system/metrics", params={"minutes": 60})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["instances"])

    ids = [status(i.base_url, admin_token)["instance"] for i in cluster.instances]
    wait_until(
        lambda: all(len(series(i)) >= 6 for i in ids),
        timeout=10 * METRICS_INTERVAL_SECONDS + 20,
        what="6 samples from each instance",
    )
    assert set(ids) <= set(reporting())
    for instance in ids:
        times = series(instance)[-6:]  # after any restart in the tests before this one
        mean_gap = (times[-1] - times[0]).total_seconds() / (len(times) - 1)
        # Leased, two instances would share the periods: a mean gap of about two.
        assert mean_gap < 1.5 * METRICS_INTERVAL_SECONDS, f"{instance}: every {mean_gap:.1f} s"
        figures.add(
            f"scheduler: instance {instance} sampled every {mean_gap:.1f} s "
            f"(period {METRICS_INTERVAL_SECONDS} s)"
        )
