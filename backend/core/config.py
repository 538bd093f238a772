"""Settings, read from the environment (prefix ``AEGIS_``).

A ``.env`` file is read only by ``aegis serve`` (:func:`server_settings`): from the
working directory, or from the file ``AEGIS_ENV_FILE`` names. ``Settings()`` itself reads
none, so the desktop app cannot be reconfigured by a ``.env`` in whatever folder it was
started from.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from platformdirs import PlatformDirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.core.hosts import HostAllowlist

APP_NAME = "Aegis"
SESSION_COOKIE = "aegis_session"
API_PREFIX = "/api/v1"
ENV_FILE_VARIABLE = "AEGIS_ENV_FILE"
REQUEST_DEADLINE_MARGIN_SECONDS = 2.0


def platform_dirs() -> PlatformDirs:
    return PlatformDirs(APP_NAME, appauthor=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AEGIS_", env_file=None, extra="ignore")

    data_dir: Path | None = None
    """Overrides the platform data directory; logs then go to ``<data_dir>/logs``."""
    database_url: str | None = None
    """Defaults to SQLite in the data directory."""

    allowed_hosts: str | None = None
    """Comma-separated ``host`` or ``host:port`` names ``aegis serve`` answers to; by
    default the address it is bound to (see :mod:`backend.core.hosts`)."""

    allow_registration: bool = False
    """Sign-up is always open while no account exists; after that only when this is true."""

    session_idle_minutes: int = Field(default=60 * 24 * 7, ge=1)
    session_lifetime_days: int = Field(default=30, ge=1)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    """``auto`` marks the cookie Secure exactly when the request came over https."""

    min_password_length: int = Field(default=10, ge=8)
    login_failures_allowed: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    database_timeout_seconds: float = Field(default=5.0, ge=1, le=300)
    """How long one wait on the database may take: connecting, one statement (PostgreSQL
    ``statement_timeout``), a free pooled connection, SQLite's busy timeout. An API
    request with no answer after this plus ``REQUEST_DEADLINE_MARGIN_SECONDS`` gets 503
    (:mod:`backend.core.deadline`)."""

    metrics_interval_seconds: int = Field(default=5, ge=1, le=3600)
    """How often the scheduler samples CPU, memory and API/database latency."""
    live_period_seconds: float | None = Field(default=None, ge=0.01, le=3600)
    """How often the live feed (``/system/live``) pushes a new reading to every open
    dashboard; by default the metrics interval, when there is a new sample to show."""
    metrics_retention_hours: int = Field(default=24, ge=1, le=24 * 90)
    """Samples older than this are deleted after each sampling run."""
    audit_retention_days: int = Field(default=365, ge=1, le=365 * 100)
    """Audit events older than this are deleted by the scheduler (hourly)."""

    flet_session_timeout_seconds: int = Field(default=300, ge=10)
    """How long a disconnected Flet session is kept for a reconnect before it is evicted."""
    anonymous_sessions_per_ip: int = Field(default=50, ge=1)
    """Signed-out Flet sessions one client address may hold (``aegis serve``)."""

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir else Path(platform_dirs().user_data_dir)

    @cached_property
    def log_dir(self) -> Path:
        if self.data_dir:
            return self.data_dir / "logs"
        return Path(platform_dirs().user_log_dir)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'aegis.db'}"

    @property
    def resolved_live_period_seconds(self) -> float:
        return self.live_period_seconds or float(self.metrics_interval_seconds)

    @property
    def request_deadline_seconds(self) -> float:
        """After this an API request is answered 503; the margin lets the database's own
        timeouts (which come with better words) answer first."""
        return self.database_timeout_seconds + REQUEST_DEADLINE_MARGIN_SECONDS

    @property
    def session_idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def metrics_retention(self) -> timedelta:
        return timedelta(hours=self.metrics_retention_hours)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(days=self.session_lifetime_days)

    @property
    def audit_retention(self) -> timedelta:
        return timedelta(days=self.audit_retention_days)

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts_are_valid(cls, value: str | None) -> str | None:
        if value is not None:
            HostAllowlist.parse(value)  # raises with the bad entry named
        return value


class ConfigurationError(ValueError):
    """A configuration problem, said in words, that stops ``aegis serve`` from starting."""


def server_env_file() -> Path:
    """``$AEGIS_ENV_FILE`` if set (it must exist), else ``.env`` in the working directory."""
    explicit = os.environ.get(ENV_FILE_VARIABLE)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"{ENV_FILE_VARIABLE}={explicit} is not a readable file.")
        return path
    return Path.cwd() / ".env"


def server_settings() -> Settings:
    """The settings of ``aegis serve``: the environment, then the ``.env`` file
    (:func:`server_env_file`; a missing ``./.env`` is fine). The environment wins."""
    return Settings(_env_file=server_env_file())
