"""Storing what the parsers produced: merge records into traces, observations and sessions.

One call handles one request's `Batch` in one transaction, set-based: the rows it touches are
read with one query per table, merged in memory, and written with one driver-level executemany
upsert per table (`ingest_write`). Traces the batch creates are aggregated in memory; stored
ones in SQL (`trace_aggregates`). Re-sending a batch changes nothing; an update that arrives
before its create is kept and merged.

On PostgreSQL, several server processes may write the same trace at once, so the touched traces
are locked first (transaction-scoped advisory locks, in a fixed order). On SQLite, writes are
serialized by the database already.

Before taking those locks, `prepare_batch` builds every observation's row as if it were new (size
checks, JSON, costs, driver values); under the locks `store_prepared` reads what is stored and
rebuilds only the rows that exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from tracemark.db import statistics
from tracemark.db.base import utcnow
from tracemark.db.engine import Database
from tracemark.db.models import ModelPriceRow, Observation, Trace, TraceSession, TraceTag
from tracemark.ingest import costs
from tracemark.ingest.records import (
    Batch,
    Level,
    ObservationType,
    ObservationUpsert,
    TraceUpsert,
)
from tracemark.services.ingest_write import (
    JsonCache,
    delete_by_ids,
    ids_in,
    select_by_ids,
    stored_ids,
    writer,
)
from tracemark.services.trace_aggregates import aggregate_rows, stored_aggregates, stored_roots

# One input/output/metadata value above this size (as JSON) is stored truncated.
MAX_FIELD_BYTES = 1_000_000
_CHUNK = 500
_LEVEL_RANK = {level.value: level.rank for level in Level}
_TRACE_COLUMNS = {
    "name": "name",
    "user_id": "user_id",
    "session_id": "session_id",
    "release": "release",
    "version": "version",
    "environment": "environment",
    "public": "public",
    "tags": "tags",
    "metadata": "metadata_",
    "input": "input",
    "output": "output",
    "timestamp": "timestamp",
}
_OBSERVATION_COLUMNS = {
    "type": "type",
    "name": "name",
    "parent_observation_id": "parent_observation_id",
    "start_time": "start_time",
    "end_time": "end_time",
    "completion_start_time": "completion_start_time",
    "level": "level",
    "status_message": "status_message",
    "version": "version",
    "environment": "environment",
    "input": "input",
    "output": "output",
    "metadata": "metadata_",
    "model": "model",
    "model_parameters": "model_parameters",
    "usage_details": "usage_details",
    "cost_details": "cost_details",
    "prompt_name": "prompt_name",
    "prompt_version": "prompt_version",
}
# Trace fields that, when the client does not set them, come from the root observation.
_DERIVED_FROM_ROOT = ("name", "input", "output")


@dataclass
class IngestResult:
    traces: int = 0
    observations: int = 0
    # Observation updates whose trace is unknown (no traceId sent, none stored): not stored.
    unresolved_observations: list[str] = field(default_factory=list)


def merge_fields(stored: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` over `stored`: metadata merged by key, tags unioned, everything else replaced."""
    merged = dict(stored)
    for key, value in new.items():
        if key == "metadata" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key == "tags" and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        else:
            merged[key] = value
    return merged


def _coalesce_traces(records: Iterable[TraceUpsert]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        stored = out.get(record.id)
        out[record.id] = (
            dict(record.fields) if stored is None else merge_fields(stored, record.fields)
        )
    return out


def _coalesce_observations(
    records: Iterable[ObservationUpsert],
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    trace_of: dict[str, str] = {}
    fields: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.trace_id:
            trace_of[record.id] = record.trace_id
        else:
            trace_of.setdefault(record.id, "")
        stored = fields.get(record.id)
        fields[record.id] = (
            dict(record.fields) if stored is None else merge_fields(stored, record.fields)
        )
    return trace_of, fields


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _lock_traces(session: Session, project_id: str, trace_ids: Iterable[str]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted(f"{project_id}/{tid}" for tid in trace_ids)
    if keys:
        session.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
            ),
            {"keys": keys},
        )


# json.dumps(value, default=str, separators=(",", ":")), without building an encoder per call.
_SIZE_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))
# A character takes at most 12 bytes in ASCII-escaped JSON (a surrogate pair, \\ud83d\\ude00).
_MAX_ESCAPE = 12


def _json_size(value: Any, texts: JsonCache | None = None) -> int:
    """Bytes of `value`: a string's UTF-8, else its compact ASCII-escaped JSON text.

    With `texts`, the stored JSON text is reused: for ASCII text it is the same string.
    """
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "replace"))
    if texts is not None:
        stored = texts.remember(value)
        if stored.isascii():
            return len(stored)
        if len(stored) * _MAX_ESCAPE <= MAX_FIELD_BYTES:
            return len(stored)  # under the limit whatever the escaping: the exact size is moot
    return len(_SIZE_ENCODER.encode(value))


def _truncate_large(fields: dict[str, Any], texts: JsonCache | None = None) -> None:
    """Store an oversized input/output truncated, with a marker in metadata."""
    marks: dict[str, int] = {}
    for key in ("input", "output"):
        if key in fields:
            size = _json_size(fields[key], texts)
            if size > MAX_FIELD_BYTES:
                raw = (
                    fields[key]
                    if isinstance(fields[key], str)
                    else json.dumps(fields[key], default=str)
                )
                fields[key] = (
                    raw[: MAX_FIELD_BYTES // 4] + f"… [truncated by Tracemark: {size} bytes]"
                )
                marks[key] = size
    if "metadata" in fields:
        size = _json_size(fields["metadata"], texts)
        if size > MAX_FIELD_BYTES:
            marks["metadata"] = size
            fields["metadata"] = {}
    if marks:
        metadata = dict(fields.get("metadata") or {})
        metadata["tracemark_truncated"] = {k: {"original_bytes": v} for k, v in marks.items()}
        fields["metadata"] = metadata


_HAS_PRICES = {
    "sqlite": "SELECT 1 FROM model_prices WHERE project_id = ? LIMIT 1",
    "postgresql": "SELECT 1 FROM model_prices WHERE project_id = %s LIMIT 1",
}


def _project_prices(session: Session, project_id: str) -> list[costs.ModelPrice]:
    # Most projects have no prices of their own: a plain probe first, the ORM only if needed.
    conn = session.connection()
    if conn.exec_driver_sql(_HAS_PRICES[conn.dialect.name], (project_id,)).first() is None:
        return []
    rows = session.scalars(
        select(ModelPriceRow)
        .where(ModelPriceRow.project_id == project_id)
        .order_by(ModelPriceRow.created_at)
    ).all()
    return [
        costs.ModelPrice(
            model_name=row.model_name,
            match_pattern=row.match_pattern,
            prices=dict(row.prices),
            project_id=project_id,
            input_includes_cached=row.input_includes_cached,
            unit=row.unit,
            start_date=row.start_date,
        )
        for row in rows
    ]


def _observation_row(
    project_id: str,
    obs_id: str,
    trace_id: str,
    fields: dict[str, Any],
    prices: Sequence[costs.ModelPrice] | None,
    now: datetime,
) -> dict[str, Any]:
    """A full observations row from merged fields, with derived cost and token columns."""
    row: dict[str, Any] = {"project_id": project_id, "id": obs_id, "trace_id": trace_id}
    for key, column in _OBSERVATION_COLUMNS.items():
        row[column] = fields.get(key)
    row["type"] = row["type"] or ObservationType.SPAN.value
    row["level"] = row["level"] or Level.DEFAULT.value
    row["environment"] = row["environment"] or "default"
    row["metadata_"] = row["metadata_"] or {}
    if row["start_time"] is None:
        row["start_time"] = row["end_time"] or now
    if row["type"] == ObservationType.EVENT.value and row["end_time"] is None:
        row["end_time"] = row["start_time"]
    sent_cost = fields.get("cost_details") or None
    filled = costs.fill_costs(
        row["model"], row["usage_details"], sent_cost, prices or (), at=row["start_time"]
    )
    row["cost_details"] = filled
    row["cost_computed"] = bool(filled) and not sent_cost
    row["total_cost"] = float(filled["total"]) if filled and "total" in filled else None
    in_tokens, out_tokens, total_tokens = costs.usage_totals(row["usage_details"])
    row["input_tokens"], row["output_tokens"], row["total_tokens"] = (
        in_tokens,
        out_tokens,
        total_tokens,
    )
    row["created_at"] = fields.get("_created_at") or now
    row["updated_at"] = now
    return row


_STORED_OBSERVATION_FIELDS = {column: key for key, column in _OBSERVATION_COLUMNS.items()}
# What is read back of a stored observation to merge an update into it.
_STORED_OBSERVATION_SELECT = [
    getattr(Observation, column).label(column)
    for column in (*_STORED_OBSERVATION_FIELDS, "id", "trace_id", "cost_computed", "created_at")
]


def _stored_observation_fields(obs: Any) -> dict[str, Any]:
    """The fields of a stored observation as the client had set them (costs as sent)."""
    out: dict[str, Any] = {}
    for column, key in _STORED_OBSERVATION_FIELDS.items():
        value = getattr(obs, column)
        if value is not None:
            out[key] = value
    if obs.cost_computed:
        out.pop("cost_details", None)
    out["_created_at"] = obs.created_at
    return out


@dataclass
class PreparedBatch:
    """A batch merged within itself, with its observations' rows computed as if all were new.

    Built before the traces are locked, so that on PostgreSQL the work that does not depend on
    what is stored (size checks, JSON encoding, costs, row building) is done without holding the
    advisory locks, which consecutive exports contend for (a trace cut at an export boundary is
    in both). `store_prepared` then reads what is stored and rebuilds only the rows that exist.
    (On SQLite the write transaction itself is the lock; its writers are threads sharing the
    interpreter lock, and preparing outside it only made them contend: +5 ms of server CPU per
    512-span export, measured.)
    """

    project_id: str
    now: datetime
    trace_fields: dict[str, dict[str, Any]]
    trace_of: dict[str, str]
    obs_fields: dict[str, dict[str, Any]]
    texts: JsonCache
    prices: Sequence[costs.ModelPrice] | None
    default_trace_timestamps: dict[str, datetime]
    default_start_times: dict[str, datetime]
    # Observation id -> its row and driver values, assuming it is not stored yet.
    new_rows: dict[str, tuple[dict[str, Any], tuple[Any, ...]]] = field(default_factory=dict)


def prepare_batch(
    project_id: str,
    batch: Batch,
    prices: Sequence[costs.ModelPrice] | None,
    *,
    dialect: str,
    default_trace_timestamps: dict[str, datetime] | None = None,
    default_start_times: dict[str, datetime] | None = None,
) -> PreparedBatch:
    """Everything about `batch` that does not depend on what is stored (no database access).

    `prices` are the project's own model prices; `dialect` the database's, for the driver
    values. The defaults (from event envelopes) apply only to rows that are new and lack the
    field.
    """
    trace_of, obs_fields = _coalesce_observations(batch.observations)
    prepared = PreparedBatch(
        project_id=project_id,
        now=utcnow(),
        trace_fields=_coalesce_traces(batch.traces),
        trace_of=trace_of,
        obs_fields=obs_fields,
        texts=JsonCache(),
        prices=prices,
        default_trace_timestamps=default_trace_timestamps or {},
        default_start_times=default_start_times or {},
    )
    obs_writer = writer(Observation, dialect)
    moments: dict[datetime, Any] = {}
    texts = prepared.texts
    for obs_id, fields in obs_fields.items():
        _truncate_large(fields, texts)
        trace_id = trace_of[obs_id]
        if not trace_id:
            continue  # resolved from the stored observation, under the lock
        row = _observation_row(
            project_id,
            obs_id,
            trace_id,
            _with_default_start(prepared, obs_id, fields),
            prices,
            prepared.now,
        )
        prepared.new_rows[obs_id] = (row, obs_writer.encode(row, texts.text, moments))
    return prepared


def _with_default_start(
    prepared: PreparedBatch, obs_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """The fields of a new observation, with the envelope's start time when it has none."""
    if "start_time" not in fields and obs_id in prepared.default_start_times:
        return {**fields, "start_time": prepared.default_start_times[obs_id]}
    return fields


def ingest_batch(
    session: Session,
    project_id: str,
    batch: Batch,
    *,
    default_trace_timestamps: dict[str, datetime] | None = None,
    default_start_times: dict[str, datetime] | None = None,
) -> IngestResult:
    """Merge `batch` into storage within the caller's transaction.

    The defaults (from event envelopes) apply only to rows that are new and lack the field.
    """
    prices = _project_prices(session, project_id) if batch.observations else None
    prepared = prepare_batch(
        project_id,
        batch,
        prices,
        dialect=session.get_bind().dialect.name,
        default_trace_timestamps=default_trace_timestamps,
        default_start_times=default_start_times,
    )
    return store_prepared(session, prepared)


def store(
    db: Database,
    project_id: str,
    batch: Batch,
    *,
    default_trace_timestamps: dict[str, datetime] | None = None,
    default_start_times: dict[str, datetime] | None = None,
) -> IngestResult:
    """Merge `batch` into storage in a transaction of its own, committed on return."""
    with db.write() as session:
        result = ingest_batch(
            session,
            project_id,
            batch,
            default_trace_timestamps=default_trace_timestamps,
            default_start_times=default_start_times,
        )
    statistics.rows_written(db, result.observations)
    return result


def store_prepared(session: Session, prepared: PreparedBatch) -> IngestResult:
    """Merge a prepared batch into storage within the caller's transaction."""
    project_id = prepared.project_id
    now = prepared.now
    result = IngestResult()
    trace_fields = prepared.trace_fields
    trace_of = dict(prepared.trace_of)
    obs_fields = dict(prepared.obs_fields)
    if not trace_fields and not obs_fields:
        return result
    dialect = session.get_bind().dialect.name

    # Updates that came without a trace id take the stored observation's.
    untraced = [obs_id for obs_id, trace_id in trace_of.items() if not trace_id]
    for chunk in _chunks(untraced):
        for obs_id, trace_id in session.execute(
            select(Observation.id, Observation.trace_id).where(
                Observation.project_id == project_id, ids_in(Observation.id, chunk, dialect)
            )
        ):
            trace_of[obs_id] = trace_id
    for obs_id in untraced:
        if not trace_of[obs_id]:
            result.unresolved_observations.append(obs_id)
            del obs_fields[obs_id]
            del trace_of[obs_id]

    touched = sorted(set(trace_fields) | set(trace_of.values()))
    # Read what is stored only under the lock: another process may be writing these traces.
    _lock_traces(session, project_id, touched)
    existing_obs: dict[str, Row[Any]] = {}
    for chunk in _chunks(sorted(stored_ids(session, "observations", project_id, list(obs_fields)))):
        for obs in session.execute(
            select_by_ids(
                _STORED_OBSERVATION_SELECT,
                Observation.project_id,
                Observation.id,
                project_id,
                chunk,
                dialect,
            )
        ):
            existing_obs[obs.id] = obs

    obs_writer = writer(Observation, dialect)
    texts = prepared.texts
    moments: dict[datetime, Any] = {}
    rows: list[dict[str, Any]] = []
    params: list[tuple[Any, ...]] = []
    for obs_id, fields in obs_fields.items():
        stored = existing_obs.get(obs_id)
        ready = prepared.new_rows.get(obs_id) if stored is None else None
        if ready is not None and ready[0]["trace_id"] == trace_of[obs_id]:
            row, values = ready
        else:
            if stored is not None:
                merged = merge_fields(_stored_observation_fields(stored), fields)
            else:
                merged = _with_default_start(prepared, obs_id, fields)
            row = _observation_row(
                project_id, obs_id, trace_of[obs_id], merged, prepared.prices, now
            )
            values = obs_writer.encode(row, texts.text, moments)
        rows.append(row)
        params.append(values)
    obs_writer.write_values(session, params)
    result.observations = len(rows)

    _upsert_traces(
        session,
        project_id,
        touched,
        trace_fields,
        rows,
        texts,
        now,
        prepared.default_trace_timestamps,
    )
    result.traces = len(touched)
    return result


_STORED_TRACE_SELECT = [
    getattr(Trace, column).label(column)
    for column in (
        *_TRACE_COLUMNS.values(),
        "id",
        "explicit",
        "created_at",
    )
]


def _upsert_traces(
    session: Session,
    project_id: str,
    trace_ids: list[str],
    trace_fields: dict[str, dict[str, Any]],
    observation_rows: list[dict[str, Any]],
    texts: JsonCache,
    now: datetime,
    default_timestamps: dict[str, datetime],
) -> None:
    dialect = session.get_bind().dialect.name
    existing: dict[str, Row[Any]] = {}
    for chunk in _chunks(sorted(stored_ids(session, "traces", project_id, trace_ids))):
        for trace in session.execute(
            select_by_ids(
                _STORED_TRACE_SELECT, Trace.project_id, Trace.id, project_id, chunk, dialect
            )
        ):
            existing[trace.id] = trace
    # A trace that is not stored has no stored observations either (both are written in one
    # transaction, and deleted together): its aggregates come from this batch's rows alone.
    stored_traces = [tid for tid in trace_ids if tid in existing]
    new_ids = {tid for tid in trace_ids if tid not in existing}
    aggregates, roots = aggregate_rows(r for r in observation_rows if r["trace_id"] in new_ids)
    if stored_traces:
        aggregates.update(stored_aggregates(session, project_id, stored_traces))
        roots.update(stored_roots(session, project_id, stored_traces))

    rows: list[dict[str, Any]] = []
    tag_changes: dict[str, tuple[list[str], datetime]] = {}
    session_ids: dict[str, str] = {}
    for trace_id in trace_ids:
        fields = dict(trace_fields.get(trace_id, {}))
        _truncate_large(fields, texts)
        stored = existing.get(trace_id)
        row = _trace_row(
            project_id, trace_id, stored, fields, aggregates.get(trace_id), roots.get(trace_id), now
        )
        if (
            stored is None
            or row["tags"] != (stored.tags or [])
            or row["timestamp"] != stored.timestamp
        ):
            tag_changes[trace_id] = (row["tags"], row["timestamp"])
        if row["session_id"]:
            session_ids[row["session_id"]] = row["environment"]
        rows.append(row)
    writer(Trace, dialect).write(session, rows, texts.text)
    _write_tags(session, project_id, tag_changes, set(existing), dialect)
    _ensure_sessions(session, project_id, session_ids, now, dialect)


def _trace_row(
    project_id: str,
    trace_id: str,
    stored: Any,
    fields: dict[str, Any],
    aggregate: dict[str, Any] | None,
    root: dict[str, Any] | None,
    fallback: datetime,
) -> dict[str, Any]:
    explicit = set(stored.explicit or []) if stored else set()
    explicit |= {k for k in ("name", "input", "output", "timestamp") if k in fields}
    base: dict[str, Any] = {}
    if stored is not None:
        for key, column in _TRACE_COLUMNS.items():
            base[key] = getattr(stored, column)
    merged = merge_fields(base, fields)
    row: dict[str, Any] = {"project_id": project_id, "id": trace_id}
    for key, column in _TRACE_COLUMNS.items():
        row[column] = merged.get(key)
    row["tags"] = [str(t) for t in (row["tags"] or [])]
    row["metadata_"] = row["metadata_"] or {}
    row["environment"] = row["environment"] or "default"
    row["public"] = bool(row["public"])
    if root is not None:
        for key in _DERIVED_FROM_ROOT:
            if key not in explicit:
                row[key] = root.get(key)
        if not fields.get("environment") and (stored is None or stored.environment == "default"):
            row["environment"] = root.get("environment") or row["environment"]
    agg = aggregate or {}
    row["start_time"] = agg.get("start_time")
    row["end_time"] = agg.get("end_time")
    if row["start_time"] is not None and row["end_time"] is not None:
        row["latency"] = max(0.0, (row["end_time"] - row["start_time"]).total_seconds())
    else:
        row["latency"] = None
    row["total_cost"] = agg.get("total_cost")
    row["input_tokens"] = int(agg.get("input_tokens") or 0)
    row["output_tokens"] = int(agg.get("output_tokens") or 0)
    row["total_tokens"] = int(agg.get("total_tokens") or 0)
    row["observation_count"] = int(agg.get("observation_count") or 0)
    row["level"] = agg.get("level") or Level.DEFAULT.value
    row["error_count"] = int(agg.get("error_count") or 0)
    row["warning_count"] = int(agg.get("warning_count") or 0)
    if "timestamp" not in explicit:
        row["timestamp"] = row["start_time"] or (stored.timestamp if stored else fallback)
    row["explicit"] = sorted(explicit)
    # The batch's time: rows of one batch share it, and its driver value is converted once.
    row["created_at"] = stored.created_at if stored else fallback
    row["updated_at"] = fallback
    return row


def _write_tags(
    session: Session,
    project_id: str,
    changes: dict[str, tuple[list[str], datetime]],
    stored: set[str],
    dialect: str,
) -> None:
    if not changes:
        return
    # A trace that was not stored has no tags to drop.
    delete_by_ids(
        session, "trace_tags", "trace_id", project_id, [t for t in changes if t in stored]
    )
    rows = [
        {"project_id": project_id, "trace_id": tid, "tag": tag[:200], "timestamp": ts}
        for tid, (tags, ts) in changes.items()
        for tag in dict.fromkeys(tags)
    ]
    writer(TraceTag, dialect).write(session, rows)


def _ensure_sessions(
    session: Session, project_id: str, ids: dict[str, str], now: datetime, dialect: str
) -> None:
    rows = [
        {"project_id": project_id, "id": sid, "environment": env, "created_at": now}
        for sid, env in ids.items()
    ]
    writer(TraceSession, dialect, "nothing").write(session, rows)
