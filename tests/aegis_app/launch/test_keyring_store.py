"""KeyringCookieStore against an in-memory keyring (the boundary double), and the
session surviving a new backend port through it.

The real Secret Service is covered by the ``keyring``-marked tests."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, cast

import keyring.backend
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.backends.chainer import ChainerBackend
from keyring.backends.SecretService import Keyring as SecretServiceKeyring
from keyring.compat import properties
from keyring.errors import KeyringError, PasswordDeleteError

from aegis_app.api_client import APIClient
from aegis_app.launch.desktop import desktop_target
from aegis_app.launch.embedded_backend import EmbeddedBackend
from aegis_app.launch.keyring_store import (
    ENTRY,
    MAX_STORED_CHARS,
    OS_KEYRING_MODULES,
    SERVICE,
    KeyringCookieStore,
    encode,
    unavailable_reason,
)
from aegis_app.state import SessionState
from backend.core.config import SESSION_COOKIE
from tests.aegis_app.keyring_stand_ins import PlaintextKeyring
from tests.aegis_app.launch.desktop_harness import SecretService
from tests.conftest import make_test_settings

TOKEN = "A" * 43


# keyring's backend classes have untyped constructors: the one place each is called.
def no_os_keyring() -> KeyringBackend:
    """keyring's own "no keyring found" backend."""
    return fail.Keyring()  # type: ignore[no-untyped-call]


def secret_service_backend() -> KeyringBackend:
    return SecretServiceKeyring()  # type: ignore[no-untyped-call]


def chainer() -> ChainerBackend:
    return ChainerBackend()  # type: ignore[no-untyped-call]


class InMemoryKeyringDouble(KeyringBackend):
    """A test double for the OS keyring: a dict, optionally failing like a real one."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("a test double is never chosen by keyring's discovery")

    def __init__(self, fail_with: BaseException | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring's, untyped
        self.values: dict[tuple[str, str], str] = {}
        self.fail_with = fail_with

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def get_password(self, service: str, username: str) -> str | None:
        self._maybe_fail()
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._maybe_fail()
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._maybe_fail()
        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


def store_over(keyring: InMemoryKeyringDouble) -> KeyringCookieStore:
    """The double stands in for an OS store, so this store lets it join the allowlist."""
    return KeyringCookieStore(
        keyring, os_stores=OS_KEYRING_MODULES | {InMemoryKeyringDouble.__module__}
    )


async def test_save_load_and_delete() -> None:
    keyring = InMemoryKeyringDouble()
    store = store_over(keyring)
    assert store.load() is None
    await store.save(TOKEN)
    stored = keyring.values[(SERVICE, ENTRY)]
    assert stored == '{"v":1,"token":"' + TOKEN + '"}'
    assert len(stored) < MAX_STORED_CHARS
    assert store_over(keyring).load() == TOKEN  # a later launch
    await store.save(None)
    assert keyring.values == {}
    await store.save(None)  # nothing stored: still fine
    assert store.description.startswith("OS keyring (")
    assert "InMemoryKeyringDouble" in store.description
    assert store.notice is None


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "x" * 2000,
        '{"v":1,"token":"' + "A" * 2000 + '"}',
        '{"v":2,"token":"' + TOKEN + '"}',
        '{"v":1,"token":"has spaces; and=semicolons"}',
        '{"v":1}',
        "[1, 2]",
        TOKEN,  # a bare token, as a naive older version might have stored it
    ],
    ids=[
        "garbage",
        "oversized",
        "oversized-json",
        "version",
        "bad-token",
        "no-token",
        "list",
        "bare",
    ],
)
def test_an_unusable_stored_value_is_no_session_and_is_deleted(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = InMemoryKeyringDouble()
    keyring.values[(SERVICE, ENTRY)] = value
    with caplog.at_level(logging.WARNING, "aegis.desktop.keyring"):
        assert store_over(keyring).load() is None
    assert keyring.values == {}
    assert "ignoring and deleting the stored session" in caplog.text


@pytest.mark.parametrize(
    "error", [KeyringError("Prompt dismissed"), OSError(1783, "The stub received bad data")]
)
async def test_a_failing_keyring_means_not_kept_with_a_notice(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_over(InMemoryKeyringDouble(fail_with=error))
    with caplog.at_level(logging.WARNING, "aegis.desktop.keyring"):
        assert store.load() is None
        await store.save(TOKEN)
        await store.save(None)
    assert store.description.startswith("Not kept: the keyring refused to read")
    assert store.notice is not None
    assert "will not remember your sign-in" in store.notice
    assert type(error).__name__ in store.notice
    assert "session not kept in the keyring" in caplog.text


async def test_a_failing_write_is_reported_not_raised() -> None:
    keyring = InMemoryKeyringDouble()
    store = store_over(keyring)
    assert store.load() is None
    keyring.fail_with = OSError(1783, "value too large")
    await store.save(TOKEN)
    assert store.notice is not None and "store the session" in store.notice


async def test_no_keyring_at_all_keeps_nothing_and_says_why() -> None:
    store = KeyringCookieStore(no_os_keyring())
    assert store.load() is None
    await store.save(TOKEN)  # no error, and nowhere else to put it
    assert store.description.startswith("Not kept: no OS keyring was found")
    assert store.notice is not None


class _NoHTTP:
    """SessionState.restore returns before using the API when there is no token."""

    on_session_cookie = None


async def test_the_sign_in_view_gets_the_notice() -> None:
    state = SessionState(cast(APIClient, _NoHTTP()), KeyringCookieStore(no_os_keyring()))
    assert await state.restore() is False
    assert state.notice is not None and "will not remember your sign-in" in state.notice


def _api(backend: EmbeddedBackend) -> APIClient:
    page: Any = None  # the desktop target's clients do not depend on the page
    return APIClient(desktop_target(backend).new_http_client(page))


async def test_the_session_survives_a_new_port(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path / "data")
    keyring = InMemoryKeyringDouble()

    with EmbeddedBackend(settings) as first:
        state = SessionState(_api(first), store_over(keyring))
        await state.register("Ada Lovelace", "ada@example.com", "correct horse battery")
        await state.close()
        first_port = first.port
    assert (SERVICE, ENTRY) in keyring.values

    with EmbeddedBackend(settings) as second:
        assert second.port != first_port
        api = _api(second)
        state = SessionState(api, store_over(keyring))
        assert await state.restore(), "the stored cookie was not accepted on the new port"
        assert state.user is not None and state.user.email == "ada@example.com"
        cookie = next(c for c in api.http.cookies.jar if c.name == SESSION_COOKIE)
        assert cookie.domain == "127.0.0.1"
        await state.sign_out()
        await state.close()
    assert keyring.values == {}, "sign-out must delete the keyring entry"


def test_encoded_values_stay_far_below_the_windows_limit() -> None:
    assert len(encode("A" * 512)) < MAX_STORED_CHARS < 1280


# -- only an OS store keeps a session ------------------------------------------------


def test_the_allowlisted_modules_are_keyrings_own_os_backends() -> None:
    """If keyring renames one, the allowlist must follow (or that OS is refused)."""
    for module in OS_KEYRING_MODULES:
        assert importlib.util.find_spec(module) is not None, module
    assert unavailable_reason(secret_service_backend()) is None


async def test_a_plaintext_keyring_is_refused_and_never_written(
    fresh_keyring: Any, tmp_path: Path
) -> None:
    """keyring picks keyrings.alt's PlaintextKeyring (here a stand-in) as the default."""
    plaintext = PlaintextKeyring(tmp_path / "keyring_pass.cfg")
    fresh_keyring.set_keyring(plaintext)
    store = KeyringCookieStore()  # what the desktop target makes: keyring's own choice
    assert store.load() is None
    await store.save(TOKEN)
    assert not plaintext.path.exists(), "the session was written to a plaintext file"
    assert store.description.startswith("Not kept: the keyring found here (")
    assert "keyrings.alt.file" in store.description
    assert "not one the operating system protects" in store.description
    assert store.notice is not None and "will not remember your sign-in" in store.notice


@pytest.mark.keyring
async def test_behind_keyrings_chainer_only_the_os_store_is_used(
    secret_service: SecretService,
    fresh_keyring: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two viable backends make keyring pick its chainer, which writes to the one with
    the highest priority: a plugin can claim more than the Secret Service does."""
    plaintext = PlaintextKeyring(tmp_path / "keyring_pass.cfg")
    monkeypatch.setattr(PlaintextKeyring, "claimed_priority", 10.0)
    secret_service_keyring = secret_service_backend()
    monkeypatch.setattr(
        keyring.backend, "get_all_keyring", lambda: [plaintext, secret_service_keyring]
    )
    chained = chainer()
    assert [type(b) for b in chained.backends] == [PlaintextKeyring, SecretServiceKeyring]
    fresh_keyring.set_keyring(chained)

    store = KeyringCookieStore()
    await store.save(TOKEN)
    assert store.problem is None
    assert store.description == "OS keyring (SecretService)"
    assert not plaintext.path.exists(), "the session was written to a plaintext file"
    assert secret_service_keyring.get_password(SERVICE, ENTRY) == encode(TOKEN)
    assert KeyringCookieStore().load() == TOKEN
    await store.save(None)
    assert secret_service_keyring.get_password(SERVICE, ENTRY) is None


def test_a_chainer_of_nothing_but_plaintext_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext = PlaintextKeyring(tmp_path / "keyring_pass.cfg")
    monkeypatch.setattr(PlaintextKeyring, "claimed_priority", 10.0)
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: [plaintext])
    store = KeyringCookieStore(chainer())
    assert store.backend is plaintext
    assert store.problem is not None and "keyrings.alt.file" in store.problem
