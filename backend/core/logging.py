"""Logs go to the console and to a rotating file in the log directory."""

from __future__ import annotations

import logging
import logging.handlers

from backend.core.config import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
