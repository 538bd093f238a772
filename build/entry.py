"""The packaged executable's entry point: ``Aegis`` behaves as ``aegis desktop``.

``Aegis`` opens the window, ``Aegis --self-test`` runs the desktop self-test; any other
option is passed to ``aegis desktop`` too. The web target (``aegis serve``) is not in
the bundle: install the ``aegis`` package for it.

When frozen on Linux the bundle carries the Flet client already unpacked (see
``aegis.spec``). ``FLET_VIEW_PATH`` points Flet at it, so nothing is unpacked into
``~/.flet`` and the first start does not pay for it. It must be set before Flet looks
for its client; setting it here, before anything imports Flet, is simplest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CLIENT_DIR = "flet-client"  # under the bundle root; the spec puts the client there


def use_bundled_client() -> None:
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root is None:
        return
    client = Path(bundle_root) / CLIENT_DIR / "flet"
    if client.is_dir():
        os.environ.setdefault("FLET_VIEW_PATH", str(client))


def desktop_argv(argv: list[str]) -> list[str]:
    if argv[:1] == ["desktop"]:
        return argv
    return ["desktop", *argv]


def main() -> int:
    if sys.argv[1:2] == ["serve"]:
        print(
            "The packaged Aegis is the desktop app; `aegis serve` (the web target) "
            "comes with the aegis Python package.",
            file=sys.stderr,
        )
        return 2
    use_bundled_client()
    from aegis_app.cli import main as cli_main

    return cli_main(desktop_argv(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
