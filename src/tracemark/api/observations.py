"""Observations: page-based list (v1), cursor list (v2), get."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tracemark.api.deps import AUTH_ERRORS, DB, Caller
from tracemark.api.schemas.common import WireModel, as_utc
from tracemark.api.schemas.tracing import Meta, ObservationOut, observation_out, page_meta
from tracemark.services import traces
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["observations"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid query"},
    404: {"description": "No such observation in this project"},
}


class Observations(WireModel):
    data: list[ObservationOut]
    meta: Meta


class CursorMeta(WireModel):
    cursor: str | None = None
    limit: int


class ObservationsCursor(WireModel):
    data: list[ObservationOut]
    meta: CursorMeta


def _filter(
    name: str | None,
    user_id: str | None,
    type_: str | None,
    trace_id: str | None,
    parent_observation_id: str | None,
    environment: list[str] | None,
    from_start_time: datetime | None,
    to_start_time: datetime | None,
    version: str | None,
    level: str | None,
) -> traces.ObservationFilter:
    return traces.ObservationFilter(
        name=name,
        user_id=user_id,
        type=type_,
        trace_id=trace_id,
        parent_observation_id=parent_observation_id,
        environments=environment or [],
        from_start_time=as_utc(from_start_time),
        to_start_time=as_utc(to_start_time),
        version=version,
        level=level,
    )


@router.get(
    "/observations", operation_id="observations_list", response_model=Observations, responses=ERRORS
)
def list_observations(
    caller: Caller,
    db: DB,
    page: int = 1,
    limit: int = 50,
    name: str | None = None,
    user_id: Annotated[str | None, Query(alias="userId")] = None,
    type: str | None = None,
    trace_id: Annotated[str | None, Query(alias="traceId")] = None,
    parent_observation_id: Annotated[str | None, Query(alias="parentObservationId")] = None,
    environment: Annotated[list[str] | None, Query()] = None,
    from_start_time: Annotated[datetime | None, Query(alias="fromStartTime")] = None,
    to_start_time: Annotated[datetime | None, Query(alias="toStartTime")] = None,
    version: str | None = None,
    level: str | None = None,
) -> Observations:
    """List observations, newest first (page-based)."""
    require(caller.role, Permission.READ)
    flt = _filter(
        name,
        user_id,
        type,
        trace_id,
        parent_observation_id,
        environment,
        from_start_time,
        to_start_time,
        version,
        level,
    )
    with db.read() as session:
        rows, total = traces.list_observations(
            session, caller.project_id, flt, page=page, limit=limit
        )
        return Observations(
            data=[observation_out(o) for o in rows], meta=page_meta(page, limit, total)
        )


@router.get(
    "/v2/observations",
    operation_id="observations_list_v2",
    response_model=ObservationsCursor,
    responses=ERRORS,
)
def list_observations_v2(
    caller: Caller,
    db: DB,
    cursor: str | None = None,
    limit: int = 50,
    name: str | None = None,
    user_id: Annotated[str | None, Query(alias="userId")] = None,
    type: str | None = None,
    trace_id: Annotated[str | None, Query(alias="traceId")] = None,
    parent_observation_id: Annotated[str | None, Query(alias="parentObservationId")] = None,
    environment: Annotated[list[str] | None, Query()] = None,
    from_start_time: Annotated[datetime | None, Query(alias="fromStartTime")] = None,
    to_start_time: Annotated[datetime | None, Query(alias="toStartTime")] = None,
    version: str | None = None,
    level: str | None = None,
) -> ObservationsCursor:
    """List observations, newest first, with a cursor (fast at any depth)."""
    require(caller.role, Permission.READ)
    flt = _filter(
        name,
        user_id,
        type,
        trace_id,
        parent_observation_id,
        environment,
        from_start_time,
        to_start_time,
        version,
        level,
    )
    with db.read() as session:
        rows, next_cursor = traces.list_observations_cursor(
            session, caller.project_id, flt, cursor=cursor, limit=limit
        )
        return ObservationsCursor(
            data=[observation_out(o) for o in rows],
            meta=CursorMeta(cursor=next_cursor, limit=limit),
        )


@router.get(
    "/observations/{observation_id:path}",
    operation_id="observations_get",
    response_model=ObservationOut,
    responses=ERRORS,
)
def get_observation(caller: Caller, db: DB, observation_id: str) -> ObservationOut:
    """One observation."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        return observation_out(traces.get_observation(session, caller.project_id, observation_id))
