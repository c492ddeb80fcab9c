"""Annotation queues: Langfuse-compatible CRUD and items, plus processing, progress, export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from tracemark.api.deps import AUTH_ERRORS, DB, Caller, get_db
from tracemark.api.ingestion import decode_json
from tracemark.api.schemas.common import WireModel, as_utc
from tracemark.api.schemas.tracing import Meta, iso, page_meta
from tracemark.db.models import AnnotationQueue, QueueItem, Role
from tracemark.services import (
    queue_export,
    queue_work,
    queues,
    traces,
)
from tracemark.services.credentials import Principal
from tracemark.services.errors import Forbidden, Invalid
from tracemark.services.permissions import Permission, require

router = APIRouter(prefix="/annotation-queues", tags=["annotation-queues"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid request: the message names the field and the rule"},
    404: {"description": "No such queue or item in this project"},
    409: {"description": "Conflicts with the queue's state (archived, full, no lease)"},
}


class QueueOut(WireModel):
    id: str
    project_id: str
    name: str
    description: str | None
    score_config_ids: list[str]
    annotators_per_item: int
    lease_seconds: int
    blind: bool
    member_user_ids: list[str]
    archived: bool
    created_at: str
    updated_at: str
    item_count: int | None = None
    completed_item_count: int | None = None
    assigned_to_me: bool | None = None


def queue_out(
    queue: AnnotationQueue, members: list[str], summary: queues.QueueSummary | None = None
) -> QueueOut:
    return QueueOut(
        id=queue.id,
        project_id=queue.project_id,
        name=queue.name,
        description=queue.description,
        score_config_ids=list(queue.score_config_ids),
        annotators_per_item=queue.annotators_per_item,
        lease_seconds=queue.lease_seconds,
        blind=queue.blind,
        member_user_ids=members,
        archived=queue.archived,
        created_at=iso(queue.created_at) or "",
        updated_at=iso(queue.updated_at) or "",
        item_count=summary.total if summary else None,
        completed_item_count=summary.completed if summary else None,
        assigned_to_me=summary.is_member if summary else None,
    )


class Queues(WireModel):
    data: list[QueueOut]
    meta: Meta


class ItemOut(WireModel):
    id: str
    queue_id: str
    object_id: str
    object_type: str
    status: str
    completed_at: str | None
    created_at: str
    updated_at: str
    assignee_user_id: str | None
    priority: int
    completion_count: int
    completed_by_user_ids: list[str] | None = None
    already_present: bool | None = None


def item_out(
    item: QueueItem, completed_by: list[str] | None = None, already: bool | None = None
) -> ItemOut:
    return ItemOut(
        id=item.id,
        queue_id=item.queue_id,
        object_id=item.object_id,
        object_type=item.object_type,
        status=item.status,
        completed_at=iso(item.completed_at),
        created_at=iso(item.created_at) or "",
        updated_at=iso(item.updated_at) or "",
        assignee_user_id=item.assignee_user_id,
        priority=item.priority,
        completion_count=item.completion_count,
        completed_by_user_ids=completed_by,
        already_present=already,
    )


class Items(WireModel):
    data: list[ItemOut]
    meta: Meta


async def json_body(request: Request) -> dict[str, Any]:
    body = decode_json(await request.body())
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object")
    return body


def worker_of(caller: Principal) -> queue_work.Worker:
    if caller.user_id is None:
        raise Forbidden(
            "processing a queue needs a person: use a personal access token (Bearer tm-pat-…), "
            "not a project API key"
        )
    require(caller.role, Permission.PROCESS_QUEUES)
    return queue_work.Worker(caller.user_id, is_admin=caller.role.rank >= Role.ADMIN.rank)


# --- queues ------------------------------------------------------------------------------


@router.get("", operation_id="annotation_queues_list", response_model=Queues, responses=ERRORS)
def list_queues(
    caller: Caller,
    db: DB,
    page: int = 1,
    limit: int = 50,
    include_archived: Annotated[bool, Query(alias="includeArchived")] = False,
) -> Queues:
    """List queues; the caller's own queues first."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        rows, total = queues.list_queues(
            session,
            caller.project_id,
            page=page,
            limit=limit,
            user_id=caller.user_id,
            include_archived=include_archived,
        )
        return Queues(
            data=[queue_out(s.queue, s.member_ids, s) for s in rows],
            meta=page_meta(page, limit, total),
        )


@router.post("", operation_id="annotation_queues_create", response_model=QueueOut, responses=ERRORS)
async def create_queue(request: Request, caller: Caller) -> QueueOut:
    """Create a queue."""
    require(caller.role, Permission.MANAGE_QUEUES)
    body = await json_body(request)
    db = get_db(request)

    def create() -> QueueOut:
        with db.write() as session:
            queue = queues.create_queue(session, caller.project_id, body)
            return queue_out(queue, queues.members_by_queue(session, [queue.id])[queue.id])

    return await run_in_threadpool(create)


@router.get(
    "/{queue_id}", operation_id="annotation_queues_get", response_model=QueueOut, responses=ERRORS
)
def get_queue(caller: Caller, db: DB, queue_id: str) -> QueueOut:
    """One queue."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        queue = queues.get_queue(session, caller.project_id, queue_id)
        return queue_out(queue, queues.members_by_queue(session, [queue.id])[queue.id])


@router.patch(
    "/{queue_id}",
    operation_id="annotation_queues_update",
    response_model=QueueOut,
    responses=ERRORS,
)
async def update_queue(request: Request, caller: Caller, queue_id: str) -> QueueOut:
    """Edit a queue (annotatorsPerItem may not drop below what items already have)."""
    require(caller.role, Permission.MANAGE_QUEUES)
    body = await json_body(request)
    db = get_db(request)

    def patch() -> QueueOut:
        with db.write() as session:
            queue = queues.update_queue(session, caller.project_id, queue_id, body)
            return queue_out(queue, queues.members_by_queue(session, [queue.id])[queue.id])

    return await run_in_threadpool(patch)


@router.delete(
    "/{queue_id}",
    operation_id="annotation_queues_archive",
    response_model=QueueOut,
    responses=ERRORS,
)
def archive_queue(caller: Caller, db: DB, queue_id: str) -> QueueOut:
    """Archive a queue (its items, work and scores are kept)."""
    require(caller.role, Permission.MANAGE_QUEUES)
    with db.write() as session:
        queue = queues.archive_queue(session, caller.project_id, queue_id)
        return queue_out(queue, queues.members_by_queue(session, [queue.id])[queue.id])


class Assignment(WireModel):
    user_id: str | None = None
    email: str | None = None


class AssignmentOut(WireModel):
    user_id: str
    queue_id: str
    project_id: str


@router.post(
    "/{queue_id}/assignments",
    operation_id="annotation_queues_assign",
    response_model=AssignmentOut,
    responses=ERRORS,
)
def assign(caller: Caller, db: DB, queue_id: str, body: Assignment) -> AssignmentOut:
    """Make a user a member of the queue (by userId or email)."""
    require(caller.role, Permission.MANAGE_QUEUES)
    with db.write() as session:
        user = queues.add_member(
            session, caller.project_id, queue_id, user_id=body.user_id, email=body.email
        )
        return AssignmentOut(user_id=user.id, queue_id=queue_id, project_id=caller.project_id)


@router.delete(
    "/{queue_id}/assignments", operation_id="annotation_queues_unassign", responses=ERRORS
)
def unassign(caller: Caller, db: DB, queue_id: str, body: Assignment) -> dict[str, bool]:
    """Remove a user from the queue's members."""
    require(caller.role, Permission.MANAGE_QUEUES)
    with db.write() as session:
        queues.remove_member(
            session, caller.project_id, queue_id, user_id=body.user_id, email=body.email
        )
    return {"success": True}


# --- items -------------------------------------------------------------------------------


@router.get(
    "/{queue_id}/items",
    operation_id="annotation_queue_items_list",
    response_model=Items,
    responses=ERRORS,
)
def list_items(
    caller: Caller,
    db: DB,
    queue_id: str,
    page: int = 1,
    limit: int = 50,
    status: str | None = None,
    assignee_user_id: Annotated[str | None, Query(alias="assigneeUserId")] = None,
    completed_by: Annotated[str | None, Query(alias="completedBy")] = None,
    object_type: Annotated[str | None, Query(alias="objectType")] = None,
    object_id: Annotated[str | None, Query(alias="objectId")] = None,
) -> Items:
    """List a queue's items (filters: status, assignee, completed by, object type)."""
    require(caller.role, Permission.READ)
    flt = queues.ItemFilter(
        status=status,
        assignee_user_id=assignee_user_id,
        completed_by=completed_by,
        object_type=object_type,
        object_id=object_id,
    )
    with db.read() as session:
        rows, total = queues.list_items(
            session, caller.project_id, queue_id, flt, page=page, limit=limit
        )
        done = queues.completed_by(session, [r.id for r in rows])
        return Items(
            data=[item_out(r, done[r.id]) for r in rows], meta=page_meta(page, limit, total)
        )


@router.post(
    "/{queue_id}/items",
    operation_id="annotation_queue_items_create",
    response_model=ItemOut,
    responses=ERRORS,
)
async def create_item(request: Request, caller: Caller, queue_id: str) -> ItemOut:
    """Add one object; re-adding reports alreadyPresent and changes nothing."""
    require(caller.role, Permission.MANAGE_QUEUES)
    body = await json_body(request)
    ref = queues.parse_ref(body)
    db = get_db(request)

    def add() -> ItemOut:
        with db.write() as session:
            result = queues.add_items(session, caller.project_id, queue_id, [ref])
            if result.not_found:
                from tracemark.services.errors import NotFound

                raise NotFound(
                    f"objectId: no {ref.object_type.lower()} {ref.object_id} in this project"
                )
            if result.already_present:
                existing, _ = queues.list_items(
                    session,
                    caller.project_id,
                    queue_id,
                    queues.ItemFilter(object_type=ref.object_type, object_id=ref.object_id),
                )
                return item_out(existing[0], already=True)
            return item_out(result.added[0], already=False)

    return await run_in_threadpool(add)


class BulkOut(WireModel):
    added: int
    already_present: list[dict[str, str]]
    not_found: list[dict[str, str]]
    items: list[ItemOut]


@router.post(
    "/{queue_id}/items/bulk",
    operation_id="annotation_queue_items_bulk",
    response_model=BulkOut,
    responses=ERRORS,
)
async def bulk_items(request: Request, caller: Caller, queue_id: str) -> BulkOut:
    """Add many objects at once; each is reported as added, already present or not found."""
    require(caller.role, Permission.MANAGE_QUEUES)
    body = await json_body(request)
    raw = body.get("items")
    if not isinstance(raw, list) or not raw:
        raise Invalid("items: give a non-empty list of {objectType, objectId}")
    refs = [
        queues.parse_ref(entry if isinstance(entry, dict) else {}, f"items[{i}].")
        for i, entry in enumerate(raw)
    ]
    db = get_db(request)

    def add() -> BulkOut:
        with db.write() as session:
            result = queues.add_items(session, caller.project_id, queue_id, refs)
            return BulkOut(
                added=len(result.added),
                already_present=[
                    {"objectType": r.object_type, "objectId": r.object_id}
                    for r in result.already_present
                ],
                not_found=[
                    {"objectType": r.object_type, "objectId": r.object_id} for r in result.not_found
                ],
                items=[item_out(i) for i in result.added[:1000]],
            )

    return await run_in_threadpool(add)


class FromFilterOut(WireModel):
    added: int


def _ts(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        raise Invalid(f"filter.{field}: not an ISO 8601 time") from None


def _text(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"filter.{key}: must be a string")
    return value


def _number(raw: dict[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"filter.{key}: must be a number")
    return float(value)


@router.post(
    "/{queue_id}/items/from-filter",
    operation_id="annotation_queue_items_from_filter",
    response_model=FromFilterOut,
    responses=ERRORS,
)
async def items_from_filter(request: Request, caller: Caller, queue_id: str) -> FromFilterOut:
    """Add every trace matching a filter (GET /traces filters), optionally limited or sampled."""
    require(caller.role, Permission.MANAGE_QUEUES)
    body = await json_body(request)
    raw = body.get("filter") or {}
    if not isinstance(raw, dict):
        raise Invalid("filter: must be an object with GET /api/public/traces filters")
    known = {
        "userId",
        "name",
        "sessionId",
        "fromTimestamp",
        "toTimestamp",
        "tags",
        "version",
        "release",
        "environment",
        "level",
        "metadataKey",
        "metadataValue",
        "scoreName",
        "scoreOperator",
        "scoreValue",
        "scoreStringValue",
        "notInQueueId",
    }
    unknown = set(raw) - known
    if unknown:
        raise Invalid(
            f"filter: unknown field {sorted(unknown)[0]!r}; known: {', '.join(sorted(known))}"
        )

    def strings(key: str) -> list[str]:
        value = raw.get(key)
        if value is None:
            return []
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Invalid(f"filter.{key}: must be a string or a list of strings")
        return values

    flt = traces.TraceFilter(
        user_id=raw.get("userId"),
        name=raw.get("name"),
        session_id=raw.get("sessionId"),
        from_timestamp=_ts(raw.get("fromTimestamp"), "fromTimestamp"),
        to_timestamp=_ts(raw.get("toTimestamp"), "toTimestamp"),
        tags=strings("tags"),
        version=raw.get("version"),
        release=raw.get("release"),
        environments=strings("environment"),
        levels=traces.check_levels(strings("level")),
        metadata=traces.metadata_pair(_text(raw, "metadataKey"), _text(raw, "metadataValue")),
        score_name=_text(raw, "scoreName"),
        score_operator=_text(raw, "scoreOperator"),
        score_value=_number(raw, "scoreValue"),
        score_string_value=_text(raw, "scoreStringValue"),
        not_in_queue_id=_text(raw, "notInQueueId"),
    )
    limit = body.get("limit")
    sample = body.get("sample")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise Invalid("limit: must be a whole number")
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int | float)):
        raise Invalid("sample: must be a fraction between 0 and 1")
    db = get_db(request)

    def add() -> FromFilterOut:
        with db.write() as session:
            added = queues.add_items_from_filter(
                session,
                caller.project_id,
                queue_id,
                flt,
                limit=limit,
                sample=float(sample) if sample is not None else None,
            )
            return FromFilterOut(added=added)

    return await run_in_threadpool(add)


@router.get(
    "/{queue_id}/items/{item_id}",
    operation_id="annotation_queue_items_get",
    response_model=ItemOut,
    responses=ERRORS,
)
def get_item(caller: Caller, db: DB, queue_id: str, item_id: str) -> ItemOut:
    """One item."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        item = queues.get_item(session, caller.project_id, queue_id, item_id)
        return item_out(item, queues.completed_by(session, [item.id])[item.id])


@router.patch(
    "/{queue_id}/items/{item_id}",
    operation_id="annotation_queue_items_update",
    response_model=ItemOut,
    responses=ERRORS,
)
async def update_item(request: Request, caller: Caller, queue_id: str, item_id: str) -> ItemOut:
    """Change an item's status, assignee or priority."""
    require(caller.role, Permission.MANAGE_QUEUES)
    body = await json_body(request)
    db = get_db(request)

    def patch() -> ItemOut:
        with db.write() as session:
            return item_out(queues.update_item(session, caller.project_id, queue_id, item_id, body))

    return await run_in_threadpool(patch)


@router.delete(
    "/{queue_id}/items/{item_id}", operation_id="annotation_queue_items_delete", responses=ERRORS
)
def delete_item(caller: Caller, db: DB, queue_id: str, item_id: str) -> dict[str, Any]:
    """Remove an item from the queue (scores already given stay)."""
    require(caller.role, Permission.MANAGE_QUEUES)
    with db.write() as session:
        queues.delete_item(session, caller.project_id, queue_id, item_id)
    return {"success": True, "message": "Item removed from the queue"}


class AnnotatorOut(WireModel):
    user_id: str
    name: str
    email: str
    completed: int
    skipped: int
    in_progress: int
    median_seconds: float | None


class ProgressOut(WireModel):
    total: int
    pending: int
    in_progress: int
    completed: int
    skipped: int
    annotators_per_item: int
    completions: int
    annotators: list[AnnotatorOut]


@router.get(
    "/{queue_id}/progress",
    operation_id="annotation_queue_progress",
    response_model=ProgressOut,
    responses=ERRORS,
)
def progress(caller: Caller, db: DB, queue_id: str) -> ProgressOut:
    """Totals and per-annotator progress (median seconds per item)."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        p = queue_work.progress(session, caller.project_id, queue_id)
        return ProgressOut(
            total=p.total,
            pending=p.pending,
            in_progress=p.in_progress,
            completed=p.completed,
            skipped=p.skipped,
            annotators_per_item=p.annotators_per_item,
            completions=p.completions,
            annotators=[AnnotatorOut(**a.__dict__) for a in p.annotators],
        )


@router.get("/{queue_id}/export", operation_id="annotation_queue_export", responses=ERRORS)
def export(caller: Caller, db: DB, queue_id: str, format: str = "csv") -> StreamingResponse:
    """One row per item and annotator: status, each config's value and comment, time spent."""
    require(caller.role, Permission.READ)
    queue_export.check_format(format)
    queue_export.check_queue(db, caller.project_id, queue_id)
    return StreamingResponse(
        queue_export.stream(db, caller.project_id, queue_id, format),
        media_type=queue_export.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="queue-{queue_id}.{format}"'},
    )
