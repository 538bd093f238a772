"""The script ``flet run`` starts: the desktop target, embedded backend included.

Development only (hot reload); users run ``aegis desktop``. From the project root:

    flet run -d -r aegis_app/flet_entry.py          # native window, reloads on save
    flet run --web -p 8550 aegis_app/flet_entry.py  # the same app in a browser tab

``flet run`` starts this file as a script, in a fresh process per reload, and owns the
window itself; ``run_desktop`` sees that (``FLET_DISPLAY_URL_PREFIX``) and leaves the
window and the SIGTERM that ends each reload to Flet.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# `flet run --web` listens on every interface unless told otherwise; this app holds a
# signed-in session, so keep it on loopback. And no CDN: CanvasKit comes from the wheel.
os.environ.setdefault("FLET_SERVER_IP", "127.0.0.1")
os.environ.setdefault("FLET_WEB_NO_CDN", "1")

if __name__ == "__main__" and not __package__:
    # Run as a file, sys.path[0] is aegis_app/ itself, whose modules (app, state, ...)
    # would shadow top-level names; import the package from the project root instead.
    _package_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _package_dir]
    sys.path.insert(0, str(_package_dir.parent))

from aegis_app.launch.desktop import run_desktop

main = run_desktop

if __name__ == "__main__":
    sys.exit(run_desktop())
