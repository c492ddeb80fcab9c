"""What a trace keeps of its observations for list pages: aggregates and the root observation.

Computed in SQL over the stored observations of traces that were stored before, and in memory
from the rows of the batch for traces the batch creates (they have no other observations).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from tracemark.db.models import Observation
from tracemark.ingest.records import Level
from tracemark.services.ingest_write import ids_in

_CHUNK = 500
_LEVEL_RANK = {level.value: level.rank for level in Level}


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


_ERROR = Level.ERROR.value
_WARNING = Level.WARNING.value


def aggregate_rows(
    rows: Iterable[dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Per trace, the list aggregates and the root observation of observation rows.

    The same figures as `stored_aggregates` and `stored_roots` compute in SQL, for traces
    whose every observation is among `rows`.
    """
    out: dict[str, dict[str, Any]] = {}
    ranks: dict[str, int] = {}
    roots: dict[str, tuple[datetime, dict[str, Any]]] = {}
    level_rank = _LEVEL_RANK.get
    for r in rows:
        tid = r["trace_id"]
        start = r["start_time"]
        end = r["end_time"] or start
        level = r["level"]
        rank = level_rank(level, 1)
        agg = out.get(tid)
        if agg is None:
            agg = out[tid] = {
                "start_time": start,
                "end_time": end,
                "total_cost": None,
                "input_tokens": None,
                "output_tokens": None,
                "total_tokens": None,
                "observation_count": 0,
                "error_count": 0,
                "warning_count": 0,
            }
            ranks[tid] = rank
        else:
            if start < agg["start_time"]:
                agg["start_time"] = start
            if end > agg["end_time"]:
                agg["end_time"] = end
            if rank > ranks[tid]:
                ranks[tid] = rank
        value = r["total_cost"]
        if value is not None:
            agg["total_cost"] = value if agg["total_cost"] is None else agg["total_cost"] + value
        value = r["input_tokens"]
        if value is not None:
            agg["input_tokens"] = (
                value if agg["input_tokens"] is None else agg["input_tokens"] + value
            )
        value = r["output_tokens"]
        if value is not None:
            agg["output_tokens"] = (
                value if agg["output_tokens"] is None else agg["output_tokens"] + value
            )
        value = r["total_tokens"]
        if value is not None:
            agg["total_tokens"] = (
                value if agg["total_tokens"] is None else agg["total_tokens"] + value
            )
        agg["observation_count"] += 1
        if level == _ERROR:
            agg["error_count"] += 1
        elif level == _WARNING:
            agg["warning_count"] += 1
        if r["parent_observation_id"] is None:
            root = roots.get(tid)
            if root is None or start < root[0]:
                roots[tid] = (start, r)
    levels = list(Level)
    for tid, agg in out.items():
        agg["level"] = levels[ranks[tid]].value
        if agg["total_cost"] is not None:
            agg["total_cost"] = float(agg["total_cost"])
    return out, {
        tid: {
            "name": r["name"],
            "input": r["input"],
            "output": r["output"],
            "environment": r["environment"],
        }
        for tid, (_, r) in roots.items()
    }


def stored_aggregates(
    session: Session, project_id: str, trace_ids: list[str]
) -> dict[str, dict[str, Any]]:
    rank = case(*[(Observation.level == level.value, level.rank) for level in Level], else_=1)
    dialect = session.get_bind().dialect.name
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(trace_ids):
        rows = session.execute(
            select(
                Observation.trace_id,
                func.min(Observation.start_time),
                func.max(func.coalesce(Observation.end_time, Observation.start_time)),
                func.sum(Observation.total_cost),
                func.sum(Observation.input_tokens),
                func.sum(Observation.output_tokens),
                func.sum(Observation.total_tokens),
                func.count(),
                func.max(rank),
                func.sum(case((Observation.level == Level.ERROR.value, 1), else_=0)),
                func.sum(case((Observation.level == Level.WARNING.value, 1), else_=0)),
            )
            .where(
                Observation.project_id == project_id, ids_in(Observation.trace_id, chunk, dialect)
            )
            .group_by(Observation.trace_id)
        ).all()
        levels = list(Level)
        for r in rows:
            start, end = _aware(r[1]), _aware(r[2])
            out[r[0]] = {
                "start_time": start,
                "end_time": end,
                "total_cost": float(r[3]) if r[3] is not None else None,
                "input_tokens": r[4],
                "output_tokens": r[5],
                "total_tokens": r[6],
                "observation_count": r[7],
                "level": levels[int(r[8])].value if r[8] is not None else Level.DEFAULT.value,
                "error_count": r[9],
                "warning_count": r[10],
            }
    return out


def _aware(value: Any) -> datetime | None:
    """Aggregates bypass the column type on SQLite (naive text); make them aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment: datetime = value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def stored_roots(
    session: Session, project_id: str, trace_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Per trace, the earliest observation without a parent (the root span)."""
    dialect = session.get_bind().dialect.name
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(trace_ids):
        rows = session.execute(
            select(
                Observation.trace_id,
                Observation.name,
                Observation.input,
                Observation.output,
                Observation.environment,
                Observation.start_time,
            )
            .where(
                Observation.project_id == project_id,
                ids_in(Observation.trace_id, chunk, dialect),
                Observation.parent_observation_id.is_(None),
            )
            .order_by(Observation.trace_id, Observation.start_time)
        ).all()
        for r in rows:
            if r[0] not in out:
                out[r[0]] = {"name": r[1], "input": r[2], "output": r[3], "environment": r[4]}
    return out
