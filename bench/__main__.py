"""``python -m bench [name ...]`` (``make bench``): run each bench, print its figures.

A bench is a module here with ``run() -> dict`` that prints its own figures; the
returned dict is also written to ``bench/results/<name>.json`` (not committed).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

BENCHES = ["web_sessions", "flet_diff", "desktop_start", "bundle"]
RESULTS = Path(__file__).resolve().parent / "results"
USAGE = f"usage: python -m bench [name ...]\n  names: {', '.join(BENCHES)} (all of them by default)"


def main(names: list[str]) -> int:
    if any(name in ("-h", "--help") for name in names):
        print(USAGE)
        return 0
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        print(f"no such bench: {', '.join(unknown)}\n{USAGE}", file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    for name in names or BENCHES:
        print(f"== {name}", flush=True)
        figures = importlib.import_module(f"bench.{name}").run()
        (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
