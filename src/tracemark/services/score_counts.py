"""How many scores each (project, name, source, data type, config, environment) has.

The v2 score list answers `meta.totalItems`; counting millions of rows for it costs hundreds
of milliseconds. `score_counts` keeps those numbers instead, exact: services.scores adjusts
them in the same transaction as every insert, update and delete of scores (one statement per
batch), and a project's counts go with it by cascade. Totals of filters made only of these
keys are read from it (score_queries.counted_total); other filters still count rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import Table, delete, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tracemark.db.models import Score, ScoreCount

CountKey = tuple[str, str, str, str, str]  # name, source, data_type, config_key, environment
_COUNTS: Table = ScoreCount.__table__  # type: ignore[assignment]
_KEY_COLUMNS = ("name", "source", "data_type", "config_key", "environment")


def key_of(row: Mapping[str, Any]) -> CountKey:
    """The count a score (a row of the write path, attribute names) belongs to."""
    return (
        row["name"],
        row["source"],
        row["data_type"],
        row["config_id"] or "",
        row["environment"],
    )


def apply(session: Session, project_id: str, deltas: Counter[CountKey]) -> None:
    """Add these changes to the counts, in one statement.

    Keys go in sorted order, so that concurrent writers on PostgreSQL that share a shard lock
    count rows in the same order (no deadlock between two batches).
    """
    connection = session.connection()  # Core: the statement names no ORM entity
    shard = _shard(connection)
    changes = [
        {
            "project_id": project_id,
            **dict(zip(_KEY_COLUMNS, key, strict=True)),
            "shard": shard,
            "n": n,
        }
        for key, n in sorted(deltas.items())
        if n
    ]
    if changes:
        connection.execute(_upsert(connection.dialect.name), changes)


SHARDS = 16


def _shard(connection: Any) -> int:
    """PostgreSQL: this database connection's shard of every count. A writer keeps its count
    rows locked until it commits; with one row per count, every concurrent writer of the same
    score names queued behind it. Each backend process adds to its own row (readers sum).
    SQLite serializes writers anyway: one shard."""
    if connection.dialect.name != "postgresql":
        return 0
    driver = connection.connection.driver_connection
    return int(driver.info.backend_pid) % SHARDS


@cache
def _upsert(dialect: str) -> Any:
    """Built once per dialect: building it (its `excluded` columns) cost more than running it."""
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_COUNTS)
    return upsert.on_conflict_do_update(
        index_elements=["project_id", *_KEY_COLUMNS, "shard"],
        set_={"n": _COUNTS.c.n + upsert.excluded.n},
    )


def rebuild(session: Session, project_id: str) -> None:
    """Count a project's scores again from the scores table (after a bulk load, or a repair)."""
    session.execute(delete(_COUNTS).where(_COUNTS.c.project_id == project_id))
    config_key = func.coalesce(Score.config_id, literal(""))
    keys = (Score.name, Score.source, Score.data_type, config_key, Score.environment)
    session.execute(
        insert(_COUNTS).from_select(
            ["project_id", *_KEY_COLUMNS, "n"],
            select(Score.project_id, *keys, func.count())
            .where(Score.project_id == project_id)
            .group_by(Score.project_id, *keys),
        )
    )
