"""The heap census's hook in the measured server; only ``bench.heap_census`` puts this
directory on ``PYTHONPATH``, and it does nothing unless ``AEGIS_BENCH_TRACEMALLOC_DIR``
is set. Product code knows nothing of it.

SIGUSR1 starts tracemalloc (so start-up and imports are not traced, and tracing costs
nothing until then) and then writes ``tracing`` into that directory; each SIGUSR2
writes ``snapshot-<n>.pickle`` (a tracemalloc snapshot) and ``objects-<n>.json`` (live
objects counted by type, for Flet's and the app's own types) there, each renamed into
place once complete, after a full collection (else unreachable cycles count too).
"""

from __future__ import annotations

import os

_OUT = os.environ.get("AEGIS_BENCH_TRACEMALLOC_DIR")

if _OUT:
    import gc
    import json
    import signal
    import tracemalloc
    from pathlib import Path
    from types import FrameType

    _FRAMES = int(os.environ.get("AEGIS_BENCH_TRACEMALLOC_FRAMES", "10"))
    _PREFIXES = ("flet", "aegis_app", "httpx", "http.cookiejar")
    _taken = [0]

    def _start(_signal: int, _frame: FrameType | None) -> None:
        tracemalloc.start(_FRAMES)
        (Path(str(_OUT)) / "tracing").touch()  # the census waits for this, not a pause

    def _snapshot(_signal: int, _frame: FrameType | None) -> None:
        out, n = Path(str(_OUT)), _taken[0]
        _taken[0] += 1
        gc.collect()  # what the sessions hold, not garbage waiting for a collection
        counts: dict[str, int] = {}
        for obj in gc.get_objects():
            kind = type(obj)
            module = kind.__dict__.get("__module__")  # a descriptor on a few C types
            if isinstance(module, str) and module.startswith(_PREFIXES):
                name = f"{module}.{kind.__qualname__}"
                counts[name] = counts.get(name, 0) + 1
        part = out / f"objects-{n}.json.part"
        part.write_text(json.dumps(counts))
        os.replace(part, out / f"objects-{n}.json")
        part = out / f"snapshot-{n}.pickle.part"
        tracemalloc.take_snapshot().dump(str(part))
        os.replace(part, out / f"snapshot-{n}.pickle")

    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _snapshot)
