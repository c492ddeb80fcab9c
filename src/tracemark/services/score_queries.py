"""Finding scores: the filters of Langfuse's v2/v3 score lists, pages, cursors, export."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Row,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from tracemark.db.models import (
    Score,
    ScoreCount,
    ScoreDataType,
    ScoreSource,
    Trace,
    TraceTag,
    User,
)
from tracemark.services.errors import Invalid
from tracemark.services.paging import count_rows, decode_cursor, encode_cursor

_OPERATORS = {
    "<": "__lt__",
    ">": "__gt__",
    "<=": "__le__",
    ">=": "__ge__",
    "=": "__eq__",
    "!=": "__ne__",
}


@dataclass
class ScoreFilter:
    name: str | None = None
    names: list[str] = field(default_factory=list)
    source: str | None = None
    data_type: str | None = None
    config_id: str | None = None
    queue_id: str | None = None
    author_user_id: str | None = None
    trace_id: str | None = None
    observation_id: str | None = None
    session_id: str | None = None
    score_ids: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    from_timestamp: datetime | None = None
    to_timestamp: datetime | None = None
    user_id: str | None = None  # the trace's user
    trace_tags: list[str] = field(default_factory=list)
    operator: str | None = None
    value: float | None = None
    string_value: str | None = None
    min_value: float | None = None  # value >= min_value (the web scores page's range)
    max_value: float | None = None  # value <= max_value


def check(flt: ScoreFilter) -> None:
    if flt.source is not None and flt.source not in ScoreSource.__members__:
        raise Invalid(f"source: must be one of {', '.join(ScoreSource)}")
    if flt.data_type is not None and flt.data_type not in ScoreDataType.__members__:
        raise Invalid(f"dataType: must be one of {', '.join(ScoreDataType)}")
    if (flt.operator is None) != (flt.value is None):
        raise Invalid("operator and value: give both, e.g. operator=>=&value=0.5")
    if flt.operator is not None and flt.operator not in _OPERATORS:
        raise Invalid(f"operator: must be one of {' '.join(_OPERATORS)}")


def score_query(project_id: str, flt: ScoreFilter) -> Select[Score]:
    check(flt)
    stmt = select(Score).where(Score.project_id == project_id)
    if flt.name is not None:
        stmt = stmt.where(Score.name == flt.name)
    if flt.names:
        stmt = stmt.where(Score.name.in_(flt.names))
    if flt.source is not None:
        stmt = stmt.where(Score.source == flt.source)
    if flt.data_type is not None:
        stmt = stmt.where(Score.data_type == flt.data_type)
    if flt.config_id is not None:
        stmt = stmt.where(Score.config_id == flt.config_id)
    if flt.queue_id is not None:
        stmt = stmt.where(Score.queue_id == flt.queue_id)
    if flt.author_user_id is not None:
        stmt = stmt.where(Score.author_user_id == flt.author_user_id)
    if flt.trace_id is not None:
        stmt = stmt.where(Score.trace_id == flt.trace_id)
    if flt.observation_id is not None:
        stmt = stmt.where(Score.observation_id == flt.observation_id)
    if flt.session_id is not None:
        stmt = stmt.where(Score.session_id == flt.session_id)
    if flt.score_ids:
        stmt = stmt.where(Score.id.in_(flt.score_ids))
    if flt.environments:
        stmt = stmt.where(Score.environment.in_(flt.environments))
    if flt.from_timestamp is not None:
        stmt = stmt.where(Score.timestamp >= flt.from_timestamp)
    if flt.to_timestamp is not None:
        stmt = stmt.where(Score.timestamp < flt.to_timestamp)
    if flt.operator is not None and flt.value is not None:
        stmt = stmt.where(getattr(Score.value, _OPERATORS[flt.operator])(flt.value))
    if flt.string_value is not None:
        stmt = stmt.where(Score.string_value == flt.string_value)
    if flt.min_value is not None:
        stmt = stmt.where(Score.value >= flt.min_value)
    if flt.max_value is not None:
        stmt = stmt.where(Score.value <= flt.max_value)
    if flt.user_id is not None:
        stmt = stmt.where(
            exists().where(
                Trace.project_id == Score.project_id,
                Trace.id == Score.trace_id,
                Trace.user_id == flt.user_id,
            )
        )
    for tag in flt.trace_tags:
        stmt = stmt.where(
            exists().where(
                TraceTag.project_id == Score.project_id,
                TraceTag.trace_id == Score.trace_id,
                TraceTag.tag == tag,
            )
        )
    return stmt


def newest_first(session: Session, flt: ScoreFilter) -> tuple[Any, ...]:
    """ORDER BY timestamp DESC, id DESC, spelled so that each engine plans it well.

    SQLite has no statistics (nothing runs ANALYZE), and then it prefers walking the
    (project_id, timestamp) index in order, filtering as it goes, over searching the index of
    a filter that matches a handful of scores: a traceId with five scores reads the whole
    project. For those filters order by `+timestamp` (the same value, which no index provides),
    so that SQLite searches the filter's index and sorts the few rows it finds.
    """
    narrow = flt.trace_id or flt.observation_id or flt.session_id or flt.score_ids
    if narrow and session.get_bind().dialect.name == "sqlite":
        unindexed: UnaryExpression[datetime] = UnaryExpression(
            Score.timestamp.expression, operator=custom_op("+")
        )
        return unindexed.desc(), Score.id.desc()
    return Score.timestamp.desc(), Score.id.desc()


def list_page(
    session: Session, project_id: str, flt: ScoreFilter, *, page: int, limit: int
) -> tuple[list[Score], int]:
    if page < 1 or not 1 <= limit <= 100:
        raise Invalid("page must be >= 1 and limit between 1 and 100")
    base = score_query(project_id, flt)
    rows = list(
        session.scalars(
            base.order_by(*newest_first(session, flt)).limit(limit).offset((page - 1) * limit)
        )
    )
    if page == 1 and len(rows) < limit:
        total = len(rows)
    else:
        counted = counted_total(session, project_id, flt)
        total = counted if counted is not None else count_rows(session, base)
    return rows, total


# The filters that score_counts can answer: each a column of its key.
_COUNTED = {"name", "names", "source", "data_type", "config_id", "environments"}


def counted_total(session: Session, project_id: str, flt: ScoreFilter) -> int | None:
    """The number of matching scores from score_counts, or None when the filter needs more.

    score_counts is kept exact by triggers in the transaction of every score write (see
    db.models.scoring), so this is the same number as a COUNT over the scores, read from a
    few rows instead of millions.
    """
    used = {k for k, v in vars(flt).items() if v not in (None, [])}
    if not used <= _COUNTED:
        return None
    stmt = select(func.coalesce(func.sum(ScoreCount.n), 0)).where(
        ScoreCount.project_id == project_id
    )
    if flt.name is not None:
        stmt = stmt.where(ScoreCount.name == flt.name)
    if flt.names:
        stmt = stmt.where(ScoreCount.name.in_(flt.names))
    if flt.source is not None:
        stmt = stmt.where(ScoreCount.source == flt.source)
    if flt.data_type is not None:
        stmt = stmt.where(ScoreCount.data_type == flt.data_type)
    if flt.config_id is not None:
        stmt = stmt.where(ScoreCount.config_key == flt.config_id)
    if flt.environments:
        stmt = stmt.where(ScoreCount.environment.in_(flt.environments))
    return int(session.scalar(stmt) or 0)


def list_cursor(
    session: Session, project_id: str, flt: ScoreFilter, *, cursor: str | None, limit: int
) -> tuple[list[Score], str | None]:
    if not 1 <= limit <= 100:
        raise Invalid("limit must be between 1 and 100")
    stmt = score_query(project_id, flt)
    if cursor:
        stamp, score_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(Score.timestamp < stamp, and_(Score.timestamp == stamp, Score.id < score_id))
        )
    rows = list(session.scalars(stmt.order_by(*newest_first(session, flt)).limit(limit + 1)))
    next_cursor = (
        encode_cursor(rows[limit - 1].timestamp, rows[limit - 1].id) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


@dataclass(frozen=True)
class ExportRow:
    score: Score
    author_email: str | None
    config_name: str | None
    trace_name: str | None
    user_id: str | None
    trace_tags: list[str] | None


EXPORT_COLUMNS = (
    "id",
    "timestamp",
    "name",
    "dataType",
    "value",
    "stringValue",
    "source",
    "comment",
    "metadata",
    "authorUserId",
    "authorEmail",
    "configId",
    "configName",
    "queueId",
    "traceId",
    "observationId",
    "sessionId",
    "traceName",
    "userId",
    "traceTags",
    "environment",
)
EXPORT_PARTITION = 2000
EXPORT_SQLITE_CACHE = -8192  # KiB, for the export's SQLite connection


def _csv_timestamp(column: Any, dialect: str) -> Any:
    """Langfuse's timestamp text (UTC, milliseconds, Z), made by the database.

    Both spellings truncate to milliseconds, as api.schemas.tracing.iso does. SQLite stores
    naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (26 characters); other text goes through
    strftime.
    """
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    stored = type_coerce(column, String)
    return case(
        (
            func.length(stored) == 26,
            func.substr(stored, 1, 10).concat("T").concat(func.substr(stored, 12, 12)).concat("Z"),
        ),
        else_=func.strftime("%Y-%m-%dT%H:%M:%fZ", stored),
    )


def export_query(
    project_id: str, flt: ScoreFilter, *, csv_dialect: str | None = None
) -> Select[Any]:
    """The export's columns, in the order of EXPORT_COLUMNS, oldest first.

    With `csv_dialect` (the engine's dialect name) every cell comes back as the CSV prints it:
    the timestamp as Langfuse's text, metadata and traceTags as their stored JSON text ('{}'
    for no metadata), so the rows go to csv.writer as they are. Otherwise timestamps come back
    as datetimes (naive UTC on SQLite; readers convert with as_utc) and JSON parsed.
    """
    from tracemark.db.models import ScoreConfig

    base = score_query(project_id, flt).subquery()
    c = base.c
    if csv_dialect is None:
        timestamp: Any = type_coerce(c.timestamp, DateTime(timezone=True))
        metadata: Any = c["metadata"]
        tags: Any = Trace.tags
    else:
        timestamp = _csv_timestamp(c.timestamp, csv_dialect)
        metadata = func.coalesce(func.nullif(cast(c["metadata"], Text), "null"), "{}")
        tags = cast(Trace.tags, Text)
    stmt = (
        select(
            c.id,
            timestamp,
            c.name,
            c.data_type,
            c.value,
            c.string_value,
            c.source,
            c.comment,
            metadata,
            c.author_user_id,
            User.email,
            c.config_id,
            ScoreConfig.name,
            c.queue_id,
            c.trace_id,
            c.observation_id,
            c.session_id,
            Trace.name,
            Trace.user_id,
            tags,
            c.environment,
        )
        .select_from(base)
        .outerjoin(User, User.id == c.author_user_id)
        .outerjoin(ScoreConfig, ScoreConfig.id == c.config_id)
        .outerjoin(Trace, and_(Trace.project_id == c.project_id, Trace.id == c.trace_id))
    )
    return stmt.order_by(c.timestamp, c.id)


def export_rows(
    session: Session, project_id: str, flt: ScoreFilter, *, csv: bool = False
) -> Generator[Sequence[Row[Any]], None, None]:
    """Export rows (see export_query) in partitions, from a server-side cursor (constant memory).

    Core rows, not ORM: the ORM's per-row loading would cost more than the query. Close the
    generator before the session ends (contextlib.closing) so that it can clean up.
    """
    connection = session.connection()
    cache_size = None
    if connection.dialect.name == "sqlite":
        # An export reads each page once: the connection's page cache (64 MiB, see db.engine)
        # would only fill up and keep the memory. Stream through a small one, then restore it.
        cache_size = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
        connection.exec_driver_sql(f"PRAGMA cache_size={EXPORT_SQLITE_CACHE}")
    try:
        result = connection.execution_options(
            stream_results=True, yield_per=EXPORT_PARTITION
        ).execute(
            export_query(project_id, flt, csv_dialect=connection.dialect.name if csv else None)
        )
        yield from result.partitions()
    finally:
        if cache_size is not None:
            connection.exec_driver_sql(f"PRAGMA cache_size={cache_size}")
