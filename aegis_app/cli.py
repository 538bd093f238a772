"""``aegis serve`` (web target) and ``aegis desktop`` (desktop target)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aegis", description="Aegis operations dashboard")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API and the web dashboard")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-Proto/For from the proxy in front (for https deployments)",
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
            serve(args.host, args.port, proxy_headers=args.proxy_headers)
        except (ConfigurationError, ValidationError) as error:
            print(f"aegis serve: the configuration is not valid: {error}", file=sys.stderr)
            return 2
        return 0
    from aegis_app.launch.desktop import run_desktop, self_test

    return self_test() if args.self_test else run_desktop()


if __name__ == "__main__":
    sys.exit(main())
