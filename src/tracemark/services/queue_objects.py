"""What an annotator needs to see of a queue item's object: a compact summary."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from tracemark.db.models import Observation, QueueItem, Trace, TraceSession

SESSION_TRACES = 50


@cache
def _trace_statement() -> Any:
    columns = Trace.__table__.c
    return select(
        columns.id,
        columns.name,
        columns.timestamp,
        columns.user_id,
        columns.session_id,
        columns.tags,
        columns.input,
        columns.output,
        columns.metadata.label("metadata_"),
        columns.latency,
        columns.total_cost,
        columns.level,
    ).where(columns.project_id == bindparam("project_id"), columns.id == bindparam("trace_id"))


def summary(session: Session, project_id: str, item: QueueItem) -> dict[str, Any] | None:
    if item.object_type == "TRACE":
        params = {"project_id": project_id, "trace_id": item.object_id}
        # Core, on the connection: the summary needs a dozen columns, not a Trace object.
        trace = session.connection().execute(_trace_statement(), params).first()
        if trace is None:
            return None
        return {
            "id": trace.id,
            "name": trace.name,
            "timestamp": trace.timestamp.isoformat(),
            "userId": trace.user_id,
            "sessionId": trace.session_id,
            "tags": trace.tags,
            "input": trace.input,
            "output": trace.output,
            "metadata": trace.metadata_,
            "latency": trace.latency,
            "totalCost": trace.total_cost,
            "level": trace.level,
        }
    if item.object_type == "OBSERVATION":
        obs = session.get(Observation, (project_id, item.object_id))
        if obs is None:
            return None
        return {
            "id": obs.id,
            "traceId": obs.trace_id,
            "type": obs.type,
            "name": obs.name,
            "startTime": obs.start_time.isoformat(),
            "model": obs.model,
            "input": obs.input,
            "output": obs.output,
            "metadata": obs.metadata_,
            "level": obs.level,
        }
    row = session.get(TraceSession, (project_id, item.object_id))
    if row is None:
        return None
    turns = session.scalars(
        select(Trace)
        .where(Trace.project_id == project_id, Trace.session_id == item.object_id)
        .order_by(Trace.timestamp)
        .limit(SESSION_TRACES)
    )
    return {
        "id": row.id,
        "traces": [
            {
                "id": t.id,
                "name": t.name,
                "timestamp": t.timestamp.isoformat(),
                "input": t.input,
                "output": t.output,
            }
            for t in turns
        ],
    }
