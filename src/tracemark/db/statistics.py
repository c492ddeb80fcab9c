"""PostgreSQL: planner statistics for the tracing tables of a new database.

The planner picks indexes from the statistics ANALYZE gathers, and autovacuum first analyzes a
table only after it has grown by 50 rows plus 10% and its next pass comes round (every minute
by default). Until then every estimate is a default guess: on a new database filling with
traces, the ingest's primary-key lookups ran as scans of a whole project through another
index (a tie at the guessed costs), and got slower with every export. `bench/ingest.py` with
`--workers 2`: about 8,300 spans/s without statistics, 9,200-9,900 with.

So each server process, once it has written its first thousand observations, analyzes the
tracing tables that have never been analyzed. Later passes are autovacuum's.
"""

from __future__ import annotations

import logging
import threading
import weakref

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tracemark.db.engine import Database

log = logging.getLogger(__name__)

TABLES = ("observations", "traces", "trace_tags", "sessions")
# Rows a process writes before it looks (autovacuum's threshold is 50 rows plus 10%).
ROWS_BEFORE_CHECK = 1000

_NEVER_ANALYZED = text(
    "SELECT relname FROM pg_stat_user_tables "
    "WHERE relname = ANY(:tables) AND last_analyze IS NULL AND last_autoanalyze IS NULL "
    "ORDER BY relname"
)


class _Progress:
    def __init__(self) -> None:
        self.rows = 0
        self.done = False
        self.lock = threading.Lock()


_progress: weakref.WeakKeyDictionary[Database, _Progress] = weakref.WeakKeyDictionary()
_progress_lock = threading.Lock()


def rows_written(db: Database, rows: int) -> None:
    """Count rows written to the tracing tables; analyze the new ones once enough are there."""
    if db.is_sqlite or rows <= 0:
        return
    with _progress_lock:
        progress = _progress.setdefault(db, _Progress())
    if progress.done:
        return
    with progress.lock:
        progress.rows += rows
        if progress.done or progress.rows < ROWS_BEFORE_CHECK:
            return
        progress.done = True
    try:
        analyze_never_analyzed(db)
    except SQLAlchemyError as exc:  # the batch is committed: never fail its request for this
        log.warning("could not analyze the tracing tables: %s", exc)


def analyze_never_analyzed(db: Database) -> list[str]:
    """ANALYZE the tracing tables that have never been analyzed; return their names."""
    with db.engine.connect() as conn:
        names = list(conn.execute(_NEVER_ANALYZED, {"tables": list(TABLES)}).scalars())
        for name in names:
            conn.exec_driver_sql(f'ANALYZE "{name}"')
        conn.commit()
    if names:
        log.info("analyzed new tables for the query planner: %s", ", ".join(names))
    return names
