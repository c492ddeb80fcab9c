"""Reading and deleting traces, observations and sessions."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from tracemark.db.models import (
    AnnotationQueue,
    MediaReference,
    Observation,
    QueueItem,
    Score,
    Trace,
    TraceSession,
    TraceTag,
)
from tracemark.ingest.records import Level, ObservationType
from tracemark.services.errors import Invalid, NotFound
from tracemark.services.paging import count_rows, decode_cursor, encode_cursor
from tracemark.services.score_queries import _OPERATORS as OPERATORS

MAX_LIMIT = 1000


@dataclass
class TraceFilter:
    user_id: str | None = None
    name: str | None = None
    session_id: str | None = None
    from_timestamp: datetime | None = None
    to_timestamp: datetime | None = None
    tags: list[str] = field(default_factory=list)
    version: str | None = None
    release: str | None = None
    environments: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    trace_ids: list[str] | None = None
    # metadata key -> value (compared as text) the trace's metadata must hold.
    metadata: dict[str, str] = field(default_factory=dict)
    # A score of the trace (on the trace or one of its observations) with this name, and
    # optionally a numeric value compared with `score_operator`, or a string value.
    score_name: str | None = None
    score_operator: str | None = None
    score_value: float | None = None
    score_string_value: str | None = None
    # Only traces that are not items of this annotation queue.
    not_in_queue_id: str | None = None
    # Set by sized_for_queue: the queue is small enough to be read as one set of ids.
    not_in_queue_as_set: bool = False


# A queue up to this size is read once as a set of ids (PostgreSQL: a hash within its default
# work_mem; SQLite: a temporary index) and each trace looked up in it. A bigger queue is probed
# per trace through its unique index instead: its set could exceed PostgreSQL's memory for a
# hash, and then PostgreSQL would scan the whole list again for every trace.
NOT_IN_QUEUE_SET_LIMIT = 150_000


def sized_for_queue(session: Session, flt: TraceFilter) -> TraceFilter:
    """The filter, told whether its "not in queue" may read the queue's items as one set."""
    if flt.not_in_queue_id is None:
        return flt
    count = session.scalar(
        select(AnnotationQueue.item_count).where(AnnotationQueue.id == flt.not_in_queue_id)
    )
    small = count is not None and count <= NOT_IN_QUEUE_SET_LIMIT
    return dataclasses.replace(flt, not_in_queue_as_set=small)


_TRACE_ORDER = {
    "timestamp": Trace.timestamp,
    "name": Trace.name,
    "userId": Trace.user_id,
    "sessionId": Trace.session_id,
    "release": Trace.release,
    "version": Trace.version,
    "latency": Trace.latency,
    "totalCost": Trace.total_cost,
    "totalTokens": Trace.total_tokens,
    "id": Trace.id,
}


def parse_order_by(value: str | None) -> tuple[str, bool]:
    """Langfuse's `orderBy=field.asc|desc`; default newest first."""
    if not value:
        return "timestamp", True
    name, _, direction = value.partition(".")
    if name not in _TRACE_ORDER:
        raise Invalid(f"orderBy: unknown field {name!r}; use one of {', '.join(_TRACE_ORDER)}")
    if direction not in ("", "asc", "desc"):
        raise Invalid("orderBy: direction must be asc or desc, e.g. timestamp.desc")
    return name, direction != "asc"


def check_page(page: int, limit: int) -> None:
    if page < 1:
        raise Invalid("page must be 1 or more")
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")


def check_levels(values: Sequence[str]) -> list[str]:
    levels = [v.upper() for v in values]
    for level in levels:
        if level not in Level.__members__:
            raise Invalid(f"level: must be one of {', '.join(Level)}")
    return levels


def metadata_pair(key: str | None, value: str | None) -> dict[str, str]:
    """The metadata filter from a key and a value given apart (both or neither)."""
    if key is None and value is None:
        return {}
    if key is None or value is None:
        raise Invalid("metadataKey and metadataValue: give both")
    return {key: value}


def trace_query(project_id: str, flt: TraceFilter) -> Select[Trace]:
    stmt = select(Trace).where(Trace.project_id == project_id)
    if flt.tags:
        first, *rest = flt.tags
        stmt = stmt.join(
            TraceTag,
            and_(
                TraceTag.project_id == Trace.project_id,
                TraceTag.trace_id == Trace.id,
                TraceTag.tag == first,
            ),
        )
        for tag in rest:
            other = aliased(TraceTag)
            stmt = stmt.where(
                exists().where(
                    other.project_id == Trace.project_id,
                    other.trace_id == Trace.id,
                    other.tag == tag,
                )
            )
    if flt.user_id is not None:
        stmt = stmt.where(Trace.user_id == flt.user_id)
    if flt.name is not None:
        stmt = stmt.where(Trace.name == flt.name)
    if flt.session_id is not None:
        stmt = stmt.where(Trace.session_id == flt.session_id)
    if flt.from_timestamp is not None:
        stmt = stmt.where(Trace.timestamp >= flt.from_timestamp)
    if flt.to_timestamp is not None:
        stmt = stmt.where(Trace.timestamp < flt.to_timestamp)
    if flt.version is not None:
        stmt = stmt.where(Trace.version == flt.version)
    if flt.release is not None:
        stmt = stmt.where(Trace.release == flt.release)
    if flt.environments:
        stmt = stmt.where(Trace.environment.in_(flt.environments))
    if flt.levels:
        stmt = stmt.where(Trace.level.in_(flt.levels))
    if flt.trace_ids is not None:
        stmt = stmt.where(Trace.id.in_(flt.trace_ids))
    for key, value in flt.metadata.items():
        stmt = stmt.where(Trace.metadata_[key].as_string() == value)
    if flt.score_name is not None:
        stmt = stmt.where(Trace.id.in_(_scored_trace_ids(project_id, flt)))
    elif flt.score_operator is not None or flt.score_string_value is not None:
        raise Invalid("scoreName: give the score's name with its value")
    if flt.not_in_queue_id is not None and flt.not_in_queue_as_set:
        # For a queue holding the newest 100,000 of 1,000,000 traces, the newest traces not
        # in it: 70 ms this way on both engines, against 100,000 index probes (PostgreSQL
        # 200 ms, SQLite 90 ms).
        stmt = stmt.where(
            Trace.id.not_in(
                select(QueueItem.object_id).where(
                    QueueItem.queue_id == flt.not_in_queue_id,
                    QueueItem.object_type == "TRACE",
                )
            )
        )
    elif flt.not_in_queue_id is not None:
        stmt = stmt.where(~_queued(flt.not_in_queue_id, "TRACE", Trace.id))
    return stmt


def _scored_trace_ids(project_id: str, flt: TraceFilter) -> Select[Any]:
    """Ids of traces holding a matching score: the score index drives, not a trace scan."""
    stmt = select(Score.trace_id).where(
        Score.project_id == project_id,
        Score.name == flt.score_name,
    )
    if (flt.score_operator is None) != (flt.score_value is None):
        raise Invalid("scoreOperator and scoreValue: give both, e.g. scoreOperator=>= scoreValue=3")
    if flt.score_operator is not None:
        if flt.score_operator not in OPERATORS:
            raise Invalid(f"scoreOperator: must be one of {' '.join(OPERATORS)}")
        stmt = stmt.where(getattr(Score.value, OPERATORS[flt.score_operator])(flt.score_value))
    if flt.score_string_value is not None:
        stmt = stmt.where(Score.string_value == flt.score_string_value)
    return stmt


def _queued(queue_id: str, object_type: str, object_id: Any) -> Any:
    """EXISTS: the object is an item of the queue (the queue's unique index answers it)."""
    return (
        select(QueueItem.id)
        .where(
            QueueItem.queue_id == queue_id,
            QueueItem.object_type == object_type,
            QueueItem.object_id == object_id,
        )
        .exists()
    )


def list_traces(
    session: Session,
    project_id: str,
    flt: TraceFilter,
    *,
    page: int = 1,
    limit: int = 50,
    order_by: str | None = None,
) -> tuple[list[Trace], int]:
    check_page(page, limit)
    name, desc = parse_order_by(order_by)
    column = _TRACE_ORDER[name]
    flt = sized_for_queue(session, flt)
    base = trace_query(project_id, flt)
    if name == "timestamp" and flt.tags:
        # The first tag's rows carry the trace's timestamp: walking its index newest first
        # finds a page without visiting every trace of the project.
        column = TraceTag.timestamp
    ordered = base.order_by(
        column.desc() if desc else column.asc(), Trace.id.desc() if desc else Trace.id.asc()
    )
    rows = list(session.scalars(ordered.limit(limit).offset((page - 1) * limit)))
    if page == 1 and len(rows) < limit:
        return rows, len(rows)
    return rows, _count_traces(session, project_id, flt, base)


# Totals of large lists, kept briefly: counting a million index entries takes a good part of
# a second, and a total that lags a few seconds behind ingestion is no loss at that size.
_COUNT_CACHE: dict[tuple[str, str, str], tuple[float, int]] = {}
_COUNT_CACHE_SECONDS = 10.0
_COUNT_CACHE_MIN = 10_000


def _count_traces(session: Session, project_id: str, flt: TraceFilter, base: Select[Trace]) -> int:
    key = (str(session.get_bind().engine.url), project_id, repr(flt))
    hit = _COUNT_CACHE.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < _COUNT_CACHE_SECONDS:
        return hit[1]
    if flt.tags and len(flt.tags) == 1 and flt == TraceFilter(tags=flt.tags):
        # One tag and nothing else: its index rows are the traces (one row per trace and tag).
        counted = select(func.count()).where(
            TraceTag.project_id == project_id, TraceTag.tag == flt.tags[0]
        )
        total = int(session.scalar(counted) or 0)
    else:
        total = count_rows(session, base)
    if total >= _COUNT_CACHE_MIN:
        if len(_COUNT_CACHE) > 1000:
            _COUNT_CACHE.clear()
        _COUNT_CACHE[key] = (now, total)
    else:
        _COUNT_CACHE.pop(key, None)
    return total


def get_trace(session: Session, project_id: str, trace_id: str) -> Trace:
    trace = session.get(Trace, (project_id, trace_id))
    if trace is None:
        raise NotFound(f"trace {trace_id} not found")
    return trace


def observations_of(session: Session, project_id: str, trace_id: str) -> list[Observation]:
    return list(
        session.scalars(
            select(Observation)
            .where(Observation.project_id == project_id, Observation.trace_id == trace_id)
            .order_by(Observation.start_time, Observation.id)
        )
    )


def delete_traces(session: Session, project_id: str, trace_ids: Sequence[str]) -> int:
    """Delete traces with their observations; returns how many traces existed."""
    if not trace_ids:
        raise Invalid("traceIds: give at least one trace id")
    found = 0
    for start in range(0, len(trace_ids), 500):
        chunk = list(trace_ids[start : start + 500])
        result = session.execute(
            delete(Trace).where(Trace.project_id == project_id, Trace.id.in_(chunk))
        )
        found += int(getattr(result, "rowcount", 0) or 0)
        session.execute(
            delete(Observation).where(
                Observation.project_id == project_id, Observation.trace_id.in_(chunk)
            )
        )
        session.execute(
            delete(TraceTag).where(TraceTag.project_id == project_id, TraceTag.trace_id.in_(chunk))
        )
        session.execute(
            delete(MediaReference).where(
                MediaReference.project_id == project_id, MediaReference.trace_id.in_(chunk)
            )
        )
    return found


@dataclass
class ObservationFilter:
    name: str | None = None
    user_id: str | None = None
    type: str | None = None
    trace_id: str | None = None
    parent_observation_id: str | None = None
    environments: list[str] = field(default_factory=list)
    from_start_time: datetime | None = None
    to_start_time: datetime | None = None
    version: str | None = None
    level: str | None = None
    not_in_queue_id: str | None = None


def observation_query(project_id: str, flt: ObservationFilter) -> Select[Observation]:
    stmt = select(Observation).where(Observation.project_id == project_id)
    if flt.name is not None:
        stmt = stmt.where(Observation.name == flt.name)
    if flt.type is not None:
        kind = flt.type.upper()
        if kind not in ObservationType.__members__:
            raise Invalid(f"type: unknown observation type {flt.type!r}")
        stmt = stmt.where(Observation.type == kind)
    if flt.level is not None:
        level = flt.level.upper()
        if level not in Level.__members__:
            raise Invalid(f"level: must be one of {', '.join(Level)}")
        stmt = stmt.where(Observation.level == level)
    if flt.trace_id is not None:
        stmt = stmt.where(Observation.trace_id == flt.trace_id)
    if flt.parent_observation_id is not None:
        stmt = stmt.where(Observation.parent_observation_id == flt.parent_observation_id)
    if flt.environments:
        stmt = stmt.where(Observation.environment.in_(flt.environments))
    if flt.from_start_time is not None:
        stmt = stmt.where(Observation.start_time >= flt.from_start_time)
    if flt.to_start_time is not None:
        stmt = stmt.where(Observation.start_time < flt.to_start_time)
    if flt.version is not None:
        stmt = stmt.where(Observation.version == flt.version)
    if flt.user_id is not None:
        stmt = stmt.where(
            exists().where(
                Trace.project_id == Observation.project_id,
                Trace.id == Observation.trace_id,
                Trace.user_id == flt.user_id,
            )
        )
    if flt.not_in_queue_id is not None:
        stmt = stmt.where(~_queued(flt.not_in_queue_id, "OBSERVATION", Observation.id))
    return stmt


def list_observations(
    session: Session, project_id: str, flt: ObservationFilter, *, page: int = 1, limit: int = 50
) -> tuple[list[Observation], int]:
    check_page(page, limit)
    base = observation_query(project_id, flt)
    rows = list(
        session.scalars(
            base.order_by(Observation.start_time.desc(), Observation.id.desc())
            .limit(limit)
            .offset((page - 1) * limit)
        )
    )
    total = len(rows) if page == 1 and len(rows) < limit else count_rows(session, base)
    return rows, total


def list_observations_cursor(
    session: Session, project_id: str, flt: ObservationFilter, *, cursor: str | None, limit: int
) -> tuple[list[Observation], str | None]:
    """Newest first, keyset-paginated (constant cost per page at any depth)."""
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    stmt = observation_query(project_id, flt)
    if cursor:
        start, obs_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                Observation.start_time < start,
                and_(Observation.start_time == start, Observation.id < obs_id),
            )
        )
    rows = list(
        session.scalars(
            stmt.order_by(Observation.start_time.desc(), Observation.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = (
        encode_cursor(rows[limit - 1].start_time, rows[limit - 1].id) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


def get_observation(session: Session, project_id: str, observation_id: str) -> Observation:
    obs = session.get(Observation, (project_id, observation_id))
    if obs is None:
        raise NotFound(f"observation {observation_id} not found")
    return obs


@dataclass
class SessionFilter:
    from_timestamp: datetime | None = None
    to_timestamp: datetime | None = None
    environments: list[str] = field(default_factory=list)
    user_id: str | None = None  # a trace of the session has this user
    not_in_queue_id: str | None = None


def session_query(project_id: str, flt: SessionFilter) -> Select[TraceSession]:
    stmt = select(TraceSession).where(TraceSession.project_id == project_id)
    if flt.from_timestamp is not None:
        stmt = stmt.where(TraceSession.created_at >= flt.from_timestamp)
    if flt.to_timestamp is not None:
        stmt = stmt.where(TraceSession.created_at < flt.to_timestamp)
    if flt.environments:
        stmt = stmt.where(TraceSession.environment.in_(flt.environments))
    if flt.user_id is not None:
        stmt = stmt.where(
            exists().where(
                Trace.project_id == TraceSession.project_id,
                Trace.session_id == TraceSession.id,
                Trace.user_id == flt.user_id,
            )
        )
    if flt.not_in_queue_id is not None:
        stmt = stmt.where(~_queued(flt.not_in_queue_id, "SESSION", TraceSession.id))
    return stmt


def list_sessions(
    session: Session,
    project_id: str,
    *,
    page: int = 1,
    limit: int = 50,
    from_timestamp: datetime | None = None,
    to_timestamp: datetime | None = None,
    environments: Sequence[str] = (),
) -> tuple[list[TraceSession], int]:
    check_page(page, limit)
    base = select(TraceSession).where(TraceSession.project_id == project_id)
    if from_timestamp is not None:
        base = base.where(TraceSession.created_at >= from_timestamp)
    if to_timestamp is not None:
        base = base.where(TraceSession.created_at < to_timestamp)
    if environments:
        base = base.where(TraceSession.environment.in_(list(environments)))
    rows = list(
        session.scalars(
            base.order_by(TraceSession.created_at.desc(), TraceSession.id)
            .limit(limit)
            .offset((page - 1) * limit)
        )
    )
    total = count_rows(session, base)
    return rows, total


def get_session(
    session: Session, project_id: str, session_id: str
) -> tuple[TraceSession, list[Trace]]:
    row = session.get(TraceSession, (project_id, session_id))
    if row is None:
        raise NotFound(f"session {session_id} not found")
    traces = list(
        session.scalars(
            select(Trace)
            .where(Trace.project_id == project_id, Trace.session_id == session_id)
            .order_by(Trace.timestamp, Trace.id)
        )
    )
    return row, traces


def session_traces(
    session: Session, project_id: str, session_id: str, *, limit: int
) -> tuple[TraceSession, list[Trace], int]:
    """A session, its first `limit` traces in time order, and how many it has in all."""
    row = session.get(TraceSession, (project_id, session_id))
    if row is None:
        raise NotFound(f"session {session_id} not found")
    base = select(Trace).where(Trace.project_id == project_id, Trace.session_id == session_id)
    rows = list(session.scalars(base.order_by(Trace.timestamp, Trace.id).limit(limit)))
    total = len(rows) if len(rows) < limit else count_rows(session, base)
    return row, rows, total


def observation_ids_by_trace(
    session: Session, project_id: str, trace_ids: Sequence[str]
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {tid: [] for tid in trace_ids}
    if not trace_ids:
        return out
    # Sorted here, not by an ORDER BY: given one, SQLite (no statistics) walks the project's
    # start_time index for the order instead of looking up these traces (seconds at 5M rows).
    rows = session.execute(
        select(Observation.trace_id, Observation.start_time, Observation.id).where(
            Observation.project_id == project_id, Observation.trace_id.in_(list(trace_ids))
        )
    ).all()
    for trace_id, _, obs_id in sorted(rows, key=lambda r: (r[1], r[2])):
        out.setdefault(trace_id, []).append(obs_id)
    return out
