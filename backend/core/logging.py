"""Logs go to the console and to a rotating file in the log directory."""

from __future__ import annotations

import logging
import logging.handlers
import re

from backend.core.config import API_PREFIX, Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# A hand-off code is a bearer credential for 30 s; uvicorn's access log prints the path.
HANDOFF_CODE_IN_PATH = re.compile(rf"({re.escape(API_PREFIX)}/auth/handoff/)[^/?#\s\"']+")
REDACTED = "<redacted>"


def redact_handoff_codes(text: str) -> str:
    return HANDOFF_CODE_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactHandoffCodes(logging.Filter):
    """Replaces hand-off codes in a record's message and arguments (the access log
    passes the path as an argument) before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_handoff_codes(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_handoff_codes(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def install_log_redaction() -> None:
    """Idempotent: one filter on uvicorn's access logger (a logger's filters see only
    the records logged on it, which is where the access log's records start)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactHandoffCodes) for f in access.filters):
        access.addFilter(RedactHandoffCodes())


def configure_logging(settings: Settings, name: str, *, console: bool = True) -> None:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(
            settings.log_dir / f"aegis-{name}.log", maxBytes=2_000_000, backupCount=3
        )
    ]
    if console:
        handlers.append(logging.StreamHandler())
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, handlers=handlers, force=True)
    install_log_redaction()
