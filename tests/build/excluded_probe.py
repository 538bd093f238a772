"""The desktop's backend and views with the bundle's excluded modules unimportable.

Run by ``test_excluded_modules.py`` in its own interpreter (``python excluded_probe.py
SPEC``): it reads ``EXCLUDES`` from the PyInstaller spec, makes every one of those
modules (and their submodules) fail to import as it does in the bundle, then starts the
embedded backend as ``aegis desktop`` does and walks a new user's first steps over its
real HTTP API: register (the email validated by pydantic and email_validator), sign in,
read the status, and imports the window's modules (Flet, the app, every view).

The packaged tests run the frozen app itself, but only as far as its health check and
the sign-in window; this covers the sign-in, the dashboard's data and the views.
Prints one JSON object: what answered, and which excluded modules something tried to
import (each try was refused, and the flow went on without it).
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import json
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType


def spec_excludes(spec: Path) -> list[str]:
    """The spec's ``EXCLUDES`` list (a literal: the spec is not importable here)."""
    for node in ast.parse(spec.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "EXCLUDES" for target in node.targets
        ):
            return [str(name) for name in ast.literal_eval(node.value)]
    raise SystemExit(f"no EXCLUDES list in {spec}")


class LeftOut(importlib.abc.MetaPathFinder):
    """Refuses the excluded modules as a bundle without them does: ModuleNotFoundError."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.tried: set[str] = set()

    def excluded(self, fullname: str) -> bool:
        return any(fullname == name or fullname.startswith(name + ".") for name in self.names)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if self.excluded(fullname):
            self.tried.add(fullname)
            raise ModuleNotFoundError(f"No module named {fullname!r} (left out)", name=fullname)
        return None


def new_user_steps() -> dict[str, object]:
    import httpx

    from aegis_app.launch.embedded_backend import EmbeddedBackend
    from backend.core.config import API_PREFIX, Settings

    settings = Settings()
    answers: dict[str, object] = {}
    with (
        EmbeddedBackend(settings) as backend,
        httpx.Client(
            base_url=backend.base_url + API_PREFIX,
            headers=backend.auth_headers,
            timeout=30,
            trust_env=False,
        ) as client,
    ):
        password = "a long enough probe password"
        account = {"email": "probe@example.org", "password": password}
        bad = client.post("/auth/register", json={**account, "email": "not an address"})
        answers["register_bad_email"] = bad.status_code
        answers["register"] = client.post(
            "/auth/register", json={**account, "full_name": "Probe User"}
        ).status_code
        answers["login"] = client.post("/auth/login", json=account).status_code
        answers["status"] = client.get("/system/status").status_code
        answers["metrics"] = client.get("/system/metrics").status_code
    return answers


def window_modules(left_out: LeftOut) -> list[str]:
    """Flet, the app and every view: what the window imports, in the bundle too."""
    import aegis_app.views

    names = ["flet", "flet_desktop", "aegis_app.app", "aegis_app.launch.window_lifecycle"]
    names += [
        info.name
        for info in pkgutil.walk_packages(aegis_app.views.__path__, "aegis_app.views.")
        if not left_out.excluded(info.name)
    ]
    for name in names:
        importlib.import_module(name)
    return names


def main(argv: list[str]) -> int:
    names = spec_excludes(Path(argv[0]))
    already = sorted(name for name in sys.modules if LeftOut(names).excluded(name))
    if already:
        raise SystemExit(f"imported before the probe started: {already}")
    left_out = LeftOut(names)
    sys.meta_path.insert(0, left_out)
    answers = new_user_steps()
    imported = window_modules(left_out)
    loaded = sorted(name for name in sys.modules if left_out.excluded(name))
    print(
        json.dumps(
            {
                "answers": answers,
                "window_modules": len(imported),
                "tried": sorted(left_out.tried),
                "loaded": loaded,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
