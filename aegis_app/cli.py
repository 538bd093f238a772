"""``aegis serve`` (web target) and ``aegis desktop`` (desktop target)."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence

# Kept free of heavy imports: ``aegis desktop`` starts through this module.

DEFAULT_KEEP_ALIVE_SECONDS = 75
"""Longer than any poll interval (the dashboard's is 5 s) and than the idle timeout a
balancer keeps towards its servers (HAProxy's in deploy/ is under a minute): an idle
connection is then always closed by the other side, never under a request it sends."""
DEFAULT_GRACEFUL_SHUTDOWN_SECONDS = 30
"""How long requests in flight get to finish once the listening socket is closed."""


LOOPBACK_PROXY = ("127.0.0.1", "::1")


def forwarded_addresses(text: str) -> tuple[str, ...]:
    """``10.0.0.5,10.0.1.0/24`` -> the entries, each checked to be an address or network."""
    entries = tuple(entry.strip() for entry in text.split(",") if entry.strip())
    if not entries:
        raise argparse.ArgumentTypeError("give at least one address")
    for entry in entries:
        if entry == "*":
            raise argparse.ArgumentTypeError(
                "'*' would believe X-Forwarded-For from every client, so anyone could "
                "claim any address; name the balancer's addresses"
            )
        try:
            # strict: uvicorn reads 10.0.0.5/24 as a name that matches nothing.
            ipaddress.ip_network(entry, strict=True)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{entry!r} is not an IP address or network (such as 10.0.0.5 or 10.0.0.0/24)"
            ) from None
    return entries


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds, 1 or more")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 3600")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aegis", description="Aegis operations dashboard")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API and the web dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    proxy = serve.add_mutually_exclusive_group()
    proxy.add_argument(
        "--forwarded-allow-ips",
        metavar="ADDRESSES",
        type=forwarded_addresses,
        default=(),
        help="comma-separated addresses or networks of the load balancer / reverse proxy: "
        "only connections from these have their X-Forwarded-For/-Proto believed (the "
        "client's real address, https); from anyone else those headers are ignored",
    )
    proxy.add_argument(
        "--proxy-headers",
        action="store_const",
        dest="forwarded_allow_ips",
        const=LOOPBACK_PROXY,
        help="the same as --forwarded-allow-ips 127.0.0.1,::1 (a proxy on this machine)",
    )
    serve.add_argument(
        "--timeout-keep-alive",
        metavar="SECONDS",
        type=positive_int,
        default=DEFAULT_KEEP_ALIVE_SECONDS,
        help="close a client's idle connection after this long (default "
        f"{DEFAULT_KEEP_ALIVE_SECONDS}); keep it longer than the balancer's idle timeout",
    )
    serve.add_argument(
        "--timeout-graceful-shutdown",
        metavar="SECONDS",
        type=positive_int,
        default=DEFAULT_GRACEFUL_SHUTDOWN_SECONDS,
        help="on SIGTERM/SIGINT, requests in flight get this long to finish (default "
        f"{DEFAULT_GRACEFUL_SHUTDOWN_SECONDS})",
    )
    serve.add_argument(
        "--drain-seconds",
        metavar="SECONDS",
        type=non_negative_float,
        default=0.0,
        help="on SIGTERM, first answer /api/v1/health with 503 'draining' for this long "
        "(more than the balancer needs to mark the instance down), then shut down "
        "gracefully (default 0: no balancer)",
    )
    desktop = commands.add_parser("desktop", help="open the native desktop window")
    desktop.add_argument(
        "--self-test",
        action="store_true",
        help="start the embedded backend without a window, check it, print JSON, exit 0/1",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from pydantic import ValidationError

        from aegis_app.launch.web import serve
        from backend.core.config import ConfigurationError

        try:
            serve(
                args.host,
                args.port,
                forwarded_allow_ips=args.forwarded_allow_ips,
                timeout_keep_alive=args.timeout_keep_alive,
                timeout_graceful_shutdown=args.timeout_graceful_shutdown,
                drain_seconds=args.drain_seconds,
            )
        except (ConfigurationError, ValidationError) as error:
            print(f"aegis serve: the configuration is not valid: {error}", file=sys.stderr)
            return 2
        return 0
    from aegis_app.launch.desktop import run_desktop, self_test

    return self_test() if args.self_test else run_desktop()


if __name__ == "__main__":
    sys.exit(main())
