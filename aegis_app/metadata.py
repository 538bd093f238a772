"""App metadata from ``flet.toml``, shared by both targets and the packaged build."""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class AppMetadata:
    name: str
    description: str
    web_mount_path: str
    window_title: str
    window_width: int
    window_height: int
    window_min_width: int
    window_min_height: int


def metadata_file() -> Path:
    """Package data next to this module (so it travels in the wheel); at the bundle's
    root inside a PyInstaller bundle (build/aegis.spec puts it there)."""
    bundle_root = getattr(sys, "_MEIPASS", None)
    root = Path(bundle_root) if bundle_root else Path(__file__).resolve().parent
    return root / "flet.toml"


@cache
def app_metadata() -> AppMetadata:
    data = tomllib.loads(metadata_file().read_text(encoding="utf-8"))
    app, window = data["app"], data["window"]
    return AppMetadata(
        name=app["name"],
        description=app["description"],
        web_mount_path="/" + app["web_mount_path"].strip("/"),
        window_title=window["title"],
        window_width=int(window["width"]),
        window_height=int(window["height"]),
        window_min_width=int(window["min_width"]),
        window_min_height=int(window["min_height"]),
    )
