"""Faults of a real PostgreSQL server, for tests that start their own cluster.

``PostgresCluster`` (tests/postgres_cluster.py) starts ``postgres`` itself, under
``runuser`` when the tests run as root, so the process it keeps may be ``runuser``; the
postmaster's own pid is the first line of ``postmaster.pid`` in the data directory.

- :func:`stop_fast` is ``pg_ctl stop -m fast``: SIGINT to the postmaster, which ends
  every open session at once (the cluster's own ``stop`` sends SIGTERM, PostgreSQL's
  "smart" shutdown, which waits for clients to disconnect: a server with a pool open
  would not stop).
- ``cluster.start()`` afterwards starts it again on the same port and data directory.
- :func:`frozen` stops the postmaster and every backend with SIGSTOP, as a stalled
  machine would: the kernel still accepts TCP connections and keeps open ones up, but
  nothing answers. It always sends SIGCONT on the way out.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psutil

from tests.postgres_cluster import PostgresCluster

STOP_TIMEOUT_SECONDS = 30.0


def postmaster_pid(cluster: PostgresCluster) -> int:
    lines = (cluster.data_dir / "postmaster.pid").read_text().splitlines()
    return int(lines[0])


def stop_fast(cluster: PostgresCluster) -> None:
    """Stop the server as ``pg_ctl stop -m fast`` does, and wait until it is gone."""
    assert cluster.process is not None, "the cluster is not running"
    os.kill(postmaster_pid(cluster), signal.SIGINT)
    cluster.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    cluster.process = None
    if cluster.log is not None:
        cluster.log.close()
        cluster.log = None


@contextmanager
def frozen(cluster: PostgresCluster) -> Iterator[None]:
    """The whole server stopped with SIGSTOP for the block, then resumed with SIGCONT."""
    postmaster = psutil.Process(postmaster_pid(cluster))
    # The postmaster first, so it forks no new backend while the others are stopped.
    postmaster.send_signal(signal.SIGSTOP)
    stopped = [postmaster]
    try:
        for child in postmaster.children(recursive=True):
            child.send_signal(signal.SIGSTOP)
            stopped.append(child)
        yield
    finally:
        for process in reversed(stopped):
            with suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)
