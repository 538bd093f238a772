"""The one way tests wait: poll a condition until it holds or a deadline passes.

A test never sleeps for a fixed time to let something happen; it names the condition it
needs and waits for it here. ``wait_for`` is for code on an event loop, ``wait_until`` for
threads, subprocesses and Playwright's synchronous API. Both fail with the condition's
description and the time waited, never by returning a flag that a caller might ignore.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

DEFAULT_TIMEOUT = 10.0
_ASYNC_POLL = 0.005  # cheap on a loop: the condition is a Python expression
_SYNC_POLL = 0.02  # threads and processes: a little slower, to leave the CPU to them


class ConditionTimeout(AssertionError):
    """The condition did not hold before the deadline."""


def _polls(condition: Callable[[], object], timeout: float, what: str) -> Iterator[None]:
    """Yields once per failed check, until the condition holds; raises at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise ConditionTimeout(f"timed out after {timeout:g} s waiting for {what}")
        yield


async def wait_for(
    condition: Callable[[], object],
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
) -> None:
    """Yield to the loop until ``condition()`` is truthy; fail after ``timeout`` seconds."""
    for _ in _polls(condition, timeout, what):
        await asyncio.sleep(_ASYNC_POLL)


def wait_until(
    condition: Callable[[], object],
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
) -> None:
    """Block until ``condition()`` is truthy; fail after ``timeout`` seconds."""
    for _ in _polls(condition, timeout, what):
        time.sleep(_SYNC_POLL)
