"""The status thresholds and their words: pure functions fed with fake readings."""

from __future__ import annotations

from datetime import timedelta

from backend.models import utcnow
from backend.services import status as judge
from backend.services.metrics import DiskReading, HostReading
from backend.services.scheduler import Job

GB = 1024**3


def test_api_thresholds() -> None:
    fast = judge.api_component(3.1)
    assert (fast.status, fast.reason) == ("healthy", "Responding in 3.1 ms.")
    assert fast.facts[0].model_dump() == {"label": "Response time", "value": "3.1 ms"}
    assert judge.api_component(judge.API_DEGRADED_MS).status == "healthy"
    slow = judge.api_component(412.0)
    assert (slow.status, slow.reason) == ("degraded", "Slow: responding in 412 ms (over 250 ms).")
    gone = judge.api_component(None, "ConnectError: refused")
    assert gone.status == "down" and "ConnectError: refused" in gone.reason
    assert gone.metrics == {"response_ms": None}


def test_database_thresholds() -> None:
    ok = judge.database_component(1.25, 4 * 1024**2, dialect="sqlite")
    assert (ok.status, ok.reason) == ("healthy", "Answering in 1.2 ms.")
    assert {"label": "Size", "value": "4.0 MB"} in [f.model_dump() for f in ok.facts]
    slow = judge.database_component(180.0, None, dialect="postgresql")
    assert slow.status == "degraded" and "180 ms" in slow.reason
    assert slow.metrics == {"latency_ms": 180.0, "size_bytes": None}
    down = judge.database_component(None, None, dialect="sqlite", error="OperationalError: gone")
    assert down.status == "down"
    assert down.reason == "The database cannot be reached: OperationalError: gone."


def test_host_thresholds() -> None:
    calm = HostReading(cpu_percent=12.0, memory_percent=40.0)
    roomy = DiskReading(free_bytes=120 * GB, total_bytes=200 * GB)
    ok = judge.host_component(calm, roomy)
    assert ok.status == "healthy"
    assert ok.reason == "CPU 12 %, memory 40 %, 120.0 GB free on disk (60 %)."
    assert ok.metrics["disk_free_bytes"] == 120 * GB and ok.metrics["disk_free_percent"] == 60
    tight = DiskReading(free_bytes=int(1.2 * GB), total_bytes=30 * GB)
    low = judge.host_component(calm, tight)
    assert (low.status, low.reason) == ("degraded", "Disk almost full: 1.2 GB free (4 %).")
    full = judge.host_component(calm, DiskReading(free_bytes=GB // 2, total_bytes=100 * GB))
    assert full.status == "down" and full.reason.startswith("Disk full:")
    busy = judge.host_component(HostReading(cpu_percent=95.0, memory_percent=40.0), roomy)
    assert (busy.status, busy.reason) == ("degraded", "CPU busy: 95 % in use.")
    swapping = judge.host_component(HostReading(cpu_percent=90.0, memory_percent=93.0), roomy)
    assert swapping.status == "degraded" and swapping.reason == "Memory nearly full: 93 % in use."
    everything = judge.host_component(HostReading(cpu_percent=99.0, memory_percent=99.0), tight)
    assert everything.status == "degraded"
    assert everything.reason.count(".") >= 3


def test_scheduler_thresholds() -> None:
    now = utcnow()

    async def noop() -> None:
        return None

    def job(**state: object) -> Job:
        made = Job("metric sampling", 5, noop)
        for name, value in state.items():
            setattr(made, name, value)
        return made

    started = now - timedelta(seconds=2)
    fresh = judge.scheduler_component(
        [job(last_run_at=now - timedelta(seconds=4), last_outcome="ok")],
        started_at=started,
        running=True,
        now=now,
    )
    assert (fresh.status, fresh.reason) == ("healthy", "The job ran on time.")
    assert fresh.jobs[0].last_outcome == "ok"
    waiting = judge.scheduler_component([job()], started_at=started, running=True, now=now)
    assert waiting.status == "healthy" and waiting.jobs[0].last_outcome == "never run"
    overdue = judge.scheduler_component(
        [job(last_run_at=now - timedelta(seconds=16), last_outcome="ok")],
        started_at=now - timedelta(hours=1),
        running=True,
        now=now,
    )
    assert overdue.status == "degraded"
    assert overdue.reason == (
        "“metric sampling” is overdue: 16 s since its last run, every 5 s expected."
    )
    never = judge.scheduler_component(
        [job()], started_at=now - timedelta(seconds=60), running=True, now=now
    )
    assert never.status == "degraded" and "has not run yet" in never.reason
    failed = judge.scheduler_component(
        [job(last_run_at=now, last_outcome="failed", last_error="OSError: full")],
        started_at=started,
        running=True,
        now=now,
    )
    assert failed.status == "degraded"
    assert failed.reason == "“metric sampling” failed last time: OSError: full."
    stopped = judge.scheduler_component([], started_at=None, running=False, now=now)
    assert stopped.status == "down" and stopped.reason.endswith(".")


def test_overall_is_the_worst_component() -> None:
    now = utcnow()
    healthy = judge.api_component(1.0)
    degraded = judge.api_component(300.0)
    down = judge.api_component(None)
    assert judge.system_status([healthy, healthy], now).overall == "healthy"
    assert judge.system_status([healthy, degraded], now).overall == "degraded"
    assert judge.system_status([degraded, down, healthy], now).overall == "down"
    assert judge.worst([]) == "healthy"


def test_formatting_in_words() -> None:
    assert judge.format_bytes(512) == "512 bytes"
    assert judge.format_bytes(1536) == "1.5 KB"
    assert judge.format_bytes(3 * 1024**4) == "3.0 TB"
    assert judge.format_ms(0.42) == "0.4 ms"
    assert judge.format_ms(42.4) == "42 ms"
    assert judge.format_seconds(30) == "30 s"
    assert judge.format_seconds(600) == "10 min"
    assert judge.format_seconds(3 * 3600) == "3.0 h"
