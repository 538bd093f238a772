"""A throwaway PostgreSQL cluster on a loopback port, started by the tests themselves
and by ``make cluster`` (``deploy/cluster.py``).

``initdb`` refuses to run as root, so under root (as in CI) the server runs as the
``postgres`` user that Debian's package creates. The cluster lives in a temporary
directory, trusts loopback connections (nothing else can reach it) and is stopped and
deleted when the context ends. fsync is off: a crash of the test machine may lose the
throwaway data, which is the point of a throwaway cluster.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SERVER_OWNER = "postgres"
SUPERUSER = "aegis"
READY_TIMEOUT_SECONDS = 30.0


def find_pg_bin() -> Path | None:
    """The newest installed server's bin directory (Debian keeps it off the PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    bin_dir: Path
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    def _as_owner(self, *argv: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", SERVER_OWNER, "--", *argv]
        return list(argv)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = name or f"aegis_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(  # noqa: S603 (our own argv, no shell)
            [
                str(self.bin_dir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout.strip()

    def start(self) -> None:
        # Kept to be closed in stop(): a file left to the garbage collector is a
        # ResourceWarning, an error under the suite's filterwarnings.
        self.log = log = (self.data_dir.parent / "postgres.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own argv, no shell)
            self._as_owner(
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data_dir.parent}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Not in the terminal's process group: Ctrl+C on `make cluster` must reach
            # only the supervisor, which stops the database last.
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}; see log")
            ready = subprocess.run(  # noqa: S603 (our own argv, no shell)
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)  # polling interval of a readiness probe, not a synchronisation
        raise RuntimeError(f"postgres not ready within {READY_TIMEOUT_SECONDS} s")

    def stop(self) -> None:
        if self.process is None:
            return
        # SIGINT to the postmaster: PostgreSQL's "fast" shutdown, which ends open
        # sessions. SIGTERM ("smart") waits for every client to leave, and a test (or an
        # instance) that still holds a pool kept it waiting up to the kill below. The
        # kept process may be runuser, so the postmaster's pid comes from its pid file.
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGINT)
        except (OSError, ValueError, IndexError):
            self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb) are not installed")
    root = Path(tempfile.mkdtemp(prefix="aegis-pg-"))
    try:
        data_dir = root / "data"
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_OWNER)
            os.chown(root, owner.pw_uid, owner.pw_gid)
        cluster = PostgresCluster(bin_dir=bin_dir, data_dir=data_dir, port=_free_port())
        subprocess.run(  # noqa: S603 (our own argv, no shell)
            cluster._as_owner(
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
