"""Processing a queue (Tracemark endpoints): next, complete, skip, heartbeat, release.

A router of its own, included before every other one of the public API: FastAPI tries routes
one by one, more than once per request, and these are the most frequent small calls.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tracemark.api.annotation_queues import ERRORS, ItemOut, item_out, json_body, worker_of
from tracemark.api.deps import DB, Caller, get_db
from tracemark.api.schemas.common import WireModel
from tracemark.api.schemas.scoring import ScoreConfigOut, ScoreOut, config_out, score_out
from tracemark.api.schemas.tracing import iso
from tracemark.db.models import QueueWork
from tracemark.services import queue_objects, queue_work, score_configs

router = APIRouter(prefix="/annotation-queues", tags=["annotation-queues"])


class NextItem(ItemOut):
    lease_expires_at: str | None
    object: dict[str, Any] | None
    configs: list[ScoreConfigOut]
    my_scores: list[ScoreOut]
    annotators_per_item: int
    blind: bool
    description: str | None


class NextOut(WireModel):
    item: NextItem | None


def leased_out(session: Any, project_id: str, leased: queue_work.Leased, user_id: str) -> NextItem:
    item, work, queue = leased.item, leased.work, leased.queue
    configs = score_configs.configs_by_id(session, project_id, set(queue.score_config_ids))
    return NextItem(
        **item_out(item).model_dump(),
        lease_expires_at=iso(work.lease_expires_at),
        object=queue_objects.summary(session, project_id, item),
        configs=[config_out(configs[c]) for c in queue.score_config_ids if c in configs],
        my_scores=[score_out(s) for s in queue_work.my_scores(session, project_id, item, user_id)],
        annotators_per_item=queue.annotators_per_item,
        blind=queue.blind,
        description=queue.description,
    )


def _reply(model: WireModel) -> Response:
    """The model as JSON, built once (the route's response_model still documents it)."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json")


@router.post(
    "/{queue_id}/next",
    operation_id="annotation_queue_next",
    response_model=NextOut,
    responses=ERRORS,
)
def next_item(caller: Caller, db: DB, queue_id: str) -> Response:
    """Lease the best item for the caller (the same one while their lease lives); null when done."""
    worker = worker_of(caller)
    with db.write() as session:
        leased = queue_work.next_item(session, caller.project_id, queue_id, worker)
        item = leased_out(session, caller.project_id, leased, worker.user_id) if leased else None
    return _reply(NextOut(item=item))


class CompleteOut(WireModel):
    item: ItemOut
    score_ids: list[str]
    already_completed: bool


@router.post(
    "/{queue_id}/items/{item_id}/complete",
    operation_id="annotation_queue_item_complete",
    response_model=CompleteOut,
    responses=ERRORS,
)
async def complete(request: Request, caller: Caller, queue_id: str, item_id: str) -> Response:
    """Save the caller's scores and their completion of the item in one transaction."""
    worker = worker_of(caller)
    body = await json_body(request)
    values, comment = queue_work.parse_scores(body)
    db = get_db(request)

    def run() -> Response:
        with db.write() as session:
            done = queue_work.complete_item(
                session, caller.project_id, queue_id, item_id, worker, values, comment
            )
        return _reply(
            CompleteOut(
                item=item_out(done.item),
                score_ids=done.score_ids,
                already_completed=done.already_completed,
            )
        )

    return await run_in_threadpool(run)


@router.post(
    "/{queue_id}/items/{item_id}/skip",
    operation_id="annotation_queue_item_skip",
    response_model=ItemOut,
    responses=ERRORS,
)
def skip(caller: Caller, db: DB, queue_id: str, item_id: str) -> ItemOut:
    """Skip the item; it is never offered to the caller again."""
    worker = worker_of(caller)
    with db.write() as session:
        return item_out(queue_work.skip_item(session, caller.project_id, queue_id, item_id, worker))


class LeaseOut(WireModel):
    item_id: str
    lease_expires_at: str | None


@router.post(
    "/{queue_id}/items/{item_id}/heartbeat",
    operation_id="annotation_queue_item_heartbeat",
    response_model=LeaseOut,
    responses=ERRORS,
)
def heartbeat(caller: Caller, db: DB, queue_id: str, item_id: str) -> LeaseOut:
    """Extend the caller's lease on the item."""
    worker = worker_of(caller)
    with db.write() as session:
        work: QueueWork = queue_work.heartbeat(
            session, caller.project_id, queue_id, item_id, worker
        )
        return LeaseOut(item_id=item_id, lease_expires_at=iso(work.lease_expires_at))


@router.post(
    "/{queue_id}/items/{item_id}/release",
    operation_id="annotation_queue_item_release",
    responses=ERRORS,
)
def release(caller: Caller, db: DB, queue_id: str, item_id: str) -> dict[str, bool]:
    """Give the item back before the lease expires."""
    worker = worker_of(caller)
    with db.write() as session:
        queue_work.release(session, caller.project_id, queue_id, item_id, worker)
    return {"success": True}
