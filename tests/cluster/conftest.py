"""One real cluster for the whole folder: a throwaway PostgreSQL, two ``aegis serve``
processes on it and HAProxy in front, started by ``deploy.cluster.running_cluster``
(what ``make cluster`` runs). Package scope (hence ``__init__.py``): it starts once,
about 15 s, and stops when the folder's last test is done.

Tests that stop or kill an instance leave it so; ``cluster`` (the per-test fixture)
restarts whatever is down and waits until HAProxy has every instance UP again.

The figures the tests measure (writes acknowledged vs found, seconds to fail over,
drain and keep-alive counts) are printed in the terminal summary of every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.balancer import find_haproxy
from deploy.cluster import Cluster, running_cluster
from tests.cluster.cluster_support import (
    ADMIN_EMAIL,
    API,
    FIGURES,
    PASSWORD,
    Figures,
    client,
    ensure_all_up,
)
from tests.conftest import IN_CI
from tests.postgres_cluster import find_pg_bin

METRICS_INTERVAL_SECONDS = 2


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = terminalreporter.config.stash.get(FIGURES, None)
    if figures is not None and figures.lines:
        terminalreporter.write_sep("=", "cluster figures (tests/cluster)")
        for line in figures.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Figures:
    found = request.config.stash.get(FIGURES, None)
    if found is None:
        found = request.config.stash[FIGURES] = Figures()
    return found


def _require(present: bool, what: str) -> None:
    if not present:
        message = f"{what} is not installed; .ci/run installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="package")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require(find_haproxy() is not None, "HAProxy (haproxy)")
    _require(find_pg_bin() is not None, "PostgreSQL (postgresql)")
    work_dir: Path = tmp_path_factory.mktemp("cluster")
    extra = {"AEGIS_METRICS_INTERVAL_SECONDS": str(METRICS_INTERVAL_SECONDS)}
    with running_cluster(work_dir=work_dir, extra_env=extra) as started:
        yield started


@pytest.fixture(scope="package")
def admin_token(running: Cluster) -> str:
    """The first account (the administrator), registered through the balancer."""
    with client(running.balancer.base_url) as http:
        response = http.post(
            f"{API}/auth/register",
            json={"email": ADMIN_EMAIL, "password": PASSWORD, "full_name": "Ada Admin"},
        )
    assert response.status_code == 201, response.text
    token: str = response.cookies["aegis_session"]
    return token


@pytest.fixture
def cluster(request: pytest.FixtureRequest, running: Cluster) -> Iterator[Cluster]:
    ensure_all_up(running)
    marks = {name: len(log) for name, log in _logs(running).items()}
    yield running
    call = getattr(request.node, "report_call", None)
    if call is None or call.failed:
        for name, log in _logs(running).items():
            print(f"===== {name} (this test's part) =====\n{log[marks.get(name, 0) :]}")


def _logs(cluster: Cluster) -> dict[str, str]:
    logs = {f"instance {i.name}": i.log() for i in cluster.instances}
    logs["haproxy"] = cluster.balancer.log()
    return logs


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
