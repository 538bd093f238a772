"""Alembic environment: the engine is handed in by ``backend.core.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from backend.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through backend.core.db.migrate()")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
