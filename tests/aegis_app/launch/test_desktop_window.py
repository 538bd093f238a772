"""The real native window under Xvfb, driven with xdotool like a person would."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aegis_app.launch.keyring_store import ENTRY, SERVICE
from tests.aegis_app.launch.desktop_harness import NO_KEYRING_ENV, SecretService
from tests.waiting import wait_until

NAME, EMAIL, PASSWORD = "Ada Lovelace", "ada@example.com", "correct horse battery"
SIGN_IN, REGISTER, DASHBOARD = "Sign in · Aegis", "Create account · Aegis", "Dashboard · Aegis"
TABS_FROM_EMAIL_TO_CREATE_ACCOUNT = 3  # Email → Password → Sign in → Create account
SIGN_OUT_FROM_RIGHT, SIGN_OUT_Y = 75, 28  # the top bar's "Sign out" button


def create_first_account(app: Any, wid: str) -> None:
    """From the sign-in view (Email has the focus), through "Create account"."""
    app.focus(wid)
    app.key(*["Tab"] * TABS_FROM_EMAIL_TO_CREATE_ACCOUNT, "Return")
    wid = app.window(REGISTER, timeout=10)
    app.type(NAME)
    app.key("Tab")
    app.type(EMAIL)
    app.key("Tab")
    app.type(PASSWORD)
    app.key("Return")


def assert_clean_exit(app: Any) -> None:
    assert app.terminate() == 0, app.tail()
    assert not app.leftovers(), "the window or a helper outlived the app"
    assert "backend stopped" in app.log_text()


@pytest.mark.desktop
@pytest.mark.keyring
def test_session_survives_relaunch_in_the_os_keyring(
    desktop_app: Any, secret_service: SecretService, fresh_keyring: Any, artifacts_dir: Path
) -> None:
    app = desktop_app(secret_service.env)
    app.launch()
    wid = app.window(SIGN_IN)
    assert app.width(wid) == 1200, "window size from flet.toml"
    assert app.screenshot(wid, artifacts_dir / "desktop-sign-in.png") > 50
    create_first_account(app, wid)
    wid = app.window(DASHBOARD, timeout=15)
    app.screenshot(wid, artifacts_dir / "desktop-dashboard.png")
    with sqlite3.connect(app.data_dir / "aegis.db") as db:
        typed = db.execute("SELECT full_name, email FROM users").fetchall()
    assert typed == [(NAME, EMAIL)], "what was typed is not what the account holds"

    stored = fresh_keyring.get_password(SERVICE, ENTRY)
    assert stored is not None, "the session was not stored in the keyring"
    assert set(json.loads(stored)) == {"v", "token"} and len(stored) < 1000
    assert_clean_exit(app)

    app.launch()  # no password typed: the session comes back from the keyring
    wid = app.window(DASHBOARD)
    app.screenshot(wid, artifacts_dir / "desktop-restored-session.png")
    app.click(wid, app.width(wid) - SIGN_OUT_FROM_RIGHT, SIGN_OUT_Y)
    app.window(SIGN_IN, timeout=10)
    wait_until(
        lambda: fresh_keyring.get_password(SERVICE, ENTRY) is None,
        what="sign-out to remove the session from the keyring",
    )
    assert_clean_exit(app)


@pytest.mark.desktop
def test_without_a_keyring_the_app_works_and_says_so(desktop_app: Any, artifacts_dir: Path) -> None:
    app = desktop_app(NO_KEYRING_ENV)
    app.launch()
    wid = app.window(SIGN_IN)
    assert app.screenshot(wid, artifacts_dir / "desktop-no-keyring.png") > 50
    assert "will not remember your sign-in" in app.log_text()
    create_first_account(app, wid)
    app.window(DASHBOARD, timeout=15)
    assert_clean_exit(app)

    app.launch()  # nothing was kept: back to sign-in
    app.window(SIGN_IN)
    assert_clean_exit(app)
    kept = {p.name for p in app.data_dir.iterdir()}
    # The migration lock file (backend.core.db.migration_lock) is empty: it holds nothing.
    allowed = {"aegis.db", "aegis.db-wal", "aegis.db-shm", "aegis.db.migrate-lock", "logs"}
    assert kept <= allowed, kept
    lock = app.data_dir / "aegis.db.migrate-lock"
    assert not lock.exists() or lock.stat().st_size == 0


@pytest.mark.desktop
def test_sigint_while_the_window_starts_leaves_nothing_behind(desktop_app: Any) -> None:
    app = desktop_app(NO_KEYRING_ENV)
    app.launch()
    wait_until(lambda: "backend ready" in app.log_text(), 30, what="the backend to be ready")
    assert app.terminate(signal.SIGINT) == 0, app.tail()
    assert not app.leftovers()


@pytest.mark.desktop
def test_a_backend_that_cannot_start_is_explained_in_a_window(
    desktop_app: Any, tmp_path: Path, artifacts_dir: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the database directory should be")
    app = desktop_app({**NO_KEYRING_ENV, "AEGIS_DATABASE_URL": f"sqlite:///{blocker}/aegis.db"})
    app.launch()
    wid = app.window("Aegis could not start", timeout=30)
    assert app.screenshot(wid, artifacts_dir / "desktop-start-error.png") > 50
    assert "backend could not start: FileExistsError" in app.log_text()
    assert app.terminate() == 1, "closing the message still reports the failure"
    assert not app.leftovers()
