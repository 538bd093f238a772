"""HAProxy from ``deploy/haproxy.cfg``, run in the foreground for ``make cluster`` and
the cluster tests, with its admin socket read for each server's state."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TEMPLATE = Path(__file__).resolve().parent / "haproxy.cfg"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
BALANCER_SOURCE = "127.0.0.2"
"""The loopback address HAProxy connects to the instances from. Not 127.0.0.1, so that
on one machine the instances can tell the balancer (whose X-Forwarded-For they believe)
from a client that connects to them directly (whose X-Forwarded-For they ignore)."""
POLL_SECONDS = 0.05


class BalancerError(RuntimeError):
    """HAProxy did not start, or a server did not reach the state waited for."""


@dataclass(frozen=True)
class Backend:
    name: str
    host: str
    port: int

    def line(self) -> str:
        return f"    server {self.name} {self.host}:{self.port} cookie {self.name} check"


def render_config(
    *, bind: str, public_host: str, source: str, stats_socket: Path, servers: list[Backend]
) -> str:
    """deploy/haproxy.cfg with every ``{{name}}`` filled; an unknown or unfilled name
    is an error, not a config HAProxy would half understand."""
    values = {
        "bind": bind,
        "public_host": public_host,
        "source": source,
        "stats_socket": str(stats_socket),
        "servers": "\n".join(server.line() for server in servers),
    }
    names = set(PLACEHOLDER.findall(TEMPLATE.read_text()))
    if names != set(values):
        raise BalancerError(f"haproxy.cfg placeholders {sorted(names)} != {sorted(values)}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], TEMPLATE.read_text())


def find_haproxy() -> str | None:
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )


class Balancer:
    """One HAProxy process in the foreground (``-db``), its log in ``work_dir``."""

    def __init__(self, work_dir: Path, *, host: str, port: int, servers: list[Backend]) -> None:
        self.work_dir = work_dir
        self.host = host
        self.port = port
        self.servers = servers
        self.public_host = f"{host}:{port}"
        self.base_url = f"http://{host}:{port}"
        self.config_path = work_dir / "haproxy.cfg"
        self.stats_socket = work_dir / "haproxy.sock"
        self.log_path = work_dir / "haproxy.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def url(self, path: str = "/dashboard/") -> str:
        return self.base_url + path

    def start(self, timeout: float = 30.0) -> None:
        haproxy = find_haproxy()
        if haproxy is None:
            raise BalancerError("HAProxy is not installed (Debian: apt-get install haproxy)")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            render_config(
                bind=self.public_host,
                public_host=self.public_host,
                source=BALANCER_SOURCE,
                stats_socket=self.stats_socket,
                servers=self.servers,
            )
        )
        check = subprocess.run(  # noqa: S603 (our own argv, no shell)
            [haproxy, "-c", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            output = check.stdout + check.stderr
            raise BalancerError(f"HAProxy refused {self.config_path}:\n{output}")
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own argv, no shell)
            [haproxy, "-db", "-f", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.wait_for_states({server.name: "UP" for server in self.servers}, timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()  # HAProxy's hard stop: the instances are stopped after it
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def command(self, line: str) -> str:
        """One command on the admin socket (see HAProxy's management guide)."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.settimeout(5)
            admin.connect(str(self.stats_socket))
            admin.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_states(self) -> dict[str, str]:
        """``{"a": "UP", "b": "DOWN", ...}`` from ``show stat``."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        pxname, svname, status = (header.index(k) for k in ("pxname", "svname", "status"))
        states = {}
        for line in lines[1:]:
            fields = line.split(",")
            if (
                len(fields) > status
                and fields[pxname] == "aegis_instances"
                and fields[svname] not in ("FRONTEND", "BACKEND")
            ):
                states[fields[svname]] = fields[status]
        return states

    def wait_for_states(self, wanted: dict[str, str], timeout: float) -> float:
        """Wait until each named server is in the state given (e.g. "UP", "DOWN"; a
        server going down reads "UP 1/2" on the way); returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        states: dict[str, str] = {}
        while True:
            if self.process is None or self.process.poll() is not None:
                raise BalancerError(f"HAProxy exited:\n{self.log()}")
            try:
                states = self.server_states()
            except OSError:
                states = {}  # the socket is not there yet
            if all(states.get(name) == state for name, state in wanted.items()):
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise BalancerError(f"servers {states}, not {wanted}, after {timeout} s")
            time.sleep(POLL_SECONDS)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
