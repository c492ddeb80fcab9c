"""Langfuse batch ingestion bodies (`POST /api/public/ingestion`) mapped to records.

Pure parsing: no database, no HTTP. `parse_ingestion` validates every event on its own, so a
bad event becomes an `EventError` (answered with status 400 inside the 207 body) and the rest of
the batch is kept. The shapes are those of langfuse 2.x (and score-create from 3.x/4.x), see
docs `langfuse-wire.md` section 3 and `langfuse-model.md` section 2.3.

Decisions (the service relies on them):

- Only fields the client sent are emitted; JSON `null` counts as "not sent" (Langfuse's schema
  is `.nullish()` throughout), so an update never blanks a stored value.
- Envelope timestamps never go into `fields`. trace-create doubles as the trace *update* event,
  so "body.timestamp, else the envelope timestamp" would move a trace's timestamp on every
  update if written as a field. Instead `body.timestamp` is emitted when sent, and the envelope
  timestamp of the first trace-create without one is reported in
  `IngestionParse.default_trace_timestamps`, to be used only when the trace is new and still has
  no timestamp after the batch is merged. Observation creates without a start time likewise
  report the envelope timestamp in `IngestionParse.default_start_times`.
- `*-update` events may omit `traceId`. Their record then carries `trace_id == ""` unless another
  event of the same batch names the observation's trace (filled in here). A remaining `""` must be
  resolved by the service from the stored observation.
- `*-create` events without `body.id` get the envelope id as entity id (Langfuse generates a
  random one; reusing the event id keeps re-sent batches idempotent). Updates require `body.id`.
- Observation creates always emit `type`; updates emit it only when `observation-update` sends
  `body.type` (a span-update must not turn a TOOL created by observation-create into a SPAN).
- EVENT observations: `end_time = start_time` when the body has a start time and no end time.
- Snake_case duplicates from the 2.x decorator (`start_time`, `end_time`, `completion_start_time`,
  `parent_observation_id`) are fallbacks for observations and ignored for traces.
- An empty `parentObservationId` means "no parent" and is ignored.
- Usage: `usage` (legacy `{input, output, total, unit, inputCost, ...}` or OpenAI style) and
  `usageDetails` are both normalised and merged, `usageDetails` winning per key; likewise
  `costDetails` over the legacy `*Cost` values. OpenAI names map to `input`/`output`/`total`,
  `*_tokens_details` entries become `input_<key>` / `output_<key>` (Langfuse's server, as far as
  we know, also subtracts those from `input`/`output`; we keep the counts as sent). Totals are never
  invented. Values must be non-negative finite numbers, `null` entries are dropped, and an
  empty result is not emitted. Costs are floats.
- `modelParameters`: numeric strings become numbers (`"0.7"` -> 0.7, `"100"` -> 100), `null`
  entries are dropped, object values are stored as their JSON text.
- Non-object `metadata` becomes `{"metadata": value}`.
- Event types: those of langfuse 2.x plus Langfuse's typed creates (`agent-create`, `tool-create`,
  ..., `guardrail-create`). `sdk-log` is a success without any check of its body or timestamp.
  `score-create` goes to `IngestionParse.scores` (neither success nor error here).
- The envelope timestamp may be missing (Langfuse requires it); when present it must parse.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tracemark.ingest.records import (
    Batch,
    Level,
    ObservationType,
    ObservationUpsert,
    TraceUpsert,
)
from tracemark.services.errors import Invalid

__all__ = ["EventError", "IngestionParse", "ScoreEvent", "parse_ingestion"]

BAD_BODY = "body must be a JSON object with a 'batch' array"
_ERROR_KIND = "InvalidRequest"


@dataclass
class EventError:
    id: str
    status: int
    message: str
    error: str


@dataclass
class ScoreEvent:
    """A score-create event, validated only as far as the envelope; the score service decides."""

    event_id: str
    body: dict[str, Any]
    timestamp: datetime | None = None  # envelope timestamp: score bodies carry none


@dataclass
class IngestionParse:
    batch: Batch  # in event order
    successes: list[str]  # event ids accepted (status 201)
    errors: list[EventError]
    scores: list[ScoreEvent]
    # Envelope timestamps to use only for a record that is new and still lacks the field.
    default_trace_timestamps: dict[str, datetime] = field(default_factory=dict)
    default_start_times: dict[str, datetime] = field(default_factory=dict)
    # Observation id -> ids of the update events that left its trace unknown (`trace_id == ""`
    # after this parse): if storage cannot resolve it either, these events failed.
    untraced_events: dict[str, list[str]] = field(default_factory=dict)


class _Reject(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------
# Value converters: (value, where) -> value; raise _Reject naming `where` and the rule.


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _Reject(f"{where}: must be a string, got {_json_type(value)}")
    return value


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Reject(f"{where}: must be a non-empty string, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    return "an empty string" if value == "" else _json_type(value)


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _Reject(f"{where}: must be a boolean, got {_json_type(value)}")
    return value


def _any(value: Any, where: str) -> Any:
    return value


def _timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise _Reject(f"{where}: must be an ISO 8601 date-time string, got {_json_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Reject(f"{where}: not an ISO 8601 date-time: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _tags(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise _Reject(f"{where}: must be an array of strings, got {_json_type(value)}")
    for i, tag in enumerate(value):
        if not isinstance(tag, str):
            raise _Reject(f"{where}[{i}]: must be a string, got {_json_type(tag)}")
    return value


def _metadata(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {"metadata": value}


_LEVELS = frozenset(level.value for level in Level)
_LEVEL_LIST = ", ".join(level.value for level in Level)
_TYPES = frozenset(t.value for t in ObservationType)
_TYPE_LIST = ", ".join(t.value for t in ObservationType)


def _level(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in _LEVELS:
        raise _Reject(f"{where}: must be one of {_LEVEL_LIST}, got {_shown(value)}")
    return value


def _observation_type(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in _TYPES:
        raise _Reject(f"{where}: must be one of {_TYPE_LIST}, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    return repr(value[:64]) if isinstance(value, str) else _json_type(value)


def _prompt_version(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Reject(f"{where}: must be an integer, got {_json_type(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise _Reject(f"{where}: must be an integer, got {value!r}")
        return int(value)
    return value


_NUMERIC = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _model_parameters(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Reject(f"{where}: must be an object, got {_json_type(value)}")
    out: dict[str, Any] = {}
    for key, param in value.items():
        if param is None:
            continue
        if isinstance(param, str):
            match = _NUMERIC.fullmatch(param)
            if match is not None:
                if match.group(1) is None and match.group(2) is None:
                    out[key] = int(param)
                    continue
                number = float(param)
                if math.isfinite(number):
                    out[key] = number
                    continue
            out[key] = param
        elif isinstance(param, float) and not math.isfinite(param):
            raise _Reject(f"{where}.{key}: must be a finite number")
        elif isinstance(param, bool | int | float | list):
            out[key] = param
        else:  # an object (Langfuse allows string maps): keep its JSON text
            out[key] = json.dumps(param, ensure_ascii=False, sort_keys=True)
    return out


def _amount(value: Any, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Reject(f"{where}: must be a non-negative number, got {_json_type(value)}")
    if not math.isfinite(value) or value < 0:
        raise _Reject(f"{where}: must be a non-negative number, got {value!r}")
    return value


# usage key aliases: legacy camelCase and OpenAI chat-completions / responses names
_USAGE_ALIASES = {
    "promptTokens": "input",
    "prompt_tokens": "input",
    "input_tokens": "input",
    "completionTokens": "output",
    "completion_tokens": "output",
    "output_tokens": "output",
    "totalTokens": "total",
    "total_tokens": "total",
}
_USAGE_DETAIL_PREFIXES = {
    "prompt_tokens_details": "input_",
    "input_tokens_details": "input_",
    "completion_tokens_details": "output_",
    "output_tokens_details": "output_",
}
_LEGACY_COSTS = {"inputCost": "input", "outputCost": "output", "totalCost": "total"}


def _usage(
    value: Any, where: str, usage: dict[str, int | float], cost: dict[str, float], legacy: bool
) -> None:
    """Normalise a usage map into `usage` (and, for legacy `usage`, its costs into `cost`)."""
    if not isinstance(value, dict):
        raise _Reject(f"{where}: must be an object, got {_json_type(value)}")
    entries: dict[str, Any] = value
    for key, amount in entries.items():
        if amount is None:
            continue
        if legacy and key == "unit":
            continue
        if legacy and key in _LEGACY_COSTS:
            cost[_LEGACY_COSTS[key]] = float(_amount(amount, f"{where}.{key}"))
        elif key in _USAGE_DETAIL_PREFIXES:
            if not isinstance(amount, dict):
                raise _Reject(f"{where}.{key}: must be an object, got {_json_type(amount)}")
            prefix = _USAGE_DETAIL_PREFIXES[key]
            for sub, sub_amount in amount.items():
                if sub_amount is not None:
                    usage[prefix + sub] = _amount(sub_amount, f"{where}.{key}.{sub}")
        else:
            usage[_USAGE_ALIASES.get(key, key)] = _amount(amount, f"{where}.{key}")


def _costs(value: Any, where: str, cost: dict[str, float]) -> None:
    if not isinstance(value, dict):
        raise _Reject(f"{where}: must be an object, got {_json_type(value)}")
    for key, amount in value.items():
        if amount is not None:
            cost[key] = float(_amount(amount, f"{where}.{key}"))


# --------------------------------------------------------------------------------------------
# Field tables: (wire key, snake_case fallback or None, record key, converter)

_Converter = Callable[[Any, str], Any]

_TRACE_FIELDS: tuple[tuple[str, str, _Converter], ...] = (
    ("name", "name", _string),
    ("userId", "user_id", _string),
    ("sessionId", "session_id", _string),
    ("release", "release", _string),
    ("version", "version", _string),
    ("environment", "environment", _string),
    ("public", "public", _boolean),
    ("tags", "tags", _tags),
    ("metadata", "metadata", _metadata),
    ("input", "input", _any),
    ("output", "output", _any),
    ("timestamp", "timestamp", _timestamp),
)

_OBSERVATION_FIELDS: tuple[tuple[str, str | None, str, _Converter], ...] = (
    ("name", None, "name", _string),
    ("startTime", "start_time", "start_time", _timestamp),
    ("endTime", "end_time", "end_time", _timestamp),
    ("completionStartTime", "completion_start_time", "completion_start_time", _timestamp),
    ("level", None, "level", _level),
    ("statusMessage", None, "status_message", _string),
    ("version", None, "version", _string),
    ("environment", None, "environment", _string),
    ("input", None, "input", _any),
    ("output", None, "output", _any),
    ("metadata", None, "metadata", _metadata),
    ("model", None, "model", _string),
    ("modelParameters", None, "model_parameters", _model_parameters),
    ("promptName", None, "prompt_name", _string),
    ("promptVersion", None, "prompt_version", _prompt_version),
)

# event type -> (observation type or None = from body.type, is a create)
_OBSERVATION_EVENTS: dict[str, tuple[str | None, bool]] = {
    "span-create": (ObservationType.SPAN.value, True),
    "span-update": (ObservationType.SPAN.value, False),
    "generation-create": (ObservationType.GENERATION.value, True),
    "generation-update": (ObservationType.GENERATION.value, False),
    "event-create": (ObservationType.EVENT.value, True),
    "agent-create": (ObservationType.AGENT.value, True),
    "tool-create": (ObservationType.TOOL.value, True),
    "chain-create": (ObservationType.CHAIN.value, True),
    "retriever-create": (ObservationType.RETRIEVER.value, True),
    "evaluator-create": (ObservationType.EVALUATOR.value, True),
    "embedding-create": (ObservationType.EMBEDDING.value, True),
    "guardrail-create": (ObservationType.GUARDRAIL.value, True),
    "observation-create": (None, True),
    "observation-update": (None, False),
}
_OTHER_EVENTS = frozenset({"trace-create", "score-create", "sdk-log"})
_EVENT_TYPES = ", ".join(["trace-create", *_OBSERVATION_EVENTS, "score-create", "sdk-log"])


# --------------------------------------------------------------------------------------------


def _trace(event_id: str, body: dict[str, Any]) -> TraceUpsert:
    raw_id = body.get("id")
    trace_id = event_id if raw_id is None else _id(raw_id, "body.id")
    fields: dict[str, Any] = {}
    for wire, key, convert in _TRACE_FIELDS:
        value = body.get(wire)
        if value is not None:
            fields[key] = convert(value, f"body.{wire}")
    return TraceUpsert(id=trace_id, fields=fields)


def _observation(
    event_type: str, event_id: str, body: dict[str, Any]
) -> tuple[ObservationUpsert, bool]:
    fixed_type, is_create = _OBSERVATION_EVENTS[event_type]
    raw_id = body.get("id")
    if raw_id is None:
        if not is_create:
            raise _Reject(f"body.id: required on {event_type}")
        obs_id = event_id
    else:
        obs_id = _id(raw_id, "body.id")
    raw_trace = body.get("traceId")
    if raw_trace is None:
        if is_create:
            raise _Reject(f"body.traceId: required on {event_type}")
        trace_id = ""
    else:
        trace_id = _id(raw_trace, "body.traceId")

    fields: dict[str, Any] = {}
    if fixed_type is None:
        raw_type = body.get("type")
        if raw_type is not None:
            fields["type"] = _observation_type(raw_type, "body.type")
        elif is_create:
            raise _Reject(f"body.type: required on {event_type}")
    elif is_create:
        fields["type"] = fixed_type

    for wire, snake, key, convert in _OBSERVATION_FIELDS:
        value = body.get(wire)
        where = wire
        if value is None and snake is not None:
            value = body.get(snake)
            where = snake
        if value is not None:
            fields[key] = convert(value, f"body.{where}")

    parent = body.get("parentObservationId")
    where = "parentObservationId"
    if parent is None or parent == "":
        parent = body.get("parent_observation_id")
        where = "parent_observation_id"
    if parent is not None and parent != "":
        fields["parent_observation_id"] = _string(parent, f"body.{where}")

    usage: dict[str, int | float] = {}
    cost: dict[str, float] = {}
    if body.get("usage") is not None:
        _usage(body["usage"], "body.usage", usage, cost, legacy=True)
    if body.get("usageDetails") is not None:
        _usage(body["usageDetails"], "body.usageDetails", usage, cost, legacy=False)
    if body.get("costDetails") is not None:
        _costs(body["costDetails"], "body.costDetails", cost)
    if usage:
        fields["usage_details"] = usage
    if cost:
        fields["cost_details"] = cost

    if (
        fields.get("type") == ObservationType.EVENT.value
        and "start_time" in fields
        and "end_time" not in fields
    ):
        fields["end_time"] = fields["start_time"]
    return ObservationUpsert(id=obs_id, trace_id=trace_id, fields=fields), is_create


def parse_ingestion(payload: Any) -> IngestionParse:
    """Parse a `POST /api/public/ingestion` JSON body.

    Raises `Invalid` when the top level is not `{"batch": [...]}`; every other problem is a
    per-event `EventError` and the event is skipped.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise Invalid(BAD_BODY)
    result = IngestionParse(batch=Batch(), successes=[], errors=[], scores=[])
    traces = result.batch.traces
    observations = result.batch.observations
    untraced: list[tuple[ObservationUpsert, str]] = []

    for index, event in enumerate(payload["batch"]):
        event_id = f"#{index}"
        try:
            if not isinstance(event, dict):
                raise _Reject(f"event: must be an object, got {_json_type(event)}")
            raw_id = event.get("id")
            if raw_id is None:
                raise _Reject("id: required (the event id, a non-empty string)")
            event_id = _id(raw_id, "id")
            event_type = event.get("type")
            if not isinstance(event_type, str):
                raise _Reject(f"type: must be a string, got {_json_type(event_type)}")
            if event_type == "sdk-log":  # debug output from the SDK: accepted, not stored
                result.successes.append(event_id)
                continue
            if event_type not in _OBSERVATION_EVENTS and event_type not in _OTHER_EVENTS:
                raise _Reject(
                    f"type: unknown event type {event_type[:64]!r}; expected one of {_EVENT_TYPES}"
                )
            raw_ts = event.get("timestamp")
            envelope_ts = None if raw_ts is None else _timestamp(raw_ts, "timestamp")
            body = event.get("body")
            if not isinstance(body, dict):
                raise _Reject(f"body: must be an object, got {_json_type(body)}")

            if event_type == "score-create":
                result.scores.append(ScoreEvent(event_id, body, envelope_ts))
                continue
            if event_type == "trace-create":
                trace = _trace(event_id, body)
                traces.append(trace)
                if envelope_ts is not None and "timestamp" not in trace.fields:
                    result.default_trace_timestamps.setdefault(trace.id, envelope_ts)
            else:
                obs, is_create = _observation(event_type, event_id, body)
                observations.append(obs)
                if not obs.trace_id:
                    untraced.append((obs, event_id))
                if is_create and envelope_ts is not None and "start_time" not in obs.fields:
                    result.default_start_times.setdefault(obs.id, envelope_ts)
            result.successes.append(event_id)
        except _Reject as reject:
            result.errors.append(EventError(event_id, 400, reject.message, _ERROR_KIND))

    # A default is moot when some event of the batch sent the field itself.
    for trace in traces:
        if "timestamp" in trace.fields:
            result.default_trace_timestamps.pop(trace.id, None)
    for obs in observations:
        if "start_time" in obs.fields:
            result.default_start_times.pop(obs.id, None)

    # Updates without traceId: take the trace another event of this batch gave the observation.
    if any(not obs.trace_id for obs in observations):
        trace_of: dict[str, str] = {}
        for obs in observations:
            if obs.trace_id:
                trace_of.setdefault(obs.id, obs.trace_id)
        for obs in observations:
            if not obs.trace_id:
                obs.trace_id = trace_of.get(obs.id, "")
    for obs, event_id in untraced:
        if not obs.trace_id:
            result.untraced_events.setdefault(obs.id, []).append(event_id)
    return result
