"""Trace, observation and session shapes of the public API (Langfuse's, camelCase)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import field_serializer

from tracemark.api.schemas.common import WireModel
from tracemark.db.models import Observation, Trace, TraceSession


def iso(value: datetime | None) -> str | None:
    """Langfuse's timestamp form: UTC with milliseconds and Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Meta(WireModel):
    page: int
    limit: int
    total_items: int
    total_pages: int


def page_meta(page: int, limit: int, total: int) -> Meta:
    return Meta(page=page, limit=limit, total_items=total, total_pages=(total + limit - 1) // limit)


class Usage(WireModel):
    input: int | None = None
    output: int | None = None
    total: int | None = None
    unit: str | None = "TOKENS"


class ObservationOut(WireModel):
    id: str
    trace_id: str
    type: str
    name: str | None
    start_time: datetime
    end_time: datetime | None
    completion_start_time: datetime | None
    model: str | None
    model_parameters: dict[str, Any] | None
    input: Any
    output: Any
    version: str | None
    metadata: dict[str, Any]
    usage: Usage
    usage_details: dict[str, Any]
    cost_details: dict[str, Any]
    level: str
    status_message: str | None
    parent_observation_id: str | None
    prompt_name: str | None
    prompt_version: int | None
    environment: str
    calculated_input_cost: float | None
    calculated_output_cost: float | None
    calculated_total_cost: float | None
    latency: float | None
    time_to_first_token: float | None
    project_id: str

    @field_serializer("start_time", "end_time", "completion_start_time")
    def _ts(self, value: datetime | None) -> str | None:
        return iso(value)


def observation_out(obs: Observation) -> ObservationOut:
    cost = obs.cost_details or {}
    latency = (obs.end_time - obs.start_time).total_seconds() if obs.end_time else None
    ttft = (
        (obs.completion_start_time - obs.start_time).total_seconds()
        if obs.completion_start_time
        else None
    )
    return ObservationOut(
        id=obs.id,
        trace_id=obs.trace_id,
        type=obs.type,
        name=obs.name,
        start_time=obs.start_time,
        end_time=obs.end_time,
        completion_start_time=obs.completion_start_time,
        model=obs.model,
        model_parameters=obs.model_parameters,
        input=obs.input,
        output=obs.output,
        version=obs.version,
        metadata=obs.metadata_ or {},
        # Langfuse reports 0, not null, and the 3.x/4.x SDK models require numbers.
        usage=Usage(
            input=obs.input_tokens or 0, output=obs.output_tokens or 0, total=obs.total_tokens or 0
        ),
        usage_details=obs.usage_details or {},
        cost_details=cost,
        level=obs.level,
        status_message=obs.status_message,
        parent_observation_id=obs.parent_observation_id,
        prompt_name=obs.prompt_name,
        prompt_version=obs.prompt_version,
        environment=obs.environment,
        calculated_input_cost=cost.get("input"),
        calculated_output_cost=cost.get("output"),
        calculated_total_cost=cost.get("total"),
        latency=latency,
        time_to_first_token=ttft,
        project_id=obs.project_id,
    )


class TraceOut(WireModel):
    id: str
    timestamp: datetime
    name: str | None
    input: Any
    output: Any
    session_id: str | None
    release: str | None
    version: str | None
    user_id: str | None
    metadata: dict[str, Any]
    tags: list[str]
    public: bool
    environment: str
    html_path: str
    latency: float | None
    total_cost: float | None
    level: str
    input_tokens: int
    output_tokens: int
    total_tokens: int
    observation_count: int
    project_id: str
    created_at: datetime
    updated_at: datetime
    observations: list[Any]
    scores: list[Any]

    @field_serializer("timestamp", "created_at", "updated_at")
    def _ts(self, value: datetime) -> str | None:
        return iso(value)


def trace_out(trace: Trace, observations: list[Any], scores: list[Any]) -> TraceOut:
    return TraceOut(
        id=trace.id,
        timestamp=trace.timestamp,
        name=trace.name,
        input=trace.input,
        output=trace.output,
        session_id=trace.session_id,
        release=trace.release,
        version=trace.version,
        user_id=trace.user_id,
        metadata=trace.metadata_ or {},
        tags=list(trace.tags or []),
        public=trace.public,
        environment=trace.environment,
        html_path=f"/project/{trace.project_id}/traces/{trace.id}",
        latency=trace.latency,
        total_cost=trace.total_cost or 0.0,  # the 2.x SDK's model requires a number
        level=trace.level,
        input_tokens=trace.input_tokens,
        output_tokens=trace.output_tokens,
        total_tokens=trace.total_tokens,
        observation_count=trace.observation_count,
        project_id=trace.project_id,
        created_at=trace.created_at,
        updated_at=trace.updated_at,
        observations=observations,
        scores=scores,
    )


class SessionOut(WireModel):
    id: str
    created_at: datetime
    project_id: str
    environment: str

    @field_serializer("created_at")
    def _ts(self, value: datetime) -> str | None:
        return iso(value)


def session_out(row: TraceSession) -> SessionOut:
    return SessionOut(
        id=row.id, created_at=row.created_at, project_id=row.project_id, environment=row.environment
    )
