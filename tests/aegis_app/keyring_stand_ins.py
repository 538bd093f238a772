"""A stand-in for keyrings.alt's ``PlaintextKeyring``, which must not be installed here.

keyrings.alt (like keyrings.cryptfile) becomes keyring's default backend for the whole
environment once installed, so the tests never install it. :class:`PlaintextKeyring`
mimics it: the same module path and class name, and it does what that one does,
writing the secret to a file in the clear. keyring's discovery never picks it unless
a test sets :attr:`PlaintextKeyring.claimed_priority`, so it cannot leak into others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError


class PlaintextKeyring(KeyringBackend):
    __module__ = "keyrings.alt.file"  # where the real one lives

    claimed_priority: ClassVar[float | None] = None
    """What it tells keyring's discovery; ``None``: not viable, never discovered."""

    @properties.classproperty
    def priority(cls) -> float:
        if cls.claimed_priority is None:
            raise RuntimeError("a stand-in is chosen only where a test says so")
        return cls.claimed_priority

    def __init__(self, path: Path) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring's backend base is untyped
        self.path = path

    def _read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        data: dict[str, str] = json.loads(self.path.read_text())
        return data

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}/{username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("not found")
        self.path.write_text(json.dumps(data))
