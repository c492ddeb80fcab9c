"""Scores: validation against configs, upsert by id, per-annotator ownership, history.

Every path that writes scores (`POST /api/public/scores`, `score-create` ingestion events,
the annotation UI, queue completion) goes through `write_scores`.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, bindparam, select, tuple_
from sqlalchemy.orm import Session

from tracemark.db.base import UTCDateTime, utcnow
from tracemark.db.engine import dump_json
from tracemark.db.models import Score, ScoreChange, ScoreConfig, ScoreDataType, ScoreSource
from tracemark.services import score_configs, score_counts
from tracemark.services.errors import Forbidden, Invalid, NotFound

TEXT_MAX = 500
NAME_MAX = 200
_CHUNK = 500


@dataclass(frozen=True)
class Actor:
    """Who writes: a user (token or browser) or a project API key."""

    user_id: str | None = None
    key_id: str | None = None
    is_admin: bool = False  # ADMIN or OWNER in the project: may delete anyone's score


@dataclass
class ScoreInput:
    """One score as a client sent it (camelCase keys of the Langfuse API)."""

    body: Mapping[str, Any]
    index: int = 0
    default_timestamp: datetime | None = None


@dataclass
class WriteResult:
    ids: list[str | None] = field(default_factory=list)  # per input, None when rejected
    errors: dict[int, str] = field(default_factory=dict)  # input index -> message

    @property
    def accepted(self) -> int:
        return sum(1 for i in self.ids if i is not None)


def _string(body: Mapping[str, Any], key: str, *, max_len: int = 1000) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{key}: must be a string")
    if not value:
        return None
    if len(value) > max_len:
        raise Invalid(f"{key}: at most {max_len} characters")
    return value


def _timestamp(value: Any, default: datetime | None) -> datetime:
    if value is None:
        return default or utcnow()
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(f"timestamp: {value!r} is not an ISO 8601 time") from None
    else:
        raise Invalid("timestamp: must be an ISO 8601 string")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def target_key(trace_id: str | None, observation_id: str | None, session_id: str | None) -> str:
    if session_id is not None:
        return f"session:{session_id}"
    if observation_id is not None:
        return f"observation:{trace_id}:{observation_id}"
    return f"trace:{trace_id}"


def _target(body: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    trace_id = _string(body, "traceId", max_len=128)
    observation_id = _string(body, "observationId", max_len=128)
    session_id = _string(body, "sessionId")
    if body.get("datasetRunId") is not None:
        raise Invalid("datasetRunId: dataset runs are not supported; score a trace or session")
    if observation_id is not None and trace_id is None:
        raise Invalid("observationId: needs the traceId of the observation's trace as well")
    if trace_id is not None and session_id is not None:
        raise Invalid(
            "target: give exactly one of traceId (with observationId) or sessionId, not both"
        )
    if trace_id is None and session_id is None:
        raise Invalid("target: give exactly one of traceId (with observationId) or sessionId")
    return trace_id, observation_id, session_id


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _bool_value(value: Any) -> float:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return 1.0 if value.strip().lower() == "true" else 0.0
    number = _number(value)
    if number not in (0.0, 1.0):
        raise Invalid(f"value: a BOOLEAN score must be 0 or 1 (true/false), got {value!r}")
    assert number is not None
    return number


def _text_value(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("value: a TEXT score must be a string of 1 to 500 characters")
    if len(value) > TEXT_MAX:
        raise Invalid(f"value: a TEXT score is at most {TEXT_MAX} characters (got {len(value)})")
    return value


def _value_with_config(config: ScoreConfig, value: Any) -> tuple[float | None, str | None]:
    kind = ScoreDataType(config.data_type)
    if kind == ScoreDataType.NUMERIC:
        number = _number(value)
        if number is None or isinstance(value, bool):
            raise Invalid(f"value: config {config.name!r} is NUMERIC; send a number, got {value!r}")
        if config.min_value is not None and number < config.min_value:
            raise Invalid(
                f"value: {number:g} is below the minimum {config.min_value:g} of {config.name!r}"
            )
        if config.max_value is not None and number > config.max_value:
            raise Invalid(
                f"value: {number:g} is above the maximum {config.max_value:g} of {config.name!r}"
            )
        return number, None
    if kind == ScoreDataType.CATEGORICAL:
        categories = config.categories or []
        if isinstance(value, str):
            for category in categories:
                if category["label"] == value:
                    return float(category["value"]), value
        number = _number(value)
        if number is not None and not isinstance(value, bool):
            for category in categories:
                if float(category["value"]) == number:
                    return number, str(category["label"])
        labels = ", ".join(repr(c["label"]) for c in categories)
        raise Invalid(
            f"value: {value!r} is not a category of {config.name!r}; categories are {labels}"
        )
    if kind == ScoreDataType.BOOLEAN:
        number = _bool_value(value)
        return number, "True" if number == 1.0 else "False"
    return None, _text_value(value)


def _value_without_config(
    data_type: str | None, value: Any
) -> tuple[str, float | None, str | None]:
    if data_type is None:
        if isinstance(value, bool):
            data_type = ScoreDataType.BOOLEAN.value
        elif isinstance(value, str):
            data_type = ScoreDataType.CATEGORICAL.value
        else:
            data_type = ScoreDataType.NUMERIC.value
    if data_type == ScoreDataType.NUMERIC.value:
        number = _number(value)
        if number is None or isinstance(value, bool):
            raise Invalid(f"value: a NUMERIC score needs a finite number, got {value!r}")
        return data_type, number, None
    if data_type == ScoreDataType.BOOLEAN.value:
        number = _bool_value(value)
        return data_type, number, "True" if number == 1.0 else "False"
    if data_type == ScoreDataType.CATEGORICAL.value:
        if isinstance(value, str) and value:
            return data_type, None, value[:1000]
        number = _number(value)
        if number is None or isinstance(value, bool):
            raise Invalid(f"value: a CATEGORICAL score needs a label (string), got {value!r}")
        return data_type, number, None
    if data_type in (ScoreDataType.TEXT.value, ScoreDataType.CORRECTION.value):
        if data_type == ScoreDataType.CORRECTION.value and isinstance(value, str) and value:
            return data_type, None, value
        return data_type, None, _text_value(value)
    raise Invalid(
        f"dataType: must be one of {', '.join(t.value for t in ScoreDataType)}, got {data_type!r}"
    )


def validate(
    body: Mapping[str, Any],
    *,
    configs: Mapping[str, ScoreConfig],
    actor: Actor,
    default_timestamp: datetime | None = None,
    queue_id: str | None = None,
) -> dict[str, Any]:
    """One score body -> the row to store, or Invalid naming the field and the rule."""
    if not isinstance(body, Mapping):
        raise Invalid("each score must be a JSON object")
    trace_id, observation_id, session_id = _target(body)
    source = body.get("source") or ScoreSource.API.value
    if source not in ScoreSource.__members__:
        raise Invalid(f"source: must be one of {', '.join(ScoreSource)}, got {source!r}")
    data_type = body.get("dataType")
    if data_type is not None and data_type not in ScoreDataType.__members__:
        raise Invalid(f"dataType: must be one of {', '.join(ScoreDataType)}, got {data_type!r}")
    if "value" not in body or body["value"] is None:
        raise Invalid("value: required")
    value = body["value"]
    name = _string(body, "name", max_len=NAME_MAX)
    config_id = _string(body, "configId", max_len=64)
    config: ScoreConfig | None = None
    if config_id is not None:
        config = configs.get(config_id)
        if config is None:
            raise Invalid(f"configId: no score config {config_id} in this project")
        if config.is_archived:
            raise Invalid(f"configId: score config {config.name!r} is archived; restore it first")
        if name is not None and name != config.name:
            raise Invalid(f"name: {name!r} does not match the config's name {config.name!r}")
        if data_type is not None and data_type != config.data_type:
            raise Invalid(f"dataType: {data_type} does not match the config's {config.data_type}")
        name = config.name
        data_type = config.data_type
        number, string = _value_with_config(config, value)
    else:
        if name is None:
            raise Invalid("name: required (or give a configId)")
        if source == ScoreSource.ANNOTATION.value:
            raise Invalid("configId: an ANNOTATION score needs a score config")
        data_type, number, string = _value_without_config(data_type, value)
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise Invalid("comment: must be a string")
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, Mapping):
        metadata = {"metadata": metadata}
    environment = _string(body, "environment", max_len=200) or "default"
    author = actor.user_id if source == ScoreSource.ANNOTATION.value else None
    raw_id = body.get("id")
    if raw_id is not None and (not isinstance(raw_id, str) or not raw_id or len(raw_id) > 128):
        raise Invalid("id: must be a string of 1 to 128 characters")
    return {
        "id": raw_id,
        "timestamp": _timestamp(body.get("timestamp"), default_timestamp),
        "name": name,
        "value": number,
        "string_value": string,
        "data_type": data_type,
        "source": source,
        "comment": comment or None,
        "metadata_": dict(metadata),
        "author_user_id": author,
        "config_id": config.id if config else None,
        "queue_id": queue_id or _string(body, "queueId", max_len=64),
        "environment": environment,
        "trace_id": trace_id,
        "observation_id": observation_id,
        "session_id": session_id,
        "target_key": target_key(trace_id, observation_id, session_id),
    }


_Values = tuple[float | None, str | None, str | None]  # value, string_value, comment


def _values(row: Mapping[str, Any]) -> _Values:
    return row["value"], row["string_value"], row["comment"]


def _history(
    row: dict[str, Any], action: str, actor: Actor, old: _Values | None, now: datetime
) -> dict[str, Any]:
    old_value, old_string, old_comment = old or (None, None, None)
    return {
        "id": uuid.uuid4().hex,
        "score_id": row["id"],
        "action": action,
        "changed_at": now,
        "changed_by_user_id": actor.user_id,
        "changed_by_key_id": actor.key_id,
        "old_value": old_value,
        "old_string_value": old_string,
        "old_comment": old_comment,
        "new_value": row.get("value"),
        "new_string_value": row.get("string_value"),
        "new_comment": row.get("comment"),
    }


_UPDATABLE = (
    "timestamp",
    "name",
    "value",
    "string_value",
    "data_type",
    "source",
    "comment",
    "metadata_",
    "config_id",
    "queue_id",
    "environment",
    "trace_id",
    "observation_id",
    "session_id",
    "target_key",
    "author_user_id",
)


_SCORES: Table = Score.__table__  # type: ignore[assignment]
_HISTORY: Table = ScoreChange.__table__  # type: ignore[assignment]
# Attribute name -> column name (the metadata_ attribute is the "metadata" column).
_COLUMN_OF = {attr: column.name for attr, column in Score.__mapper__.columns.items()}
_SET = (*_UPDATABLE, "updated_at")
_SCORE_KEYS = {column: attr for attr, column in _COLUMN_OF.items()}
_HISTORY_KEYS = {column.name: column.name for column in _HISTORY.columns}
_UPDATE_SCORE = (
    _SCORES.update()
    .where(
        _SCORES.c.project_id == bindparam("b_project_id"),
        _SCORES.c.id == bindparam("b_id"),
    )
    .values({_COLUMN_OF[attr]: bindparam(f"u_{attr}") for attr in _SET})
)
# What the write path reads of a stored score: its owner and everything an update compares.
_STORED = [
    Score.__mapper__.columns[attr].label(attr)
    for attr in ("id", "author_user_id", "created_at", *_UPDATABLE)
]


def _sqlite_time(value: datetime) -> str:
    # The text SQLAlchemy stores for UTCDateTime on SQLite: naive UTC with microseconds.
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _insert_many(
    session: Session, table: Table, keys: Mapping[str, str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT rows (`keys`: column name -> key in each row) with one DB-API executemany.

    The hot path of every score write: SQLAlchemy's per-row parameter processing cost as much
    as SQLite's own work, so values are converted here as the column types would (timestamps,
    JSON), with no Python call per plain value.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    names = list(keys)
    converted: list[tuple[int, Any]] = []
    for at, name in enumerate(names):
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime) and sqlite:
            converted.append((at, _sqlite_time))
        elif isinstance(column_type, JSON):
            converted.append((at, dump_json))
    fetch = itemgetter(*keys.values())
    values: list[tuple[Any, ...]] = []
    for row in rows:
        record = list(fetch(row))
        for at, convert in converted:
            if record[at] is not None:
                record[at] = convert(record[at])
        values.append(tuple(record))
    quote = connection.dialect.identifier_preparer.quote
    marks = ", ".join(["?" if sqlite else "%s"] * len(names))
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, names))}) VALUES ({marks})"
    connection.exec_driver_sql(sql, values)


def _update_params(row: Mapping[str, Any]) -> dict[str, Any]:
    params = {f"u_{attr}": row[attr] for attr in _SET}
    params["b_project_id"] = row["project_id"]
    params["b_id"] = row["id"]
    return params


def _stored_by_id(
    session: Session, project_id: str, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The stored scores among these ids (one query per 500 ids)."""
    found: dict[str, dict[str, Any]] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        for row in session.execute(
            select(*_STORED).where(Score.project_id == project_id, Score.id.in_(chunk))
        ).mappings():
            found[row["id"]] = dict(row)
    return found


def _own_annotations(
    session: Session, project_id: str, rows: Iterable[Mapping[str, Any]]
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Each annotator's stored ANNOTATION score per (target, config) that these rows address."""
    keys = {
        (r["target_key"], r["config_id"], r["author_user_id"])
        for r in rows
        if r["source"] == ScoreSource.ANNOTATION.value and r["author_user_id"]
    }
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    wanted = sorted(keys)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        params = {"project_id": project_id, "keys": chunk}
        for row in session.execute(_own_statement(), params).mappings():
            found[(row["target_key"], row["config_id"], row["author_user_id"])] = dict(row)
    return found


@cache
def _own_statement() -> Any:
    # Built once (building and keying it per call cost more than running it on the queue path).
    return select(*_STORED).where(
        Score.project_id == bindparam("project_id"),
        Score.source == ScoreSource.ANNOTATION.value,
        tuple_(Score.target_key, Score.config_id, Score.author_user_id).in_(
            bindparam("keys", expanding=True)
        ),
    )


def write_scores(
    session: Session,
    project_id: str,
    inputs: Sequence[ScoreInput],
    actor: Actor,
    *,
    queue_id: str | None = None,
) -> WriteResult:
    """Validate and upsert scores; invalid ones are reported by index, the rest are stored.

    Upsert by id. An ANNOTATION score by a person replaces that person's own earlier score on
    the same target and config (never another person's). History records every change.
    """
    result = WriteResult(ids=[None] * len(inputs))
    config_ids = {
        str(i.body.get("configId"))
        for i in inputs
        if isinstance(i.body, Mapping) and isinstance(i.body.get("configId"), str)
    }
    configs = score_configs.configs_by_id(session, project_id, config_ids)
    rows: dict[int, dict[str, Any]] = {}
    for position, item in enumerate(inputs):
        try:
            rows[position] = validate(
                item.body,
                configs=configs,
                actor=actor,
                default_timestamp=item.default_timestamp,
                queue_id=queue_id,
            )
        except Invalid as exc:
            result.errors[position] = exc.message
    if not rows:
        return result

    existing = _stored_by_id(session, project_id, [r["id"] for r in rows.values() if r["id"]])
    own = _own_annotations(session, project_id, rows.values())

    now = utcnow()
    inserts: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    originals: dict[str, dict[str, Any]] = {}  # stored state of each updated score
    history: list[dict[str, Any]] = []
    for position, row in rows.items():
        stored: dict[str, Any] | None = None
        if row["id"] and row["id"] in existing:
            stored = existing[row["id"]]
        elif row["source"] == ScoreSource.ANNOTATION.value and row["author_user_id"]:
            stored = own.get((row["target_key"], row["config_id"], row["author_user_id"]))
        if stored is not None:
            stored_id = stored["id"]
            if stored["author_user_id"] and stored["author_user_id"] != actor.user_id:
                result.errors[position] = (
                    f"id: score {stored_id} belongs to another annotator; "
                    "each person edits only their own scores"
                )
                continue
            if stored["source"] == ScoreSource.ANNOTATION.value:
                row["source"] = stored["source"]
            row["id"] = stored_id
            row["project_id"] = project_id
            row["author_user_id"] = stored["author_user_id"] or row["author_user_id"]
            row["created_at"] = stored["created_at"]
            row["updated_at"] = now
            # Compared with the state before this row: an earlier row of this batch, or stored.
            before = updates.get(stored_id) or stored
            old = _values(before)
            changed = old != _values(row)
            if changed:
                history.append(_history(row, "UPDATE", actor, old, now))
            if changed or any(before[k] != row[k] for k in _UPDATABLE):
                updates[stored_id] = row
                originals[stored_id] = stored
        else:
            row["id"] = row["id"] or uuid.uuid4().hex
            row["project_id"] = project_id
            row["created_at"] = now
            row["updated_at"] = now
            earlier = inserts.get(row["id"])
            inserts[row["id"]] = row
            if earlier is None:
                history.append(_history(row, "CREATE", actor, None, now))
            elif _values(earlier) != _values(row):
                # The same new id twice in one batch: the later one wins, as an update would,
                # and the history says so.
                history.append(_history(row, "UPDATE", actor, _values(earlier), now))
        result.ids[position] = row["id"]
    counts: Counter[score_counts.CountKey] = Counter()
    if inserts:
        _insert_many(session, _SCORES, _SCORE_KEYS, list(inserts.values()))
        counts.update(score_counts.key_of(r) for r in inserts.values())
    if updates:
        session.execute(_UPDATE_SCORE, [_update_params(r) for r in updates.values()])
        counts.update(score_counts.key_of(r) for r in updates.values())
        counts.subtract(score_counts.key_of(r) for r in originals.values())
    score_counts.apply(session, project_id, counts)
    if history:
        # History reads in (changed_at, id) order: several changes of one score in one batch
        # get successive microseconds, so they read in the order they were sent.
        per_score: dict[str, int] = {}
        for entry in history:
            seen = per_score.get(entry["score_id"], 0)
            per_score[entry["score_id"]] = seen + 1
            if seen:
                entry["changed_at"] = now + timedelta(microseconds=seen)
            entry["project_id"] = project_id
        _insert_many(session, _HISTORY, _HISTORY_KEYS, history)
    return result


def get_score(session: Session, project_id: str, score_id: str) -> Score:
    score = session.get(Score, (project_id, score_id))
    if score is None:
        raise NotFound(f"score {score_id} not found")
    return score


def delete_score(session: Session, project_id: str, score_id: str, actor: Actor) -> None:
    score = get_score(session, project_id, score_id)
    if score.author_user_id and score.author_user_id != actor.user_id and not actor.is_admin:
        raise Forbidden(
            "this score belongs to another annotator; only they or an ADMIN may delete it"
        )
    now = utcnow()
    session.execute(
        _HISTORY.insert(),
        [
            {
                "id": uuid.uuid4().hex,
                "project_id": project_id,
                "score_id": score.id,
                "action": "DELETE",
                "changed_at": now,
                "changed_by_user_id": actor.user_id,
                "changed_by_key_id": actor.key_id,
                "old_value": score.value,
                "old_string_value": score.string_value,
                "old_comment": score.comment,
                "new_value": None,
                "new_string_value": None,
                "new_comment": None,
            }
        ],
    )
    session.delete(score)
    score_counts.apply(session, project_id, Counter({score_counts.key_of(_attributes(score)): -1}))


def _attributes(score: Score) -> dict[str, Any]:
    return {attr: getattr(score, attr) for attr in _COLUMN_OF}


def history_of(session: Session, project_id: str, score_id: str) -> list[ScoreChange]:
    rows = list(
        session.scalars(
            select(ScoreChange)
            .where(ScoreChange.project_id == project_id, ScoreChange.score_id == score_id)
            .order_by(ScoreChange.changed_at, ScoreChange.id)
        )
    )
    if not rows:
        raise NotFound(f"score {score_id} not found")
    return rows


def scores_for_trace(session: Session, project_id: str, trace_id: str) -> list[Score]:
    """Oldest first; sorted here so that SQLite looks the trace up by its index (an ORDER BY
    timestamp leads it, without statistics, to walk the project's timestamp index)."""
    rows = session.scalars(
        select(Score).where(Score.project_id == project_id, Score.trace_id == trace_id)
    )
    return sorted(rows, key=lambda r: (r.timestamp, r.id))


def score_ids_by_trace(
    session: Session, project_id: str, trace_ids: Sequence[str]
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {t: [] for t in trace_ids}
    if not trace_ids:
        return out
    for trace_id, score_id in session.execute(
        select(Score.trace_id, Score.id).where(
            Score.project_id == project_id, Score.trace_id.in_(list(trace_ids))
        )
    ):
        out.setdefault(trace_id or "", []).append(score_id)
    return out
