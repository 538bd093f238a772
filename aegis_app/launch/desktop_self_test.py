"""``aegis desktop --self-test``: can this machine run the desktop app? No window opened.

Starts the embedded backend, asks its health endpoint through the loopback guard, and
tries the OS keyring with a throw-away entry. Prints one JSON object on stdout. The
exit code is 0 when the backend is healthy: the app works without a keyring (users
then sign in at each launch), so a keyring problem is reported but does not fail it.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import httpx
import keyring
from sqlalchemy.engine import make_url

from aegis_app.launch.embedded_backend import BackendStartError, EmbeddedBackend
from aegis_app.launch.keyring_store import KEYRING_ERRORS, backend_name, unavailable_reason
from backend.core.config import API_PREFIX, Settings
from backend.core.logging import configure_logging

log = logging.getLogger("aegis.desktop.self_test")

SELF_TEST_SERVICE = "Aegis self-test"
KEYRING_NOT_REQUIRED = (
    "A keyring problem does not fail the self-test: without one the app still works, "
    "but users must sign in at every launch."
)


def check_backend(settings: Settings) -> dict[str, Any]:
    backend = EmbeddedBackend(settings)
    try:
        backend.start()
    except BackendStartError as error:
        return {"health": None, "ready_seconds": None, "backend_error": str(error)}
    try:
        response = httpx.get(
            backend.base_url + API_PREFIX + "/health",
            headers=backend.auth_headers,
            timeout=10,
            trust_env=False,
        )
        health: Any = response.json() if response.is_success else None
        problem = None if response.is_success else f"health answered {response.status_code}"
    except (httpx.HTTPError, ValueError) as exc:
        health, problem = None, f"health request failed: {exc}"
    finally:
        backend.stop()
    return {
        "health": health,
        "ready_seconds": round(backend.ready_seconds or 0, 3),
        "backend_error": problem,
    }


def check_keyring() -> dict[str, Any]:
    chosen = keyring.get_keyring()
    kind = type(chosen)
    result: dict[str, Any] = {
        "keyring_backend": f"{backend_name(chosen)} ({kind.__module__}.{kind.__qualname__})",
        "keyring_ok": False,
        "keyring_error": unavailable_reason(chosen),
    }
    if result["keyring_error"]:
        return result
    entry, value = f"probe-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    try:
        chosen.set_password(SELF_TEST_SERVICE, entry, value)
        try:
            read_back = chosen.get_password(SELF_TEST_SERVICE, entry)
        finally:
            chosen.delete_password(SELF_TEST_SERVICE, entry)
        if read_back != value:
            result["keyring_error"] = "the keyring returned a different value than was stored"
        elif chosen.get_password(SELF_TEST_SERVICE, entry) is not None:
            result["keyring_error"] = "the keyring did not delete the test entry"
        else:
            result["keyring_ok"] = True
    except KEYRING_ERRORS as error:
        result["keyring_error"] = f"the keyring refused access ({type(error).__name__}: {error})"
    return result


def self_test() -> int:
    settings = Settings()
    configure_logging(settings, "desktop", console=False)  # stdout carries only the JSON
    report: dict[str, Any] = check_backend(settings)
    healthy = isinstance(report["health"], dict) and report["health"].get("status") == "ok"
    report |= check_keyring()
    report |= {
        "ok": healthy,
        "keyring_required": False,
        "note": KEYRING_NOT_REQUIRED,
        "data_dir": str(settings.resolved_data_dir),
        "log_dir": str(settings.log_dir),
        "database_url": make_url(settings.resolved_database_url).render_as_string(),
    }
    log.info("self-test: %s", "ok" if healthy else "FAILED")
    print(json.dumps({"ok": report.pop("ok"), **report}, sort_keys=False))
    return 0 if healthy else 1
