"""What the backend leaves for later so the desktop starts sooner (issue 10).

- Alembic is imported only when the schema is behind head: at every start the
  ``alembic_version`` table is compared with the heads read from the migration files.
  A database at head is opened without Alembic and without the migration lock; one
  behind head, or new, is still migrated under the lock. On SQLite and PostgreSQL.
- argon2 is imported at the first password hash or check, not with the API; the dummy
  hash an unknown email is checked against is a constant with the hasher's parameters.
- psutil is imported at the first sample.

Import checks run in a fresh interpreter: this test process has imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from backend.core import db, security
from backend.core.db import (
    alembic_config,
    at_head,
    make_engine,
    migrate,
    migration_lock,
    read_head_revisions,
)
from tests.aegis_app.launch.desktop_harness import REPO

DEFERRED = ["argon2", "alembic", "alembic.command", "mako", "psutil"]


def fresh_python(code: str, **env: str) -> Any:
    """Runs ``code`` in a new interpreter; its last line of output, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


LOADED = f"[m for m in {DEFERRED!r} if m in sys.modules]"


# --- what the API's import and start leave out ------------------------------------------


def test_the_api_factory_imports_neither_argon2_nor_alembic_nor_psutil(tmp_path: Path) -> None:
    loaded = fresh_python(
        "import json, sys\n"
        "from backend.core.config import Settings\nfrom backend.main import create_api\n"
        f"create_api(Settings(data_dir={str(tmp_path)!r}, allowed_hosts='testserver',"
        " _env_file=None))\n"
        f"before = {LOADED}\n"
        "from backend.core.security import hash_password, verify_password\n"
        "assert verify_password('pw', hash_password('pw'))\n"
        f"signed_in = {LOADED}\n"
        "from backend.services.metrics import read_host\nread_host()\n"
        f"sampled = {LOADED}\n"
        "print(json.dumps([before, signed_in, sampled]))\n"
    )
    before, signed_in, sampled = loaded
    assert before == []
    assert signed_in == ["argon2"], "a sign-in needs argon2, nothing else here"
    assert sampled == ["argon2", "psutil"]


def test_the_desktop_backend_starts_on_a_database_at_head_without_alembic_or_argon2(
    tmp_path: Path,
) -> None:
    """The whole embedded backend, as the desktop starts it on its second launch."""
    data_dir = tmp_path / "data"
    code = (
        "import json, sys\n"
        "from aegis_app.launch.embedded_backend import EmbeddedBackend\n"
        "from backend.core.config import Settings\n"
        "backend = EmbeddedBackend(Settings(_env_file=None))\nbackend.start()\n"
        "loaded = [m for m in ('alembic', 'alembic.command', 'argon2') if m in sys.modules]\n"
        "backend.stop()\nprint(json.dumps(loaded))\n"
    )
    first = fresh_python(code, AEGIS_DATA_DIR=str(data_dir))
    assert first == ["alembic", "alembic.command"], "a new database is migrated"
    assert fresh_python(code, AEGIS_DATA_DIR=str(data_dir)) == []


# --- Alembic only when the schema is behind head, on both engines ------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database on each engine (PostgreSQL: the session's cluster)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aegis.db'}"
    url: str = request.getfixturevalue("postgres").create_database()
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def head() -> str:
    engine = make_engine("sqlite://")
    try:
        heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    finally:
        engine.dispose()
    assert len(heads) == 1, heads
    return str(heads[0])


def versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return [version for (version,) in rows]


def test_the_heads_read_from_the_files_are_alembics() -> None:
    assert read_head_revisions() == frozenset([head()])


def test_a_database_at_head_is_opened_without_alembic(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert not at_head(engine), "a new database has no version yet"
        migrate(engine)
        assert at_head(engine)
    finally:
        engine.dispose()
    loaded = fresh_python(
        "import json, sys\nfrom backend.core.db import make_engine, migrate\n"
        f"engine = make_engine({database_url!r})\nmigrate(engine)\nengine.dispose()\n"
        f"print(json.dumps({LOADED}))\n"
    )
    assert loaded == []


def test_a_database_behind_head_is_still_migrated(engine: Engine) -> None:
    migrate(engine)
    command.downgrade(alembic_config(engine), "-1")
    behind = versions(engine)
    assert behind != [head()]
    assert not at_head(engine)
    migrate(engine)
    assert versions(engine) == [head()]
    assert at_head(engine)


def test_a_version_table_with_another_revision_is_left_to_alembic(engine: Engine) -> None:
    """An unknown revision (a newer Aegis migrated this database) fails as it did."""
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    assert not at_head(engine)
    with pytest.raises(Exception, match="ffff"):
        migrate(engine)


def _migrate_in_thread(url: str) -> tuple[threading.Thread, list[float]]:
    finished: list[float] = []

    def work() -> None:
        engine = make_engine(url)
        try:
            migrate(engine)
            finished.append(time.monotonic())
        finally:
            engine.dispose()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, finished


def test_at_head_postgresql_does_not_wait_for_the_migration_lock(postgres: Any) -> None:
    """On SQLite the check is made under the (file) lock: see ``migrate``."""
    database_url = postgres.create_database()
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with migration_lock(engine):  # as another instance would hold it while migrating
            thread, finished = _migrate_in_thread(database_url)
            thread.join(60)
            assert finished, "a start at head waited for another instance's migration lock"
    finally:
        engine.dispose()


def test_behind_head_the_migration_still_waits_for_the_lock(
    database_url: str, engine: Engine
) -> None:
    with migration_lock(engine):
        thread, finished = _migrate_in_thread(database_url)
        thread.join(0.5)  # it should be waiting for us; it must not have migrated
        assert not finished, "a new database was migrated while another held the lock"
        released = time.monotonic()
    thread.join(60)
    assert finished and finished[0] >= released
    assert versions(engine) == [head()]


# --- reading the heads from the migration files ------------------------------------------


def write_revisions(folder: Path, *revisions: tuple[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, (revision, down) in enumerate(revisions):
        (folder / f"{number:04}_step.py").write_text(
            f'"""A step."""\n\nrevision = {revision}\ndown_revision = {down}\n'
            "branch_labels = None\n\n\ndef upgrade() -> None:\n    pass\n"
        )
    return folder


@pytest.mark.parametrize(
    ("revisions", "heads"),
    [
        ([("'a'", "None"), ("'b'", "'a'")], {"b"}),
        ([("'a'", "None"), ("'b'", "'a'"), ("'c'", "'a'")], {"b", "c"}),  # a branch
        ([("'a'", "None"), ("'b'", "'a'"), ("'c'", "'a'"), ("'m'", "('b', 'c')")], {"m"}),
        ([("'a'", "None"), ("'b'", "some_name")], None),  # not a literal: Alembic decides
        ([("'a'", "None"), ("['a', 'b']", "'a'")], None),
        ([], None),  # no migrations found (a broken install): Alembic decides
    ],
)
def test_heads_are_read_from_literal_revision_lines_only(
    tmp_path: Path, revisions: list[tuple[str, str]], heads: set[str] | None
) -> None:
    found = read_head_revisions(write_revisions(tmp_path / "versions", *revisions))
    assert found == (frozenset(heads) if heads is not None else None)


def test_unreadable_heads_leave_it_to_alembic(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    migrate(engine)
    monkeypatch.setattr(db, "_heads", None)
    monkeypatch.setattr(db, "read_head_revisions", lambda: None)
    assert not at_head(engine)
    migrate(engine)  # through Alembic, which finds it at head
    assert versions(engine) == [head()]


# --- argon2 at the first hash or check --------------------------------------------------


def test_the_dummy_hash_has_the_hashers_parameters() -> None:
    """An unknown email costs what a known one does: the same argon2 parameters."""
    hasher = security.password_hasher()
    assert security.DUMMY_HASH.startswith("$argon2id$")
    assert not hasher.check_needs_rehash(security.DUMMY_HASH)
    assert not hasher.check_needs_rehash(security.hash_password("x"))


def test_an_unknown_email_is_still_checked_against_the_dummy_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hasher_type = type(security.password_hasher())
    checked: list[str] = []
    verify: Callable[[Any, str, str], bool] = hasher_type.verify

    def spy(self: Any, password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return verify(self, password_hash, password)

    monkeypatch.setattr(hasher_type, "verify", spy)
    assert not security.verify_password("anything", None)
    assert checked == [security.DUMMY_HASH]


def test_threads_asking_together_get_one_hasher() -> None:
    loaded = fresh_python(
        "import json, sys, threading\nfrom backend.core import security\n"
        "before = 'argon2' in sys.modules\n"
        "barrier, got = threading.Barrier(8), []\n"
        "def ask():\n    barrier.wait(30)\n    got.append(id(security.password_hasher()))\n"
        "threads = [threading.Thread(target=ask) for _ in range(8)]\n"
        "[t.start() for t in threads]\n[t.join(60) for t in threads]\n"
        "print(json.dumps([before, len(got), len(set(got))]))\n"
    )
    assert loaded == [False, 8, 1]
