"""Fixtures for the fuzzer, and its totals in the terminal summary.

pytest captures what a passing test prints, so the totals are handed over through the
config stash and written by ``pytest_terminal_summary``: they show in every ``make test``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.fuzz_support import FUZZ_TOTALS, FuzzTotals, ServedApp, aegis_serve


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    totals = terminalreporter.config.stash.get(FUZZ_TOTALS, None)
    if totals is not None:
        terminalreporter.write_sep("=", "API fuzz (schemathesis)")
        terminalreporter.write_line(totals.summary())


@pytest.fixture
def fuzz_totals(request: pytest.FixtureRequest) -> FuzzTotals:
    totals = FuzzTotals()
    request.config.stash[FUZZ_TOTALS] = totals
    return totals


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[ServedApp]:
    # Open sign-up, so that the fuzzer reaches the whole of /auth/register.
    with aegis_serve(tmp_path, AEGIS_ALLOW_REGISTRATION="true") as served:
        yield served
