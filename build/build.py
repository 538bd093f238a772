"""``make dist``: build the packaged desktop app with PyInstaller.

Produces ``dist/Aegis/`` (onedir; the executable is ``Aegis``, ``Aegis.exe`` on
Windows) and an archive of it, ``dist/Aegis-<version>-<platform>.tar.gz`` (``.zip`` on
Windows). PyInstaller's work files go to ``.pyinstaller-work/`` (git-ignored), never
into this folder: Flet would take a ``./build/linux/<executable>`` in the working
directory for its desktop client.

    python build/build.py [--distpath DIR] [--workpath DIR] [--no-archive]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

BUILD = Path(__file__).resolve().parent
ROOT = BUILD.parent
SPEC = BUILD / "aegis.spec"


def app_name() -> str:
    data = tomllib.loads((ROOT / "aegis_app" / "flet.toml").read_text(encoding="utf-8"))
    return str(data["app"]["name"])


def app_version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["version"])


def platform_tag() -> str:
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower().replace("amd64", "x86_64").replace("aarch64", "arm64")
    return f"{system}-{machine}"


def executable(dist_dir: Path) -> Path:
    name = app_name()
    return dist_dir / name / (f"{name}.exe" if sys.platform == "win32" else name)


def run_pyinstaller(dist_dir: Path, work_dir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(SPEC),
        "--noconfirm",
        "--clean",
        "--log-level=WARN",
        f"--distpath={dist_dir}",
        f"--workpath={work_dir}",
    ]
    # From the repository root whatever the caller's directory (the spec's paths are its
    # own; relative --distpath/--workpath were resolved above).
    subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 - our own interpreter and args


def make_archive(dist_dir: Path) -> Path:
    name = app_name()
    stem = f"{name}-{app_version()}-{platform_tag()}"
    if sys.platform == "win32":
        return Path(shutil.make_archive(str(dist_dir / stem), "zip", dist_dir, name))
    archive = dist_dir / f"{stem}.tar.gz"
    # compresslevel 6: about twice as fast as 9 for a percent or two of size.
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(dist_dir / name, arcname=name)
    return archive


def tree_size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distpath", type=Path, default=ROOT / "dist")
    parser.add_argument("--workpath", type=Path, default=ROOT / ".pyinstaller-work")
    parser.add_argument("--no-archive", action="store_true", help="skip the .tar.gz/.zip")
    args = parser.parse_args(argv)
    dist_dir: Path = args.distpath.resolve()
    work_dir: Path = args.workpath.resolve()
    if work_dir == BUILD or BUILD in work_dir.parents:
        parser.error("--workpath must be outside build/ (Flet would look there for a client)")

    started = time.perf_counter()
    run_pyinstaller(dist_dir, work_dir)
    built = time.perf_counter() - started
    exe = executable(dist_dir)
    if not exe.is_file() or not os.access(exe, os.X_OK):
        print(f"build failed: {exe} was not produced", file=sys.stderr)
        return 1
    size_mb = tree_size(exe.parent) / 1e6
    print(f"built {exe} in {built:.1f} s ({size_mb:.1f} MB)")
    if not args.no_archive:
        archive = make_archive(dist_dir)
        print(f"archived {archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
