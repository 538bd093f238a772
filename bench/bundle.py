"""The packaged desktop app (``dist/Aegis``): bundle size and cold start for a new user.

``python -m bench bundle``. Uses ``dist/Aegis`` as ``make dist`` left it, building it
first when it is missing (``AEGIS_BENCH_BUILD=1`` rebuilds it anyway, and the build time
is reported).

Each run launches the executable under Xvfb with a fresh, empty HOME (XDG directories
inside it: no database, no font cache, no ``~/.flet``) and no keyring. After one
warm-up run (OS file cache), the median of 5 is reported for the app's log milestones
(backend ready, window connected, first view sent; seconds after process start) and the
first frame, detected from outside as in ``desktop_start`` (whose helpers are used).

The size is printed beside its goal (issue 10: at most 110 MB, 90 MB within reach),
with the 15 largest items: the executable (its PYZ holds the Python code) and each
entry of ``_internal``, the Flet client's folder opened down to its files in ``lib/``;
and the largest packages inside the PYZ (compressed bytes).

    python -m bench.bundle [--sizes-only] [BUNDLE_DIR]

``--sizes-only`` prints the sizes and skips the launches; ``BUNDLE_DIR`` measures
another build (default ``dist/Aegis``, built when missing).
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.desktop_start import MILESTONES, display, first_frame

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "dist"
EXECUTABLE = DIST / "Aegis" / ("Aegis.exe" if sys.platform == "win32" else "Aegis")
RUNS = 5
GOAL_MB = 110  # issue 10, goal 7
WITHIN_REACH_MB = 90
LARGEST = 15
# Folders listed entry by entry instead of as one item (relative to the bundle).
OPENED = {
    "_internal",
    "_internal/flet-client",
    "_internal/flet-client/flet",
    "_internal/flet-client/flet/lib",
}


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def tree_mb(path: Path) -> float:
    return tree_bytes(path) / 1e6


def largest_items(bundle: Path, count: int = LARGEST) -> list[tuple[str, int]]:
    """The bundle's largest items (bytes): a file, or a folder not in ``OPENED``."""
    items: list[tuple[str, int]] = []
    pending = [bundle]
    while pending:
        for entry in pending.pop().iterdir():
            name = entry.relative_to(bundle).as_posix()
            if entry.is_dir() and not entry.is_symlink() and name in OPENED:
                pending.append(entry)
            elif not entry.is_symlink():
                items.append((name, tree_bytes(entry)))
    return sorted(items, key=lambda item: (-item[1], item[0]))[:count]


def pyz_modules(executable: Path) -> dict[str, int]:
    """Every module in the executable's PYZ with its compressed size (bytes); empty when
    PyInstaller, whose reader this uses, is not installed."""
    try:
        from PyInstaller.archive.readers import CArchiveReader
    except ImportError:
        return {}
    pyz = CArchiveReader(str(executable)).open_embedded_archive("PYZ.pyz")
    return {name: length for name, (_kind, _offset, length) in pyz.toc.items()}


def pyz_packages(executable: Path, count: int = 10) -> list[tuple[str, int]]:
    """The largest top-level packages in the executable's PYZ (compressed bytes)."""
    sizes: collections.Counter[str] = collections.Counter()
    for name, length in pyz_modules(executable).items():
        sizes[name.split(".")[0]] += length
    return sizes.most_common(count)


def print_sizes(bundle: Path, executable: Path) -> dict[str, Any]:
    size_mb = round(tree_mb(bundle), 1)
    client_mb = round(tree_mb(bundle / "_internal" / "flet-client"), 1)
    verdict = "met" if size_mb <= GOAL_MB else f"missed by {size_mb - GOAL_MB:.1f} MB"
    print(
        f"bundle size: {size_mb} MB (goal ≤ {GOAL_MB} MB, {WITHIN_REACH_MB} MB within reach: "
        f"{verdict}; {bundle}; the Flet client is {client_mb} MB of it)"
    )
    items = largest_items(bundle)
    print(f"{len(items)} largest items (MB):")
    for name, size in items:
        print(f"  {size / 1e6:7.2f}  {name}")
    packages = pyz_packages(executable)
    if packages:
        print(f"largest packages in {executable.name}'s PYZ (MB, compressed):")
        print("  " + ", ".join(f"{name} {size / 1e6:.2f}" for name, size in packages))
    return {
        "bundle_mb": size_mb,
        "goal_mb": GOAL_MB,
        "flet_client_mb": client_mb,
        "largest_items_mb": {name: round(size / 1e6, 2) for name, size in items},
        "pyz_packages_mb": {name: round(size / 1e6, 2) for name, size in packages},
    }


def build() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, str(REPO / "build" / "build.py")], cwd=REPO, check=True)
    return time.monotonic() - started


def fresh_home_env(root: Path, display_name: str) -> dict[str, str]:
    home, runtime = root / "home", root / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "DBUS_SESSION_BUS_ADDRESS": "disabled:",
        "DISPLAY": display_name,
    }


def one_start(display_name: str, executable: Path = EXECUTABLE) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="aegis-bench-bundle-") as root:
        env = fresh_home_env(Path(root), display_name)
        home = Path(env["HOME"])
        output = Path(root) / "output.txt"
        t0 = time.monotonic()
        with output.open("wb") as out:
            process = subprocess.Popen(
                [str(executable)], cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            try:
                frame = first_frame(env, process, timeout=60) - t0
            except RuntimeError as error:
                tail = "\n".join(output.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"{error} (exit code {process.poll()})\n{tail}") from None
            process.send_signal(signal.SIGTERM)
            code = process.wait(20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        log_file = home / ".local" / "state" / "Aegis" / "log" / "aegis-desktop.log"
        log = log_file.read_text(encoding="utf-8")
        wrote_dot_flet = (home / ".flet").exists()
    figures = {"first_frame": frame, "exit_code": code, "wrote_dot_flet": float(wrote_dot_flet)}
    for name, pattern in MILESTONES.items():
        match = pattern.search(log)
        figures[name] = float(match.group(1)) if match else float("nan")
    return figures


def run(bundle: Path | None = None, sizes_only: bool = False) -> dict[str, Any]:
    """The bench (``make bench``); ``bundle`` measures another build than dist/Aegis."""
    build_seconds = None
    executable = EXECUTABLE if bundle is None else bundle / EXECUTABLE.name
    if bundle is None and (os.environ.get("AEGIS_BENCH_BUILD") == "1" or not EXECUTABLE.exists()):
        build_seconds = round(build(), 1)
        print(f"build (build/build.py, incl. archive): {build_seconds} s")
    figures: dict[str, Any] = {
        "build_seconds": build_seconds,
        **print_sizes(executable.parent, executable),
    }
    if sizes_only:
        return figures
    with display() as display_name:
        one_start(display_name, executable)  # warm-up: OS file cache only; every HOME is fresh
        runs = [one_start(display_name, executable) for _ in range(RUNS)]
    load = round(os.getloadavg()[0], 2)
    keys = ["backend_ready", "window_connected", "first_view_sent", "first_frame"]
    medians = {key: round(statistics.median(r[key] for r in runs), 3) for key in keys}

    print(f"packaged cold start, fresh HOME, median of {RUNS} (seconds after process start):")
    for key in keys:
        values = ", ".join(f"{r[key]:.2f}" for r in runs)
        print(f"  {key:<20} {medians[key]:6.3f}   [{values}]")
    print(f"  exit codes after SIGTERM: {[int(r['exit_code']) for r in runs]}")
    print(f"  wrote ~/.flet: {any(r['wrote_dot_flet'] for r in runs)}")
    print(f"  load average after the runs: {load} on {os.cpu_count()} CPUs")
    return {
        **figures,
        "runs": RUNS,
        "median_seconds": medians,
        "all": runs,
        "load_average_1min": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Size and cold start of the packaged app.")
    parser.add_argument("bundle", nargs="?", type=Path, help="a bundle folder (default dist/Aegis)")
    parser.add_argument("--sizes-only", action="store_true", help="no launches")
    args = parser.parse_args(argv)
    run(args.bundle.resolve() if args.bundle else None, sizes_only=args.sizes_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
