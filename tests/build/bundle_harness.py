"""The packaged executable as a new user runs it; shared by the fixtures and tests here.

:class:`PackagedApp` is the desktop tests' :class:`DesktopApp` (window lookup with a
drawn first frame, screenshots, SIGTERM, leftover processes) launching the bundle's
executable with a fresh HOME instead of ``python -m aegis_app desktop``.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tests.aegis_app.launch.desktop_harness import NO_KEYRING_ENV, DesktopApp

REPO = Path(__file__).resolve().parents[2]

EXE_NAME = "Aegis.exe" if sys.platform == "win32" else "Aegis"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
TIMINGS: dict[str, float] = {}
"""Figures printed in the terminal summary and saved to test-artifacts/."""


@dataclass
class Packaged:
    dist: Path
    build_seconds: float
    build_output: str
    archives: list[Path] = field(default_factory=list)

    @property
    def bundle(self) -> Path:
        return self.dist / "Aegis"

    @property
    def executable(self) -> Path:
        return self.bundle / EXE_NAME


@dataclass
class FreshHome:
    """An empty HOME with its XDG directories inside it; ``env`` is all the app gets."""

    home: Path
    env: dict[str, str]

    @classmethod
    def make(cls, root: Path) -> FreshHome:
        home, runtime = root / "home", root / "run"
        home.mkdir(parents=True)
        runtime.mkdir(mode=0o700)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_RUNTIME_DIR": str(runtime),
            **NO_KEYRING_ENV,  # no session bus: keyring falls back to its fail backend
        }
        return cls(home, env)

    @property
    def data_dir(self) -> Path:
        return self.home / ".local" / "share" / "Aegis"

    @property
    def log_dir(self) -> Path:
        return self.home / ".local" / "state" / "Aegis" / "log"


class PackagedApp(DesktopApp):
    """The bundle's executable under Xvfb: fresh HOME, CWD = HOME, no arguments."""

    def __init__(self, display: str, executable: Path, home: FreshHome) -> None:
        super().__init__(display, home.data_dir, {})
        self.executable = executable
        self.home = home
        self.output = home.home.parent / "packaged-output.txt"

    @property
    def log_path(self) -> Path:
        return self.home.log_dir / "aegis-desktop.log"

    def launch(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.output.open("ab") as out:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                [str(self.executable)],
                cwd=self.home.home,
                env={**self.home.env, "DISPLAY": self.display},
                stdout=out,
                stderr=subprocess.STDOUT,
            )


def elf_section_names(path: Path) -> set[str] | None:
    """The section names of a 64-bit little-endian ELF file; None for anything else.

    A stripped file has no ``.symtab`` and no ``.debug_*`` sections."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(index: int) -> tuple[int, int, int]:
        start = shoff + index * shentsize
        (name,) = struct.unpack_from("<I", data, start)
        offset, size = struct.unpack_from("<QQ", data, start + 0x18)
        return name, offset, size

    _, names_offset, names_size = header(shstrndx)
    names = data[names_offset : names_offset + names_size]
    return {
        names[name : names.index(b"\0", name)].decode() for name, _, _ in map(header, range(shnum))
    }
