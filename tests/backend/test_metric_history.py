"""The metric history: bucketed in SQL on both engines, one instance's figures at a time."""

from __future__ import annotations

import itertools
import math
import socket
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete

from backend.models import MetricSample, utcnow
from backend.services import metrics
from backend.services.scheduler import METRICS_JOB, Scheduler
from tests.backend.api_helpers import API, Api, MakeApi
from tests.backend.dashboard_helpers import ADMIN
from tests.waiting import wait_for

STATUS = f"{API}/system/status"
METRICS = f"{API}/system/metrics"
OTHER = "web2:4242:0a0b0c"
"""Another instance on the same database (ids are ``host:pid:random``)."""


def store(api: Api, instance: str, rows: list[dict[str, Any]]) -> None:
    with api.db() as db:
        db.add_all(
            MetricSample(
                at=row["at"],
                cpu_percent=row.get("cpu", 10.0),
                memory_percent=row.get("memory", 20.0),
                api_latency_ms=row.get("api"),
                db_latency_ms=row.get("db"),
                instance=instance,
            )
            for row in rows
        )
        db.commit()


def forget(api: Api, instance: str) -> None:
    with api.db() as db:
        db.execute(delete(MetricSample).where(MetricSample.instance == instance))
        db.commit()


async def sampled_once(api: Api) -> None:
    scheduler: Scheduler = api.app.state.scheduler
    job = scheduler.job(METRICS_JOB)
    await wait_for(lambda: job.runs >= 1, what="a metrics sample")


def at(body: dict[str, Any]) -> list[datetime]:
    return [datetime.fromisoformat(s["at"]) for s in body["samples"]]


async def test_a_bucket_averages_the_load_and_keeps_the_worst_latency(api: Api) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    # 60 minutes in 60 points: one-minute buckets, aligned to the epoch.
    start = metrics.bucket_start(utcnow() - timedelta(minutes=30), 60)
    store(
        api,
        OTHER,
        [
            {"at": start + timedelta(seconds=5), "cpu": 10, "memory": 40, "api": 1.0},
            {"at": start + timedelta(seconds=20), "cpu": 20, "memory": 50},  # API unanswered
            {"at": start + timedelta(seconds=50.25), "cpu": 60, "memory": 60, "api": 7.0},
            {"at": start + timedelta(seconds=65), "cpu": 5, "memory": 5, "db": 2.0},
        ],
    )
    response = await client.get(METRICS, params={"points": 60, "instance": OTHER})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bucket_seconds"] == 60.0
    assert body["instance"] == OTHER and body["host"] == "web2"
    first, second = body["samples"]
    assert datetime.fromisoformat(first["at"]) == start + timedelta(seconds=50.25), "its newest"
    assert first["cpu_percent"] == 30.0 and first["memory_percent"] == 50.0, "averages"
    assert first["api_latency_ms"] == 7.0, "the slowest answer, not an average"
    assert first["db_latency_ms"] is None, "nothing measured: a gap, not a zero"
    assert first["samples"] == 3 and first["instance"] == OTHER
    assert datetime.fromisoformat(second["at"]) == start + timedelta(seconds=65)
    assert (second["cpu_percent"], second["api_latency_ms"], second["db_latency_ms"]) == (
        5.0,
        None,
        2.0,
    )
    assert second["samples"] == 1


async def test_the_database_buckets_as_python_would(api: Api) -> None:
    """An hour every 7 s, half a second off the 30 s bucket edges (so no float rounding
    can move a sample across one): the same groups as Python's own arithmetic."""
    client, _ = await api.signed_in(ADMIN, register=True)
    start = metrics.bucket_start(utcnow() - timedelta(minutes=59), 30)
    rows: list[dict[str, Any]] = [
        {"at": start + timedelta(seconds=7 * k + 0.5), "cpu": k % 97, "api": float(k % 13)}
        for k in range(500)
    ]
    store(api, OTHER, rows)
    body = (
        await client.get(METRICS, params={"minutes": 60, "points": 120, "instance": OTHER})
    ).json()
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[math.floor(row["at"].timestamp() / 30)].append(row)
    expected = [
        (max(r["at"] for r in g), sum(r["cpu"] for r in g) / len(g), max(r["api"] for r in g))
        for _, g in sorted(groups.items())
    ]
    got = [
        (datetime.fromisoformat(s["at"]), s["cpu_percent"], s["api_latency_ms"])
        for s in body["samples"]
    ]
    assert len(got) == len(expected) <= 121
    for (got_at, got_cpu, got_api), (want_at, want_cpu, want_api) in zip(
        got, expected, strict=True
    ):
        assert got_at == want_at
        assert math.isclose(got_cpu, want_cpu, abs_tol=1e-9) and got_api == want_api


async def test_an_hour_of_samples_loads_one_row_per_bucket(api: Api) -> None:
    """What the dashboard asks for every 5 s: the database answers ~120 rows, not 720."""
    now = utcnow()
    store(api, OTHER, [{"at": now - timedelta(seconds=s)} for s in range(5, 3600, 5)])
    window = metrics.bucket_start(now - timedelta(minutes=60), 30)
    with api.db() as db:
        points = metrics.bucketed(db, window, instance=OTHER, bucket_seconds=30)
    assert 119 <= len(points) <= 121
    assert sum(p.samples for p in points) == 719


async def test_the_raw_history_is_thinned_evenly_by_the_database(api: Api) -> None:
    now = utcnow()
    store(api, OTHER, [{"at": now - timedelta(seconds=s), "cpu": s} for s in range(3000, 0, -1)])
    with api.db() as db:
        points = metrics.thinned(db, now - timedelta(days=1), instance=OTHER, cap=2000)
        few = metrics.thinned(db, now - timedelta(seconds=10.5), instance=OTHER, cap=2000)
    assert len(points) == 2000
    assert points[0].cpu_percent == 3000 and points[-1].cpu_percent == 1, "both ends kept"
    gaps = {a.cpu_percent - b.cpu_percent for a, b in itertools.pairwise(points)}
    assert gaps <= {1, 2}, "evenly: 2999 steps over 1999"
    assert [p.cpu_percent for p in few] == list(range(10, 0, -1)), "under the cap: all"


# --- whose figures ----------------------------------------------------------------------


async def test_the_history_is_one_instances_and_says_whose(make_api: MakeApi) -> None:
    api = await make_api(metrics_interval_seconds=3600)  # one sample of its own, at start
    await sampled_once(api)
    client, _ = await api.signed_in(ADMIN, register=True)
    me = api.app.state.instance_id
    now = utcnow()
    store(api, OTHER, [{"at": now - timedelta(minutes=m), "cpu": 77.0} for m in (10, 5)])

    mine = (await client.get(METRICS, params={"points": 120})).json()
    assert (mine["instance"], mine["answered_by"]) == (me, me)
    assert mine["host"] == socket.gethostname()
    assert mine["samples"] and {s["instance"] for s in mine["samples"]} == {me}
    assert 77.0 not in {s["cpu_percent"] for s in mine["samples"]}, "never another host's"
    assert mine["instances"] == sorted([me, OTHER])
    reporting = {r["instance"]: r for r in mine["reporting"]}
    assert reporting[OTHER]["host"] == "web2" and reporting[OTHER]["samples"] == 2
    assert reporting[me]["host"] == socket.gethostname()

    theirs = (await client.get(METRICS, params={"points": 120, "instance": OTHER})).json()
    assert (theirs["instance"], theirs["answered_by"]) == (OTHER, me)
    assert [s["cpu_percent"] for s in theirs["samples"]] == [77.0, 77.0]
    assert len((await client.get(METRICS, params={"instance": OTHER})).json()["samples"]) == 2

    nobody = (await client.get(METRICS, params={"instance": "gone:1:000000"})).json()
    assert (nobody["instance"], nobody["samples"]) == ("gone:1:000000", [])

    # This instance took no sample in the window (it has just started, say): rather than
    # an empty chart, the figures of the instance that sampled last, named as such.
    forget(api, me)
    fallback = (await client.get(METRICS, params={"points": 120})).json()
    assert (fallback["instance"], fallback["answered_by"]) == (OTHER, me)
    assert fallback["instances"] == [OTHER]
    assert len(fallback["samples"]) == 2


async def test_the_instance_parameter_is_checked(api: Api) -> None:
    client, _ = await api.signed_in(ADMIN, register=True)
    for bad in ("web\0", "x" * 257):
        response = await client.get(METRICS, params={"instance": bad})
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith("Invalid request: instance:")


async def test_status_describes_the_answering_instance(make_api: MakeApi) -> None:
    api = await make_api(metrics_interval_seconds=3600)
    await sampled_once(api)
    client, _ = await api.signed_in(ADMIN, register=True)
    me = api.app.state.instance_id
    now = utcnow()
    store(api, me, [{"at": now, "cpu": 3.0, "api": 12.0}])
    # Another instance sampled since, on a busier host with a slower API.
    store(api, OTHER, [{"at": now + timedelta(seconds=1), "cpu": 99.0, "api": 900.0}])
    body = (await client.get(STATUS)).json()
    assert body["instance"] == me and body["host"] == socket.gethostname()
    parts = {c["key"]: c for c in body["components"]}
    assert parts["api"]["metrics"]["response_ms"] == 12.0, "this instance's own probe"
    assert {"label": "Measured by", "value": me} in parts["api"]["facts"]
    assert parts["host"]["metrics"]["cpu_percent"] == 3.0
    assert {"label": "Instance", "value": me} in parts["host"]["facts"]

    forget(api, me)  # its own probe missing: the other's, named, rather than nothing
    parts = {c["key"]: c for c in (await client.get(STATUS)).json()["components"]}
    assert parts["api"]["metrics"]["response_ms"] == 900.0
    assert {"label": "Measured by", "value": OTHER} in parts["api"]["facts"]
    assert parts["host"]["metrics"]["cpu_percent"] != 99.0, "never another host's CPU"


def test_the_host_is_read_from_the_instance_id() -> None:
    assert metrics.instance_host("web2:4242:0a0b0c") == "web2"
    assert metrics.instance_host("db.example.com:1:ffffff") == "db.example.com"
    assert metrics.instance_host("no-pid") is None
    assert metrics.instance_host(None) is None


def test_bucket_edges_are_aligned_to_the_epoch() -> None:
    moment = datetime(2030, 1, 1, 12, 0, 47, 500_000, tzinfo=UTC)
    assert metrics.bucket_start(moment, 30) == datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    assert metrics.bucket_start(moment, 0.5) == datetime(2030, 1, 1, 12, 0, 47, 500_000, UTC)
