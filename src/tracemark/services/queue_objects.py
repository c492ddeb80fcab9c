"""What an annotator needs to see of a queue item's object: a compact summary."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracemark.db.models import Observation, QueueItem, Trace, TraceSession

SESSION_TRACES = 50


def summary(session: Session, project_id: str, item: QueueItem) -> dict[str, Any] | None:
    if item.object_type == "TRACE":
        trace = session.get(Trace, (project_id, item.object_id))
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
