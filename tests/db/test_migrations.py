from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from tracemark.db import migrate
from tracemark.db.base import Base
from tracemark.db.engine import Database


@pytest.fixture
def empty_url(engine_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'walk.db'}"
    url: str = request.getfixturevalue("postgres_url")
    # Start from nothing: drop the session's schema, restore it afterwards.
    db = Database(url)
    migrate.downgrade(db.engine, "base")
    db.dispose()
    request.addfinalizer(lambda: _restore(url))
    return url


def _restore(url: str) -> None:
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()


def test_walk_base_head_base(empty_url: str) -> None:
    db = Database(empty_url)
    migrate.upgrade(db.write_engine)
    assert migrate.is_current(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    migrate.downgrade(db.write_engine, "base")
    assert migrate.current_revision(db.engine) is None
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db.write_engine)
    assert migrate.is_current(db.engine)
    db.dispose()


def test_models_and_migrations_do_not_drift(db: Database) -> None:
    assert migrate.drift(db.engine) == []


def test_drift_is_detected(db: Database) -> None:
    with db.write() as session:
        session.execute(text("ALTER TABLE projects ADD COLUMN stray INTEGER"))
    differences = migrate.drift(db.engine)
    assert any("stray" in str(d) for d in differences)


def test_sqlite_pragmas(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    with db.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    db.dispose()


def test_unreachable_engine_reports(tmp_path: Path) -> None:
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(Exception, match="127.0.0.1"):
        migrate.current_revision(engine)
