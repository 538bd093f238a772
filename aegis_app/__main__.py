"""``python -m aegis_app`` opens the desktop window (same as ``aegis desktop``)."""

import sys

from aegis_app.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["desktop"]))
