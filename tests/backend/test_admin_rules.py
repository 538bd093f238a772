"""The admin rules decided under the rule lock, on rows read after it.

Each test holds ORM objects loaded before another transaction changed the rows (what a
request racing another one holds), then asks for a change; the decision must follow
the database, not the stale objects. The live, parallel version is test_concurrency.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.security import hash_password
from backend.models import Role, User
from backend.services import users
from backend.services.users import Actor
from tests.backend.api_helpers import Api

PASSWORD_HASH = hash_password("correct horse battery")


def add_admins(api: Api, *emails: str) -> None:
    with api.db() as db:
        for email in emails:
            db.add(User(email=email, full_name=email, password_hash=PASSWORD_HASH, role="admin"))
        db.commit()


def load(db: Session, email: str) -> User:
    user = db.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def demote_elsewhere(api: Api, email: str) -> None:
    with api.db() as other:
        load(other, email).role = Role.VIEWER.value
        other.commit()


async def test_demoting_the_admin_left_after_a_concurrent_demotion_is_refused(api: Api) -> None:
    add_admins(api, "a@example.com", "b@example.com")
    with api.db() as db:
        _stale_a, b = load(db, "a@example.com"), load(db, "b@example.com")  # both admins
        demote_elsewhere(api, "a@example.com")  # a third party demotes A meanwhile...
        with pytest.raises(users.LastAdminError):  # ...so B may no longer demote itself
            users.update_user(db, Actor(b, "127.0.0.1"), b, role=Role.VIEWER.value)
        db.rollback()
    with api.db() as db:
        assert load(db, "b@example.com").role == Role.ADMIN.value


async def test_an_admin_demoted_meanwhile_can_no_longer_act(api: Api) -> None:
    add_admins(api, "a@example.com", "b@example.com", "c@example.com")
    with api.db() as db:
        a, b = load(db, "a@example.com"), load(db, "b@example.com")
        demote_elsewhere(api, "b@example.com")
        with pytest.raises(users.NoLongerAdminError):
            users.update_user(db, Actor(b, "127.0.0.1"), a, is_active=False)
        db.rollback()
    with api.db() as db:
        assert load(db, "a@example.com").is_active


async def test_sign_up_decides_first_under_the_lock(api: Api) -> None:
    with api.db() as db:
        first = users.register_account(
            db,
            email="a@example.com",
            full_name="A",
            password_hash=PASSWORD_HASH,
            open_registration=False,
        )
        db.commit()
        assert first.role == Role.ADMIN.value
        with pytest.raises(users.RegistrationClosedError):
            users.register_account(
                db,
                email="b@example.com",
                full_name="B",
                password_hash=PASSWORD_HASH,
                open_registration=False,
            )
        db.rollback()
        second = users.register_account(
            db,
            email="b@example.com",
            full_name="B",
            password_hash=PASSWORD_HASH,
            open_registration=True,
        )
        assert second.role == Role.VIEWER.value
        with pytest.raises(users.EmailTakenError):
            users.register_account(
                db,
                email="A@example.com",
                full_name="A again",
                password_hash=PASSWORD_HASH,
                open_registration=True,
            )
