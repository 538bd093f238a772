"""Resolving a sign-in session's cookie, which every signed-in request does first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from backend.core.config import Settings
from backend.core.db import make_engine, migrate, session_factory
from backend.models import User
from backend.services.sessions import SignInClient, issue_sign_in_session, resolve_sign_in_session


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'aegis.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def signed_in(engine: Engine, settings: Settings, *, active: bool = True) -> str:
    with session_factory(engine)() as db:
        user = User(email="ada@example.com", full_name="Ada", password_hash="-", is_active=active)
        db.add(user)
        db.flush()
        token = issue_sign_in_session(db, settings, user, SignInClient("127.0.0.1", "test")).token
        db.commit()
    return token


def statements_from_now(engine: Engine) -> list[str]:
    seen: list[str] = []

    def executed(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement.split()[0])

    event.listen(engine, "before_cursor_execute", executed)
    return seen


def test_a_fresh_session_and_its_user_come_in_one_statement(engine: Engine) -> None:
    settings = Settings(_env_file=None)
    token = signed_in(engine, settings)
    with session_factory(engine)() as db:
        seen = statements_from_now(engine)
        row = resolve_sign_in_session(db, settings, token)
        assert row is not None
        assert (row.user.email, row.user.is_active) == ("ada@example.com", True)
    assert seen == ["SELECT"]


def test_a_deactivated_users_session_is_ended_on_sight(engine: Engine) -> None:
    settings = Settings(_env_file=None)
    token = signed_in(engine, settings, active=False)
    with session_factory(engine)() as db:
        assert resolve_sign_in_session(db, settings, token) is None
    with session_factory(engine)() as db:
        assert resolve_sign_in_session(db, settings, token) is None
        seen = statements_from_now(engine)
        assert resolve_sign_in_session(db, settings, token) is None
    assert seen == ["SELECT"]  # the row is gone: nothing left to delete
