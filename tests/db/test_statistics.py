"""PostgreSQL: a new database gets planner statistics once ingestion has filled it a little."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tracemark.db import migrate, statistics
from tracemark.db.engine import Database
from tracemark.ingest.records import Batch, ObservationUpsert, TraceUpsert
from tracemark.services import accounts, ingest

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def _batch(first: int, traces: int) -> Batch:
    batch = Batch()
    for t in range(first, first + traces):
        batch.traces.append(TraceUpsert(f"t{t}", {"name": "agent", "user_id": f"u{t % 7}"}))
        for o in range(5):
            batch.observations.append(
                ObservationUpsert(
                    f"t{t}-o{o}",
                    f"t{t}",
                    {"name": f"step-{o}", "start_time": T0 + timedelta(seconds=t + o / 10)},
                )
            )
    return batch


def _never_analyzed(db: Database) -> set[str]:
    with db.read() as session:
        rows = session.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(:t) "
                "AND last_analyze IS NULL AND last_autoanalyze IS NULL"
            ),
            {"t": list(statistics.TABLES)},
        )
        return set(rows.scalars())


def test_new_tracing_tables_are_analyzed_after_the_first_thousand_rows(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    if engine_name != "postgres":
        _sqlite_is_left_alone(request)
        return
    url: str = request.getfixturevalue("postgres_url")
    db = Database(url)
    # New tables (no statistics yet), as in a database just created.
    migrate.downgrade(db.engine, "base")
    migrate.upgrade(db.engine)
    try:
        with db.write() as session:
            project_id = accounts.create_project(session, "stats").id
        assert _never_analyzed(db) == set(statistics.TABLES)

        # 150 traces of 5: 750 observations, below the threshold: nothing analyzed yet.
        ingest.store(db, project_id, _batch(0, 150))
        assert _never_analyzed(db) == set(statistics.TABLES)

        # 1,250 observations: the tables are analyzed, once.
        ingest.store(db, project_id, _batch(150, 100))
        assert _never_analyzed(db) == set()
        with db.read() as session:
            n_distinct = session.execute(
                text(
                    "SELECT n_distinct FROM pg_stats "
                    "WHERE tablename = 'observations' AND attname = 'project_id'"
                )
            ).scalar()
        assert n_distinct == 1  # the planner now knows one project holds every row

        # Re-sending changes nothing.
        ingest.store(db, project_id, _batch(150, 100))
        with db.read() as session:
            count = session.execute(text("SELECT count(*) FROM observations")).scalar()
        assert count == 1250
    finally:
        with db.write() as session:
            session.execute(text("DELETE FROM projects"))
        db.dispose()


def _sqlite_is_left_alone(request: pytest.FixtureRequest) -> None:
    """SQLite plans these lookups well without statistics; the ingest runs no ANALYZE there
    (it would hold the database's one write lock for a pass over the tables)."""
    db: Database = request.getfixturevalue("db")
    project_id = request.getfixturevalue("project").project.id
    ingest.store(db, project_id, _batch(0, 300))
    with db.read() as session:
        stat_tables = session.execute(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).scalar()
        count = session.execute(text("SELECT count(*) FROM observations")).scalar()
    assert count == 1500
    assert stat_tables == 0
