"""``make cluster``: PostgreSQL, N ``aegis serve`` instances and HAProxy, on loopback.

    python -m deploy.cluster [--port 8080] [--instances 2] [--first-instance-port 8001]

starts a throwaway PostgreSQL cluster with one database, the instances on it (each with
its own data and log directory), and HAProxy in front (``deploy/haproxy.cfg``); prints
what runs where; and on Ctrl+C (SIGINT) or SIGTERM stops them all, balancer first and
database last, and deletes the throwaway data. ``tests/cluster`` drives the same parts.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import string
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from deploy.balancer import BALANCER_SOURCE, Backend, Balancer, BalancerError
from deploy.instance import AegisInstance, InstanceError
from deploy.postgres_cluster import PostgresCluster, postgres_cluster

HOST = "127.0.0.1"
DRAIN_SECONDS = 3.0
"""How long an instance answers "draining" after SIGTERM before it stops accepting
connections: HAProxy's checks (every second, 250 ms apart after a first failure, two
failures) take it out in about 1.5 s; the rest is margin."""


def instance_flags() -> list[str]:
    """The ``aegis serve`` flags for an instance behind deploy/haproxy.cfg."""
    return [
        "--forwarded-allow-ips",
        BALANCER_SOURCE,
        "--timeout-keep-alive",
        "75",
        "--drain-seconds",
        str(DRAIN_SECONDS),
    ]


@dataclass
class Cluster:
    postgres: PostgresCluster
    database_url: str
    instances: list[AegisInstance]
    balancer: Balancer
    work_dir: Path

    def instance(self, name: str) -> AegisInstance:
        return next(instance for instance in self.instances if instance.name == name)

    def describe(self) -> str:
        lines = [
            f"PostgreSQL   {self.database_url}",
            f"             data and log under {self.postgres.data_dir.parent}",
        ]
        for instance in self.instances:
            lines.append(
                f"instance {instance.name}   {instance.url()}   pid {instance.pid}   "
                f"log {instance.log_path}"
            )
        process = self.balancer.process
        lines += [
            f"HAProxy      {self.balancer.url()}   pid {process.pid if process else None}",
            f"             config {self.balancer.config_path}",
            f"             log {self.balancer.log_path}",
            f"             admin socket {self.balancer.stats_socket} (show stat)",
        ]
        return "\n".join(lines)


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_cluster(
    *,
    balancer_port: int | None = None,
    instance_ports: list[int] | None = None,
    work_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """Start everything (free ports unless given); stop everything when the block ends."""
    lb_port = balancer_port or free_port()
    ports = instance_ports or [free_port(), free_port()]
    names = list(string.ascii_lowercase[: len(ports)])
    taken = [port for port in [lb_port, *ports] if not port_is_free(port)]
    if taken:
        raise RuntimeError(f"port(s) {', '.join(map(str, taken))} on {HOST} are in use")
    with contextlib.ExitStack() as stack:
        root = work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aegis-")))
        postgres = stack.enter_context(postgres_cluster())
        database_url = postgres.create_database("aegis")
        instances = [
            AegisInstance(
                name,
                port,
                root / f"instance-{name}",
                env={
                    "AEGIS_DATABASE_URL": database_url,
                    # The balancer's public name first (what browsers send), then the
                    # instance's own, for talking to it directly.
                    "AEGIS_ALLOWED_HOSTS": f"{HOST}:{lb_port},localhost:{lb_port},{HOST}:{port}",
                    **(extra_env or {}),
                },
                flags=instance_flags(),
            )
            for name, port in zip(names, ports, strict=True)
        ]
        for instance in instances:
            stack.callback(instance.kill)  # only if a stop below did not happen
        # Together: one migrates the empty database, the others wait on the migration
        # lock and then find it done.
        with ThreadPoolExecutor(len(instances)) as starting:
            for started in [starting.submit(instance.start) for instance in instances]:
                started.result()
        balancer = Balancer(
            root / "haproxy",
            host=HOST,
            port=lb_port,
            servers=[Backend(i.name, i.host, i.port) for i in instances],
        )
        stack.callback(balancer.stop)
        balancer.start()
        cluster = Cluster(postgres, database_url, instances, balancer, root)
        try:
            yield cluster
        finally:
            balancer.stop()
            for instance in instances:
                if instance.running:
                    # No balancer left to drain from: SIGINT skips the drain.
                    instance.stop(signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.cluster",
        description="PostgreSQL, N aegis serve instances and HAProxy on loopback; Ctrl+C "
        "stops them all and deletes the throwaway data.",
    )
    parser.add_argument("--port", type=int, default=8080, help="HAProxy's port (8080)")
    parser.add_argument(
        "--instances", type=int, default=2, metavar="N", help="how many instances, 1 to 9 (2)"
    )
    parser.add_argument(
        "--first-instance-port",
        type=int,
        default=8001,
        metavar="PORT",
        help="the first instance's port; the others follow (8001)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.instances <= 9:
        parser.error(f"--instances {args.instances}: give 1 to 9")
    ports = [args.first_instance_port + i for i in range(args.instances)]

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("starting PostgreSQL, the instances and HAProxy ...", flush=True)
    try:
        with running_cluster(balancer_port=args.port, instance_ports=ports) as cluster:
            print(cluster.describe())
            print(
                f"\nOpen {cluster.balancer.url()} and create the first account. Stop an "
                "instance (kill -9 <pid>, or kill <pid> to drain it) and keep working.\n"
                "Ctrl+C stops everything and deletes the throwaway data.",
                flush=True,
            )
            while not stop.wait(1.0):
                for instance in cluster.instances:
                    if instance.process is not None and instance.process.poll() is not None:
                        code = instance.wait(1)
                        print(f"instance {instance.name} exited ({code}); the others serve")
            print("stopping HAProxy, the instances, PostgreSQL ...", flush=True)
    except (InstanceError, BalancerError, RuntimeError, FileNotFoundError) as error:
        print(f"make cluster: {error}", file=sys.stderr)
        return 1
    print("stopped; nothing left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
