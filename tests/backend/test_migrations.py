"""The Alembic migrations: idempotent upgrade, clean downgrade, schema matches models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from backend.core.db import alembic_config, make_engine, migrate
from backend.models import Base


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'aegis.db'}")
    yield engine
    engine.dispose()


def head(engine: Engine) -> str:
    heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    assert len(heads) == 1, f"migrations branch: {heads}"
    return heads[0]


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_migrate_is_idempotent(engine: Engine) -> None:
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"users", "sessions", "alembic_version"} <= tables
    assert set(Base.metadata.tables) <= tables
    assert revision(engine) == head(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, full_name, password_hash, role, is_active, created_at)"
                " VALUES ('a@example.com', 'A', 'h', 'admin', 1, '2024-01-01 00:00:00')"
            )
        )
    migrate(engine)  # a second start must neither fail nor lose data
    assert revision(engine) == head(engine)
    assert set(inspect(engine).get_table_names()) == tables
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 1


def test_schema_matches_the_models(engine: Engine) -> None:
    migrate(engine)
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == set(table.columns.keys()), table.name
    unique = {tuple(i["column_names"]) for i in inspector.get_indexes("users") if i["unique"]}
    assert ("email",) in unique
    foreign_keys = inspector.get_foreign_keys("sessions")
    assert foreign_keys[0]["referred_table"] == "users"
    assert foreign_keys[0]["options"].get("ondelete") == "CASCADE"


def test_deleting_a_user_deletes_their_sessions(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, full_name, password_hash, role, is_active,"
                " created_at) VALUES (1, 'a@example.com', 'A', 'h', 'admin', 1,"
                " '2024-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at,"
                " expires_at, ip, user_agent) VALUES ('s1', 1, 'x', '2024-01-01 00:00:00',"
                " '2024-01-01 00:00:00', '2024-02-01 00:00:00', '', '')"
            )
        )
        connection.execute(text("DELETE FROM users"))
        assert connection.execute(text("SELECT count(*) FROM sessions")).scalar() == 0


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    migrate(engine)
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert revision(engine) is None
    migrate(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    assert revision(engine) == head(engine)


def test_every_step_downgrades_and_upgrades(engine: Engine) -> None:
    config = alembic_config(engine)
    steps = list(ScriptDirectory.from_config(config).walk_revisions())
    assert steps, "no migrations found"
    migrate(engine)
    for _ in steps:
        before = revision(engine)
        command.downgrade(config, "-1")
        command.upgrade(config, "+1")
        assert revision(engine) == before
        command.downgrade(config, "-1")
    assert revision(engine) is None


def test_env_refuses_to_run_without_an_engine(engine: Engine) -> None:
    config = alembic_config(engine)
    del config.attributes["engine"]
    with pytest.raises(RuntimeError, match=r"backend\.core\.db\.migrate"):
        command.upgrade(config, "head")
