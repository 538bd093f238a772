"""Request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from backend.api.bounds import PersonName

PASSWORD_MAX_LENGTH = 256  # argon2 of a megabyte-long password would be a cheap DoS


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(max_length=PASSWORD_MAX_LENGTH)
    full_name: PersonName


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: str
    is_active: bool
    created_at: datetime


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    device: str
    """The client in words, e.g. "Chrome on Linux" or "Script (python-httpx)"; "Aegis
    desktop" only for a sign-in through the desktop app's own backend."""
    current: bool


class RegistrationStatus(BaseModel):
    open: bool
    first_account: bool
    min_password_length: int


class HandoffOut(BaseModel):
    code: str
    expires_in: int


class Message(BaseModel):
    detail: str


class Ended(BaseModel):
    ended: int
    """How many sessions were ended."""


RoleName = Literal["admin", "viewer"]


def _strip_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    full_name: PersonName
    role: RoleName = "viewer"
    password: str | None = Field(default=None, max_length=PASSWORD_MAX_LENGTH)
    """Left out: a temporary password is generated and shown once."""

    _name = field_validator("full_name")(_strip_name)


class UserCreated(BaseModel):
    user: UserOut
    temporary_password: str | None
    """Only when the server generated the password; it is never shown again."""


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName | None = None
    is_active: bool | None = None
    full_name: PersonName | None = None

    _name = field_validator("full_name")(_strip_name)


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    offset: int
    limit: int


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: PersonName

    _name = field_validator("full_name")(_strip_name)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(max_length=PASSWORD_MAX_LENGTH)


class PasswordChanged(BaseModel):
    detail: str
    ended_sessions: int


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    actor_id: int | None
    actor_email: str
    target: str
    ip: str
    detail: str
    count: int
    """How many times it happened; > 1 for aggregated rows (refused sign-ins in one
    throttle window)."""


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    total: int
    offset: int
    limit: int


class MetricSampleOut(BaseModel):
    """A sample, or with ``points`` the samples of one time bucket summed up."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    """When the sample was taken; for a bucket, its newest sample."""
    cpu_percent: float
    """For a bucket, the average."""
    memory_percent: float
    """For a bucket, the average."""
    api_latency_ms: float | None
    """For a bucket, the slowest; None when the API did not answer the probe."""
    db_latency_ms: float | None
    """For a bucket, the slowest."""
    samples: int = 1
    """How many samples this point stands for."""
    instance: str | None = None
    """The instance that took it."""


class InstanceReport(BaseModel):
    instance: str
    host: str | None
    """The host name in the instance id, when it has one."""
    last_sample_at: datetime
    samples: int
    """Samples it took in the window."""


class MetricsOut(BaseModel):
    interval_seconds: int
    retention_hours: int
    bucket_seconds: float | None = None
    """The length of each point's time bucket (with ``points``), aligned to the epoch."""
    samples: list[MetricSampleOut]
    instance: str | None = None
    """Whose figures these are: every sample here was taken by this instance, of its
    own host, so one series never mixes two hosts."""
    host: str | None = None
    """The host name in ``instance``."""
    answered_by: str | None = None
    """The instance that answered this request."""
    instances: list[str] = []
    """Every instance that took a sample in the window, by name."""
    reporting: list[InstanceReport] = []
    """The same instances, with their host, newest sample and sample count."""
