"""Traces: list, get with observations, delete (one and bulk)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tracemark.api.deps import AUTH_ERRORS, DB, Caller
from tracemark.api.schemas.common import WireModel, as_utc
from tracemark.api.schemas.scoring import ScoreOut, score_out
from tracemark.api.schemas.tracing import (
    Meta,
    ObservationOut,
    TraceOut,
    observation_out,
    page_meta,
    trace_out,
)
from tracemark.services import scores, traces
from tracemark.services.errors import NotFound
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["traces"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid query or body"},
    404: {"description": "No such trace in this project"},
}


class Traces(WireModel):
    data: list[TraceOut]
    meta: Meta


class TraceDetail(TraceOut):
    observations: list[ObservationOut]
    scores: list[ScoreOut]


class DeleteTraces(WireModel):
    trace_ids: list[str]


class Deleted(WireModel):
    message: str


@router.get("/traces", operation_id="traces_list", response_model=Traces, responses=ERRORS)
def list_traces(
    caller: Caller,
    db: DB,
    page: int = 1,
    limit: int = 50,
    user_id: Annotated[str | None, Query(alias="userId")] = None,
    name: str | None = None,
    session_id: Annotated[str | None, Query(alias="sessionId")] = None,
    from_timestamp: Annotated[datetime | None, Query(alias="fromTimestamp")] = None,
    to_timestamp: Annotated[datetime | None, Query(alias="toTimestamp")] = None,
    order_by: Annotated[str | None, Query(alias="orderBy")] = None,
    tags: Annotated[list[str] | None, Query()] = None,
    version: str | None = None,
    release: str | None = None,
    environment: Annotated[list[str] | None, Query()] = None,
    level: Annotated[list[str] | None, Query()] = None,
    metadata_key: Annotated[str | None, Query(alias="metadataKey")] = None,
    metadata_value: Annotated[str | None, Query(alias="metadataValue")] = None,
    score_name: Annotated[str | None, Query(alias="scoreName")] = None,
    score_operator: Annotated[str | None, Query(alias="scoreOperator")] = None,
    score_value: Annotated[float | None, Query(alias="scoreValue")] = None,
    score_string_value: Annotated[str | None, Query(alias="scoreStringValue")] = None,
    not_in_queue_id: Annotated[str | None, Query(alias="notInQueueId")] = None,
) -> Traces:
    """List traces, newest first, with filters."""
    require(caller.role, Permission.READ)
    flt = traces.TraceFilter(
        user_id=user_id,
        name=name,
        session_id=session_id,
        from_timestamp=as_utc(from_timestamp),
        to_timestamp=as_utc(to_timestamp),
        tags=tags or [],
        version=version,
        release=release,
        environments=environment or [],
        levels=traces.check_levels(level or []),
        metadata=traces.metadata_pair(metadata_key, metadata_value),
        score_name=score_name,
        score_operator=score_operator,
        score_value=score_value,
        score_string_value=score_string_value,
        not_in_queue_id=not_in_queue_id,
    )
    with db.read() as session:
        rows, total = traces.list_traces(
            session, caller.project_id, flt, page=page, limit=limit, order_by=order_by
        )
        ids = [t.id for t in rows]
        obs_ids = traces.observation_ids_by_trace(session, caller.project_id, ids)
        score_ids = scores.score_ids_by_trace(session, caller.project_id, ids)
        return Traces(
            data=[trace_out(t, obs_ids.get(t.id, []), score_ids.get(t.id, [])) for t in rows],
            meta=page_meta(page, limit, total),
        )


@router.get(
    "/traces/{trace_id:path}",
    operation_id="traces_get",
    response_model=TraceDetail,
    responses=ERRORS,
)
def get_trace(caller: Caller, db: DB, trace_id: str) -> TraceDetail:
    """One trace with its observations and scores."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        trace = traces.get_trace(session, caller.project_id, trace_id)
        observations = [
            observation_out(o) for o in traces.observations_of(session, caller.project_id, trace_id)
        ]
        trace_scores = [
            score_out(s) for s in scores.scores_for_trace(session, caller.project_id, trace_id)
        ]
        base = trace_out(trace, [], [])
        return TraceDetail(
            **{**base.__dict__, "observations": observations, "scores": trace_scores}
        )


@router.delete(
    "/traces/{trace_id:path}",
    operation_id="traces_delete",
    response_model=Deleted,
    responses=ERRORS,
)
def delete_trace(caller: Caller, db: DB, trace_id: str) -> Deleted:
    """Delete one trace and its observations."""
    require(caller.role, Permission.DELETE_TRACES)
    with db.write() as session:
        if not traces.delete_traces(session, caller.project_id, [trace_id]):
            raise NotFound(f"trace {trace_id} not found")
    return Deleted(message="Trace deleted successfully")


@router.delete(
    "/traces", operation_id="traces_delete_multiple", response_model=Deleted, responses=ERRORS
)
def delete_traces(caller: Caller, db: DB, body: DeleteTraces) -> Deleted:
    """Delete several traces and their observations."""
    require(caller.role, Permission.DELETE_TRACES)
    with db.write() as session:
        count = traces.delete_traces(session, caller.project_id, body.trace_ids)
    return Deleted(message=f"{count} traces deleted")
