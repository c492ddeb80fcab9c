"""Langfuse batch ingestion: `POST /api/public/ingestion` (SDK 2.x, and scores from 3.x/4.x)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tracemark.api.deps import AUTH_ERRORS, Caller, get_db, run_ingest
from tracemark.api.schemas.common import WireModel
from tracemark.db.engine import Database
from tracemark.ingest.langfuse import EventError, parse_ingestion
from tracemark.services import ingest
from tracemark.services.credentials import Principal
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["ingestion"])


class IngestionSuccess(WireModel):
    id: str
    status: int


class IngestionError(WireModel):
    id: str
    status: int
    message: str | None = None
    error: str | None = None


class IngestionResponse(WireModel):
    successes: list[IngestionSuccess]
    errors: list[IngestionError]


def decode_json(body: bytes) -> Any:
    if not body:
        raise Invalid("request body is empty; expected JSON")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Invalid(f"request body is not valid JSON: {exc}") from None


@router.post(
    "/ingestion",
    operation_id="ingestion_batch",
    status_code=207,
    response_model=IngestionResponse,
    responses={
        **AUTH_ERRORS,
        400: {"description": "The body is not a batch"},
        413: {"description": "Body too large"},
        503: {"description": "Busy; retry later"},
    },
)
async def ingestion_batch(request: Request, caller: Caller) -> JSONResponse:
    """Store a batch of Langfuse events; answers 207 with per-event successes and errors."""
    require(caller.role, Permission.INGEST)
    body = await request.body()
    db = get_db(request)
    result = await run_ingest(request, body, _ingest, db, caller, body)
    return JSONResponse(result, status_code=207)


def _ingest(db: Database, caller: Principal, body: bytes) -> dict[str, Any]:
    from tracemark.api.scores import store_scores

    project_id = caller.project_id
    parsed = parse_ingestion(decode_json(body))
    errors: list[EventError] = list(parsed.errors)
    successes = list(parsed.successes)
    if parsed.scores:
        written = store_scores(
            db, caller, [s.body for s in parsed.scores], [s.timestamp for s in parsed.scores]
        )
        for index, event in enumerate(parsed.scores):
            if index in written.errors:
                errors.append(
                    EventError(
                        id=event.event_id,
                        status=400,
                        message=written.errors[index],
                        error="InvalidRequest",
                    )
                )
            else:
                successes.append(event.event_id)
    outcome = ingest.store(
        db,
        project_id,
        parsed.batch,
        default_trace_timestamps=parsed.default_trace_timestamps,
        default_start_times=parsed.default_start_times,
    )
    failed: set[str] = set()
    for obs_id in outcome.unresolved_observations:
        # Report the events (the SDK matches errors by event id), not the observation id.
        for event_id in parsed.untraced_events.get(obs_id, [obs_id]):
            failed.add(event_id)
            errors.append(
                EventError(
                    id=event_id,
                    status=400,
                    message=f"observation {obs_id}: update without traceId for an observation "
                    "that was never created",
                    error="InvalidRequest",
                )
            )
    return {
        "successes": [
            {"id": event_id, "status": 201} for event_id in successes if event_id not in failed
        ],
        "errors": [
            {"id": e.id, "status": e.status, "message": e.message, "error": e.error} for e in errors
        ],
    }
