"""The desktop target keeps the session cookie in the OS keyring, nowhere else.

The stored value is a small JSON object, ``{"v": 1, "token": "..."}``: well under the
~1,280 characters Windows Credential Manager allows. Anything else found under our
entry (corrupt, oversized, another version) is treated as no session and deleted.

Without a usable keyring Aegis still works; the user signs in at every launch, nothing
is written anywhere else (no plaintext fallback), and the sign-in view says why.

"Usable" means an OS store, by an allowlist of keyring's own backend modules (see
:data:`OS_KEYRING_MODULES`). keyring's discovery picks whatever installed backend
claims the highest ``priority``, and third-party ones claim what they like:
keyrings.alt's ``PlaintextKeyring`` writes the secret to a file in the clear, its
``EncryptedKeyring`` and keyrings.cryptfile prompt for a password on stdin. Neither a
priority threshold nor a denylist can keep up with plugins; an allowlist can.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.errors

log = logging.getLogger("aegis.desktop.keyring")

SERVICE = "Aegis"
ENTRY = "session"
FORMAT_VERSION = 1
MAX_STORED_CHARS = 1000
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,512}")

# What a keyring call may raise: keyring's own errors, and on Windows a raw OSError
# (for instance error 1783 for an oversized value).
KEYRING_ERRORS = (keyring.errors.KeyringError, OSError)

NOT_REMEMBERED = "Aegis cannot use this computer's keyring, so it will not remember your sign-in"


def backend_name(backend: keyring.backend.KeyringBackend) -> str:
    name = getattr(backend, "name", "") or type(backend).__name__
    return str(name).removesuffix(" Keyring").strip() or type(backend).__name__


OS_KEYRING_MODULES = frozenset(
    {
        "keyring.backends.SecretService",  # GNOME Keyring, KeePassXC, ... over D-Bus
        "keyring.backends.libsecret",  # the same stores through libsecret
        "keyring.backends.kwallet",  # KDE Wallet
        "keyring.backends.Windows",  # Windows Credential Manager
        "keyring.backends.macOS",  # macOS Keychain
    }
)
"""The only backends a session is ever given to: stores the operating system protects."""

NO_OS_KEYRING = (
    "no OS keyring was found (on Linux, a Secret Service such as GNOME Keyring "
    "or KWallet must be running and unlocked)"
)


def choose_backend(
    backend: keyring.backend.KeyringBackend, os_stores: frozenset[str] = OS_KEYRING_MODULES
) -> keyring.backend.KeyringBackend:
    """The backend to use: keyring's chainer (several viable backends) is unwrapped to
    its best OS store, so a plaintext backend chained behind it is never written to."""
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        chained: list[keyring.backend.KeyringBackend] = list(backend.backends)  # best first
        for candidate in chained:
            if type(candidate).__module__ in os_stores:
                return candidate
        return chained[0] if chained else backend
    return backend


def unavailable_reason(
    backend: keyring.backend.KeyringBackend, os_stores: frozenset[str] = OS_KEYRING_MODULES
) -> str | None:
    """Why this backend must not keep a session, in words; ``None`` if it is an OS store."""
    module = type(backend).__module__
    if module in os_stores:
        return None
    if module == "keyring.backends.fail":
        return NO_OS_KEYRING
    if module == "keyring.backends.null":
        return "the keyring is switched off (null backend)"
    return (
        f"the keyring found here ({backend_name(backend)}, from {module}) is not one the "
        "operating system protects, and Aegis keeps your session nowhere else"
    )


def encode(token: str) -> str:
    return json.dumps({"v": FORMAT_VERSION, "token": token}, separators=(",", ":"))


def decode(value: str) -> str:
    """The token in a stored value; ``ValueError`` saying what is wrong otherwise."""
    if len(value) > MAX_STORED_CHARS:
        raise ValueError(f"the stored value is {len(value)} characters, over {MAX_STORED_CHARS}")
    try:
        data: Any = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError("the stored value is not JSON") from exc
    if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
        raise ValueError("the stored value has an unknown format")
    token = data.get("token")
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ValueError("the stored value holds no valid session token")
    return token


class KeyringCookieStore:
    """A :class:`~aegis_app.state.SessionCookieStore` backed by the OS keyring.

    ``notice`` is what the sign-in view tells the user when the keyring cannot be used;
    ``description`` is what Settings shows. ``os_stores`` is the allowlist of backend
    modules; only tests widen it, to let an in-memory double stand in for an OS store.
    """

    def __init__(
        self,
        backend: keyring.backend.KeyringBackend | None = None,
        *,
        service: str = SERVICE,
        entry: str = ENTRY,
        os_stores: frozenset[str] = OS_KEYRING_MODULES,
    ) -> None:
        self._backend = backend
        self._os_stores = os_stores
        self._checked = False
        self.service = service
        self.entry = entry
        self.problem: str | None = None
        """Why nothing is kept, in words; ``None`` while the keyring works."""

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        if self._backend is None:
            self._backend = keyring.get_keyring()
        if not self._checked:
            self._checked = True
            self._backend = choose_backend(self._backend, self._os_stores)
            self.problem = self.problem or unavailable_reason(self._backend, self._os_stores)
        return self._backend

    @property
    def description(self) -> str:
        backend = self.backend
        if self.problem:
            return f"Not kept: {self.problem}"
        return f"OS keyring ({backend_name(backend)})"

    @property
    def notice(self) -> str | None:
        if self.problem is None:
            return None
        return f"{NOT_REMEMBERED}: {self.problem}."

    def _give_up(self, action: str, error: BaseException) -> None:
        self.problem = f"the keyring refused to {action} ({type(error).__name__}: {error})"
        log.warning("session not kept in the keyring: %s", self.problem)

    def load(self) -> str | None:
        backend = self.backend
        if self.problem:
            log.warning("%s", self.notice)
            return None
        try:
            value = backend.get_password(self.service, self.entry)
        except KEYRING_ERRORS as error:
            self._give_up("read the stored session", error)
            return None
        if value is None:
            return None
        try:
            return decode(value)
        except ValueError as error:
            log.warning("ignoring and deleting the stored session: %s", error)
            self._delete()
            return None

    async def save(self, token: str | None) -> None:
        _ = self.backend  # find it (and whether it can keep anything) once
        if self.problem:
            return
        await asyncio.to_thread(self._save, token)

    def _save(self, token: str | None) -> None:
        if token is None:
            self._delete()
            return
        value = encode(token)
        if len(value) > MAX_STORED_CHARS:
            log.warning("session token too long for the keyring (%d characters)", len(value))
            self._delete()
            return
        try:
            self.backend.set_password(self.service, self.entry, value)
        except KEYRING_ERRORS as error:
            self._give_up("store the session", error)
        else:
            log.info("session stored in the keyring (%s)", backend_name(self.backend))

    def _delete(self) -> None:
        try:
            if self.backend.get_password(self.service, self.entry) is None:
                return
            self.backend.delete_password(self.service, self.entry)
        except keyring.errors.PasswordDeleteError:
            return
        except KEYRING_ERRORS as error:
            self._give_up("delete the stored session", error)
        else:
            log.info("stored session deleted from the keyring")
