"""Schema migrations: upgrade, downgrade, current revision and drift check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Alembic's own bookkeeping table is not part of the models.
    if type_ == "table" and name == "alembic_version":
        return False
    # Indexes created on SQLite only (Index.ddl_if) cannot be compared: Alembic ignores ddl_if
    # and SQLite cannot reflect their expressions. Their migration creates them.
    return not (type_ == "index" and getattr(obj, "info", {}).get("sqlite_only"))


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def _run(engine: Engine, action: str, revision: str) -> None:
    cfg = _config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    _run(engine, "downgrade", revision)


def head_revision() -> str:
    script = ScriptDirectory.from_config(_config_without_engine())
    head = script.get_current_head()
    assert head is not None
    return head


def _config_without_engine() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def drift(engine: Engine) -> list[Any]:
    """Differences between the models and the migrated database (empty when in sync)."""
    from tracemark.db import models  # noqa: F401
    from tracemark.db.base import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_object": include_object},
        )
        return list(compare_metadata(context, Base.metadata))
