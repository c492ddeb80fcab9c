"""Options and helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url

from tracemark.config import Settings, load_settings
from tracemark.db import migrate
from tracemark.db.engine import Database

F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """An expected failure of a command; printed as one line."""


def database_options(func: F) -> F:
    """--data-dir and --database-url, overriding TRACEMARK_DATA_DIR / TRACEMARK_DATABASE_URL."""
    func = click.option(
        "--database-url",
        default=None,
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
        "(default: SQLite in the data dir).",
    )(func)
    func = click.option(
        "--data-dir",
        default=None,
        type=click.Path(file_okay=False),
        help="Data directory (default ~/.tracemark).",
    )(func)
    return func


def settings_from(data_dir: str | None, database_url: str | None, **extra: Any) -> Settings:
    return load_settings(data_dir=data_dir, database_url=database_url, **extra)


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def connect(settings: Settings) -> Database:
    """The database, or CliError when it cannot be reached."""
    db = Database(settings.resolved_database_url)
    try:
        db.ping()
    except Exception as exc:
        orig = getattr(exc, "orig", None) or exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        raise CliError(f"cannot connect to {safe_url(db.url)}: {first}") from None
    return db


def open_database(settings: Settings, *, migrate_sqlite: bool = True) -> Database:
    """Connect, and bring an SQLite schema up to date; PostgreSQL must already be current."""
    db = connect(settings)
    if db.is_sqlite and migrate_sqlite:
        migrate.upgrade(db.write_engine)
    elif not db.is_sqlite and not migrate.is_current(db.engine):
        current = migrate.current_revision(db.engine)
        state = f"is at revision {current}" if current else "has no Tracemark schema yet"
        raise CliError(
            f"the database {state} but this Tracemark needs {migrate.head_revision()}; "
            "run `tracemark db upgrade` first"
        )
    return db
