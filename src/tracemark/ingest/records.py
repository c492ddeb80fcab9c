"""The parsers' output: what to upsert, independent of the wire format it came in.

Every parser (OTLP, Langfuse batch events) turns a request into a list of `TraceUpsert` and
`ObservationUpsert` records. `tracemark.services.ingest` merges them into storage. A record
carries only the fields the client actually sent (`fields`), keyed by the names below, so that
an update never blanks what an earlier event set.

Merge rules (applied by the service, in arrival order):
- a field present in `fields` replaces the stored value, except
- `metadata` (dict) is merged key by key (new keys win), and
- trace `tags` are unioned (order of first appearance kept).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ObservationType(enum.StrEnum):
    SPAN = "SPAN"
    GENERATION = "GENERATION"
    EVENT = "EVENT"
    AGENT = "AGENT"
    TOOL = "TOOL"
    CHAIN = "CHAIN"
    RETRIEVER = "RETRIEVER"
    EVALUATOR = "EVALUATOR"
    EMBEDDING = "EMBEDDING"
    GUARDRAIL = "GUARDRAIL"


class Level(enum.StrEnum):
    """Observation level, least severe first."""

    DEBUG = "DEBUG"
    DEFAULT = "DEFAULT"
    WARNING = "WARNING"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


# Trace fields a record may carry, with the Python type each value must have.
TRACE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "user_id": str,
    "session_id": str,
    "release": str,
    "version": str,
    "environment": str,
    "public": bool,
    "tags": list,  # list[str]
    "metadata": dict,  # dict[str, Any]
    "input": object,  # any JSON value
    "output": object,  # any JSON value
    "timestamp": datetime,  # aware UTC
}

# Observation fields a record may carry.
OBSERVATION_FIELDS: dict[str, type | tuple[type, ...]] = {
    "type": str,  # an ObservationType value
    "name": str,
    "parent_observation_id": str,
    "start_time": datetime,  # aware UTC
    "end_time": datetime,
    "completion_start_time": datetime,
    "level": str,  # a Level value
    "status_message": str,
    "version": str,
    "environment": str,
    "input": object,
    "output": object,
    "metadata": dict,
    "model": str,
    "model_parameters": dict,  # dict[str, str | int | float | bool | list]
    "usage_details": dict,  # dict[str, int | float], e.g. {"input": 10, "output": 5, "total": 15}
    "cost_details": dict,  # dict[str, float] in USD, e.g. {"input": 0.001, "total": 0.003}
    "prompt_name": str,
    "prompt_version": int,
}


@dataclass
class TraceUpsert:
    id: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class ObservationUpsert:
    id: str
    trace_id: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Batch:
    """What one request asks to store, in arrival order."""

    traces: list[TraceUpsert] = field(default_factory=list)
    observations: list[ObservationUpsert] = field(default_factory=list)
