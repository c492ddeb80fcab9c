"""Scores: create (one or an array), delete, history, v2 page list, v3 cursor list, export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from tracemark.api.deps import AUTH_ERRORS, DB, Caller, get_db
from tracemark.api.ingestion import decode_json
from tracemark.api.schemas.common import WireModel, as_utc
from tracemark.api.schemas.scoring import ScoreChangeOut, ScoreOut, change_out, score_out
from tracemark.api.schemas.tracing import Meta, page_meta
from tracemark.db.engine import Database
from tracemark.db.models import Role, ScoreSource
from tracemark.services import score_export, score_queries, scores
from tracemark.services.credentials import Principal
from tracemark.services.errors import Forbidden, Invalid
from tracemark.services.permissions import Permission, allows, require

router = APIRouter(tags=["scores"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid score: the message names the field and the rule"},
    404: {"description": "No such score in this project"},
}
MAX_SCORES_PER_REQUEST = 1000


def actor_of(caller: Principal) -> scores.Actor:
    return scores.Actor(
        user_id=caller.user_id,
        key_id=caller.credential_id if caller.kind == "api_key" else None,
        is_admin=caller.role.rank >= Role.ADMIN.rank,
    )


def permission_problem(caller: Principal, body: Any) -> str | None:
    """Why the caller may not write this score, or None."""
    source = body.get("source") if isinstance(body, dict) else None
    if source == ScoreSource.ANNOTATION.value:
        if not allows(caller.role, Permission.ANNOTATE):
            return f"your role {caller.role.value} may not create ANNOTATION scores"
    elif not allows(caller.role, Permission.INGEST):
        return f"your role {caller.role.value} may only create ANNOTATION scores (set source)"
    return None


def store_scores(
    db: Database,
    caller: Principal,
    bodies: list[Any],
    defaults: list[datetime | None] | None = None,
) -> scores.WriteResult:
    """Write scores the caller may write; the others are reported as errors by index."""
    denied: dict[int, str] = {}
    inputs: list[scores.ScoreInput] = []
    positions: list[int] = []
    for index, body in enumerate(bodies):
        problem = permission_problem(caller, body)
        if problem:
            denied[index] = problem
            continue
        inputs.append(scores.ScoreInput(body, index, defaults[index] if defaults else None))
        positions.append(index)
    with db.write() as session:
        partial = scores.write_scores(session, caller.project_id, inputs, actor_of(caller))
    result = scores.WriteResult(ids=[None] * len(bodies), errors=dict(denied))
    for local, index in enumerate(positions):
        result.ids[index] = partial.ids[local]
        if local in partial.errors:
            result.errors[index] = partial.errors[local]
    return result


class Created(WireModel):
    id: str


@router.post(
    "/scores",
    operation_id="scores_create",
    responses={
        **ERRORS,
        200: {"description": "One score: its id", "model": Created},
        202: {"description": "An array, all accepted"},
        207: {"description": "An array, some rejected: accepted, rejected, errors"},
    },
)
async def create_scores(request: Request, caller: Caller) -> JSONResponse:
    """Create or update scores: one object (answers its id) or an array (SDK 5.x)."""
    payload = decode_json(await request.body())
    db = get_db(request)
    if isinstance(payload, dict):
        problem = permission_problem(caller, payload)
        if problem:
            raise Forbidden(problem)
        result = await run_in_threadpool(store_scores, db, caller, [payload])
        if result.errors:
            raise Invalid(result.errors[0])
        return JSONResponse({"id": result.ids[0]})
    if not isinstance(payload, list):
        raise Invalid("body must be a score object or an array of score objects")
    if not payload:
        raise Invalid("body is an empty array; send at least one score")
    if len(payload) > MAX_SCORES_PER_REQUEST:
        raise Invalid(f"at most {MAX_SCORES_PER_REQUEST} scores per request")
    result = await run_in_threadpool(store_scores, db, caller, payload)
    if not result.errors:
        return JSONResponse({"message": "Accepted"}, status_code=202)
    return JSONResponse(
        {
            "accepted": result.accepted,
            "rejected": len(result.errors),
            "errors": [
                {
                    "index": i,
                    "id": payload[i].get("id") if isinstance(payload[i], dict) else None,
                    "message": message,
                }
                for i, message in sorted(result.errors.items())
            ],
        },
        status_code=207,
    )


@router.delete("/scores/{score_id}", operation_id="scores_delete", responses=ERRORS)
def delete_score(caller: Caller, db: DB, score_id: str) -> dict[str, str]:
    """Delete a score (its history keeps the deletion)."""
    with db.write() as session:
        score = scores.get_score(session, caller.project_id, score_id)
        if score.source == ScoreSource.ANNOTATION.value:
            require(caller.role, Permission.ANNOTATE)
        else:
            require(caller.role, Permission.MANAGE_API_SCORES)
        scores.delete_score(session, caller.project_id, score_id, actor_of(caller))
    return {"message": "Score deleted"}


class History(WireModel):
    data: list[ScoreChangeOut]


@router.get(
    "/scores/{score_id}/history",
    operation_id="scores_history",
    response_model=History,
    responses=ERRORS,
)
def score_history(caller: Caller, db: DB, score_id: str) -> History:
    """Every change of a score: who, when, old and new value and comment."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        return History(
            data=[change_out(c) for c in scores.history_of(session, caller.project_id, score_id)]
        )


def score_filter(
    name: Annotated[str | None, Query()] = None,
    source: Annotated[str | None, Query()] = None,
    data_type: Annotated[str | None, Query(alias="dataType")] = None,
    config_id: Annotated[str | None, Query(alias="configId")] = None,
    queue_id: Annotated[str | None, Query(alias="queueId")] = None,
    author_user_id: Annotated[str | None, Query(alias="authorUserId")] = None,
    trace_id: Annotated[str | None, Query(alias="traceId")] = None,
    observation_id: Annotated[str | None, Query(alias="observationId")] = None,
    session_id: Annotated[str | None, Query(alias="sessionId")] = None,
    score_ids: Annotated[str | None, Query(alias="scoreIds")] = None,
    environment: Annotated[list[str] | None, Query()] = None,
    from_timestamp: Annotated[datetime | None, Query(alias="fromTimestamp")] = None,
    to_timestamp: Annotated[datetime | None, Query(alias="toTimestamp")] = None,
    user_id: Annotated[str | None, Query(alias="userId")] = None,
    trace_tags: Annotated[list[str] | None, Query(alias="traceTags")] = None,
    operator: Annotated[str | None, Query()] = None,
    value: Annotated[float | None, Query()] = None,
) -> score_queries.ScoreFilter:
    names = [n for n in (name or "").split(",") if n] if name and "," in name else []
    return score_queries.ScoreFilter(
        name=None if names else name,
        names=names,
        source=source,
        data_type=data_type,
        config_id=config_id,
        queue_id=queue_id,
        author_user_id=author_user_id,
        trace_id=trace_id,
        observation_id=observation_id,
        session_id=session_id,
        score_ids=[s for s in (score_ids or "").split(",") if s],
        environments=environment or [],
        from_timestamp=as_utc(from_timestamp),
        to_timestamp=as_utc(to_timestamp),
        user_id=user_id,
        trace_tags=trace_tags or [],
        operator=operator,
        value=value,
    )


class Scores(WireModel):
    data: list[ScoreOut]
    meta: Meta


@router.get("/scores", operation_id="scores_list_v1", response_model=Scores, responses=ERRORS)
@router.get("/v2/scores", operation_id="scores_list_v2", response_model=Scores, responses=ERRORS)
def list_scores(
    caller: Caller,
    db: DB,
    flt: Annotated[score_queries.ScoreFilter, Depends(score_filter)],
    page: int = 1,
    limit: int = 50,
) -> Scores:
    """List scores, newest first, with Langfuse's v2 filters."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        rows, total = score_queries.list_page(
            session, caller.project_id, flt, page=page, limit=limit
        )
        return Scores(data=[score_out(s) for s in rows], meta=page_meta(page, limit, total))


@router.get(
    "/v2/scores/{score_id}", operation_id="scores_get_v2", response_model=ScoreOut, responses=ERRORS
)
def get_score(caller: Caller, db: DB, score_id: str) -> ScoreOut:
    """One score."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        return score_out(scores.get_score(session, caller.project_id, score_id))


class CursorMeta(WireModel):
    cursor: str | None = None
    limit: int


class ScoresCursor(WireModel):
    data: list[dict[str, Any]]
    meta: CursorMeta


def _v3(score: ScoreOut, fields: set[str]) -> dict[str, Any]:
    value: Any = score.value
    if score.data_type == "BOOLEAN":
        value = score.value == 1.0
    elif score.data_type in ("CATEGORICAL", "TEXT", "CORRECTION"):
        value = score.string_value
    out: dict[str, Any] = {
        "id": score.id,
        "projectId": score.project_id,
        "name": score.name,
        "value": value,
        "dataType": score.data_type,
        "source": score.source,
        "timestamp": score.timestamp,
        "environment": score.environment,
        "createdAt": score.created_at,
        "updatedAt": score.updated_at,
    }
    if "details" in fields:
        out.update(
            {"comment": score.comment, "configId": score.config_id, "metadata": score.metadata}
        )
    if "subject" in fields:
        if score.session_id:
            out["subject"] = {"kind": "session", "id": score.session_id}
        elif score.observation_id:
            out["subject"] = {
                "kind": "observation",
                "id": score.observation_id,
                "traceId": score.trace_id,
            }
        else:
            out["subject"] = {"kind": "trace", "id": score.trace_id}
    if "annotation" in fields:
        out.update({"authorUserId": score.author_user_id, "queueId": score.queue_id})
    return out


@router.get(
    "/v3/scores", operation_id="scores_list_v3", response_model=ScoresCursor, responses=ERRORS
)
def list_scores_v3(
    caller: Caller,
    db: DB,
    flt: Annotated[score_queries.ScoreFilter, Depends(score_filter)],
    cursor: str | None = None,
    limit: int = 50,
    fields: str = "details,subject,annotation",
) -> ScoresCursor:
    """List scores, newest first, with a cursor; field groups details, subject, annotation."""
    require(caller.role, Permission.READ)
    groups = {f.strip() for f in fields.split(",") if f.strip()}
    unknown = groups - {"details", "subject", "annotation"}
    if unknown:
        raise Invalid(
            f"fields: unknown group {sorted(unknown)[0]!r}; use details, subject, annotation"
        )
    with db.read() as session:
        rows, next_cursor = score_queries.list_cursor(
            session, caller.project_id, flt, cursor=cursor, limit=limit
        )
        return ScoresCursor(
            data=[_v3(score_out(s), groups) for s in rows],
            meta=CursorMeta(cursor=next_cursor, limit=limit),
        )


@router.get(
    "/scores/export",
    operation_id="scores_export",
    responses={
        **ERRORS,
        200: {
            "description": "The scores, streamed",
            "content": {m: {} for m in score_export.MEDIA_TYPES.values()},
        },
    },
)
def export_scores(
    caller: Caller,
    db: DB,
    flt: Annotated[score_queries.ScoreFilter, Depends(score_filter)],
    format: str = "csv",
) -> StreamingResponse:
    """Export the scores matching the v2 filters as CSV, JSON or JSONL (streamed)."""
    require(caller.role, Permission.READ)
    score_export.check_format(format)
    score_queries.check(flt)
    return StreamingResponse(
        score_export.stream(
            db,
            caller.project_id,
            flt,
            format,
            # A person's token: blind review hides what it hides on their pages.
            viewer=(caller.user_id, caller.role) if caller.user_id else None,
        ),
        media_type=score_export.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="scores.{format}"'},
    )
