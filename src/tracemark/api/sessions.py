"""Sessions: list, and one session with its traces."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tracemark.api.deps import AUTH_ERRORS, DB, Caller
from tracemark.api.schemas.common import WireModel, as_utc
from tracemark.api.schemas.tracing import (
    Meta,
    SessionOut,
    TraceOut,
    page_meta,
    session_out,
    trace_out,
)
from tracemark.services import traces
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["sessions"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid query"},
    404: {"description": "No such session in this project"},
}


class Sessions(WireModel):
    data: list[SessionOut]
    meta: Meta


class SessionDetail(SessionOut):
    traces: list[TraceOut]


@router.get("/sessions", operation_id="sessions_list", response_model=Sessions, responses=ERRORS)
def list_sessions(
    caller: Caller,
    db: DB,
    page: int = 1,
    limit: int = 50,
    from_timestamp: Annotated[datetime | None, Query(alias="fromTimestamp")] = None,
    to_timestamp: Annotated[datetime | None, Query(alias="toTimestamp")] = None,
    environment: Annotated[list[str] | None, Query()] = None,
) -> Sessions:
    """List sessions, newest first."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        rows, total = traces.list_sessions(
            session,
            caller.project_id,
            page=page,
            limit=limit,
            from_timestamp=as_utc(from_timestamp),
            to_timestamp=as_utc(to_timestamp),
            environments=environment or [],
        )
        return Sessions(data=[session_out(r) for r in rows], meta=page_meta(page, limit, total))


@router.get(
    "/sessions/{session_id:path}",
    operation_id="sessions_get",
    response_model=SessionDetail,
    responses=ERRORS,
)
def get_session(caller: Caller, db: DB, session_id: str) -> SessionDetail:
    """One session with its traces, oldest first."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        row, trace_rows = traces.get_session(session, caller.project_id, session_id)
        obs_ids = traces.observation_ids_by_trace(
            session, caller.project_id, [t.id for t in trace_rows]
        )
        return SessionDetail(
            **session_out(row).__dict__,
            traces=[trace_out(t, obs_ids.get(t.id, []), []) for t in trace_rows],
        )
