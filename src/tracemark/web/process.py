"""Processing a queue in the browser: the page, and the JSON calls behind Complete + Next.

The page is rendered with the caller's leased item. Complete, Skip and Next answer JSON holding
the next item rendered by the same partial template (`_process_item.html`), which the page's
script swaps in: one renderer, no full reload. State-changing calls carry the CSRF token in
the X-CSRF-Token header (checked by the router).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from tracemark.db.models import AnnotationQueue, QueueItem, Role, ScoreConfig, ScoreDataType
from tracemark.services import comments, queue_objects, queue_work, queues, score_configs
from tracemark.services.errors import Conflict, DomainError, Forbidden, Invalid
from tracemark.services.permissions import Permission, require
from tracemark.web import content
from tracemark.web.common import (
    CurrentUser,
    ProjectAccess,
    check_csrf,
    db_of,
    path_segment,
    project_access,
    render,
)
from tracemark.web.queues import QUEUES

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
PROCESS = QUEUES + "/{queue_id}/process"
JsonBody = Annotated[dict[str, Any], Body()]


@dataclass
class Choice:
    label: str
    value: Any  # what the page sends back: the category label, or 1/0 for booleans
    key: int  # its number key (1-9), 0 when it has none


@dataclass
class ScoreField:
    config: ScoreConfig
    kind: str  # NUMERIC, CATEGORICAL, BOOLEAN, TEXT
    choices: list[Choice] = field(default_factory=list)


def score_fields(queue: AnnotationQueue, configs: dict[str, ScoreConfig]) -> list[ScoreField]:
    fields = []
    for config_id in queue.score_config_ids:
        config = configs.get(config_id)
        if config is None or config.is_archived:
            continue  # an archived config takes no new scores
        kind = config.data_type
        choices: list[Choice] = []
        if kind == ScoreDataType.CATEGORICAL.value:
            choices = [
                Choice(str(c["label"]), str(c["label"]), i + 1 if i < 9 else 0)
                for i, c in enumerate(config.categories or [])
            ]
        elif kind == ScoreDataType.BOOLEAN.value:
            choices = [Choice("Yes", 1, 1), Choice("No", 0, 2)]
        fields.append(ScoreField(config, kind, choices))
    return fields


@dataclass
class Turn:
    """One trace of a session item."""

    trace_id: str
    name: str | None
    timestamp: str
    input: content.View
    output: content.View


@dataclass
class ItemView:
    item: QueueItem
    lease_expires_at: datetime | None
    summary: dict[str, Any] | None  # None: the object was deleted since it was queued
    trace_id: str | None
    input: content.View | None = None
    output: content.View | None = None
    metadata: content.View | None = None
    turns: list[Turn] = field(default_factory=list)


@dataclass
class ProcessState:
    queue: AnnotationQueue
    fields: list[ScoreField]
    item: ItemView | None
    progress: queue_work.Progress
    mine: queue_work.AnnotatorProgress | None


def _item_view(session: Session, project_id: str, leased: queue_work.Leased) -> ItemView:
    item = leased.item
    summary = queue_objects.summary(session, project_id, item)
    trace_id = item.object_id if item.object_type == "TRACE" else item.trace_id
    view = ItemView(item, leased.work.lease_expires_at, summary, trace_id)
    if summary is None:
        return view
    if item.object_type == "SESSION":
        view.turns = [
            Turn(
                t["id"],
                t["name"],
                t["timestamp"],
                content.view(t["input"]),
                content.view(t["output"]),
            )
            for t in summary["traces"]
        ]
    else:
        view.input = content.view(summary.get("input"))
        view.output = content.view(summary.get("output"))
        view.metadata = content.view(summary.get("metadata"))
    return view


def load_state(
    session: Session, project_id: str, queue_id: str, worker: queue_work.Worker
) -> ProcessState:
    """Lease the caller's next item (or keep their live lease) and gather what the page shows."""
    leased = queue_work.next_item(session, project_id, queue_id, worker)
    queue = leased.queue if leased else queues.get_queue(session, project_id, queue_id)
    configs = score_configs.configs_by_id(session, project_id, set(queue.score_config_ids))
    progress = queue_work.progress(session, project_id, queue.id)
    mine = next((a for a in progress.annotators if a.user_id == worker.user_id), None)
    return ProcessState(
        queue=queue,
        fields=score_fields(queue, configs),
        item=_item_view(session, project_id, leased) if leased else None,
        progress=progress,
        mine=mine,
    )


def worker_of(access: ProjectAccess) -> queue_work.Worker:
    require(access.role, Permission.PROCESS_QUEUES)
    return queue_work.Worker(access.user.id, is_admin=access.role.rank >= Role.ADMIN.rank)


def _context(access: ProjectAccess, state: ProcessState) -> dict[str, Any]:
    return {"access": access, "state": state, "queue": state.queue}


def progress_numbers(state: ProcessState) -> dict[str, int]:
    p, mine = state.progress, state.mine
    return {
        "queueCompleted": p.completed,
        "queueTotal": p.total,
        "completions": p.completions,
        "completionsNeeded": p.total * p.annotators_per_item,
        "mineCompleted": mine.completed if mine else 0,
        "mineSkipped": mine.skipped if mine else 0,
    }


@router.get(PROCESS)
def process_page(request: Request, user: CurrentUser, project_id: str, queue_id: str) -> Response:
    """Process a queue: the leased item, the scoring panel, Complete + Next."""
    access = project_access(request, user, project_id)
    back = f"/project/{path_segment(access.project_id)}/annotation-queues/{path_segment(queue_id)}"
    try:
        worker = worker_of(access)
        with db_of(request).write() as session:
            state = load_state(session, access.project_id, queue_id, worker)
    except (Forbidden, Conflict) as exc:
        # Not allowed here (role, not a queue member) or the queue is archived: say why.
        return render(
            request,
            "error.html",
            {
                "status": exc.status,
                "message": exc.message,
                "back_url": back,
                "back_label": "Back to the queue",
                "access": access,
            },
            status_code=exc.status,
            user=user,
        )
    response = render(
        request,
        "process.html",
        {**_context(access, state), "progress": progress_numbers(state), "nav_active": "queues"},
        user=user,
    )
    # A page from the back/forward cache would show an item whose lease may be gone.
    response.headers["Cache-Control"] = "no-store"
    return response


def _fragment(request: Request, access: ProjectAccess, state: ProcessState) -> dict[str, Any]:
    templates: Jinja2Templates = request.app.state.templates
    html = templates.get_template("_process_item.html").render(_context(access, state))
    return {
        "itemId": state.item.item.id if state.item else None,
        "done": state.item is None,
        "html": html,
        "progress": progress_numbers(state),
    }


def _json(call: Callable[[], dict[str, Any]]) -> JSONResponse:
    """Run a call; domain errors become {"message", "error"} with their status."""
    try:
        response = JSONResponse(call())
    except DomainError as exc:
        response = JSONResponse(
            {"message": exc.message, "error": exc.error}, status_code=exc.status
        )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(PROCESS + "/next")
def process_next(request: Request, user: CurrentUser, project_id: str, queue_id: str) -> Response:
    """Lease the caller's next item and return it rendered."""

    def run() -> dict[str, Any]:
        access = project_access(request, user, project_id)
        worker = worker_of(access)
        with db_of(request).write() as session:
            state = load_state(session, access.project_id, queue_id, worker)
        return _fragment(request, access, state)

    return _json(run)


@router.post(PROCESS + "/items/{item_id}/complete")
def process_complete(
    request: Request,
    user: CurrentUser,
    project_id: str,
    queue_id: str,
    item_id: str,
    body: JsonBody,
) -> Response:
    """Save the caller's scores, complete their part of the item, return the next item."""

    def run() -> dict[str, Any]:
        access = project_access(request, user, project_id)
        worker = worker_of(access)
        values, comment = queue_work.parse_scores(body)
        if not values and not comment:
            raise Invalid("give at least one score (or a comment), or skip the item")
        if comment and len(comment) > comments.MAX_LENGTH:
            raise Invalid(f"comment: at most {comments.MAX_LENGTH} characters")
        with db_of(request).write() as session:
            queue_work.complete_item(
                session, access.project_id, queue_id, item_id, worker, values, comment
            )
            state = load_state(session, access.project_id, queue_id, worker)
        return _fragment(request, access, state)

    return _json(run)


@router.post(PROCESS + "/items/{item_id}/skip")
def process_skip(
    request: Request, user: CurrentUser, project_id: str, queue_id: str, item_id: str
) -> Response:
    """Skip the item (it is not offered to the caller again); return the next item."""

    def run() -> dict[str, Any]:
        access = project_access(request, user, project_id)
        worker = worker_of(access)
        with db_of(request).write() as session:
            queue_work.skip_item(session, access.project_id, queue_id, item_id, worker)
            state = load_state(session, access.project_id, queue_id, worker)
        return _fragment(request, access, state)

    return _json(run)


@router.post(PROCESS + "/items/{item_id}/heartbeat")
def process_heartbeat(
    request: Request, user: CurrentUser, project_id: str, queue_id: str, item_id: str
) -> Response:
    """Extend the caller's lease on the item while the page is open."""

    def run() -> dict[str, Any]:
        access = project_access(request, user, project_id)
        worker = worker_of(access)
        with db_of(request).write() as session:
            work = queue_work.heartbeat(session, access.project_id, queue_id, item_id, worker)
            expires = work.lease_expires_at
        return {"itemId": item_id, "leaseExpiresAt": expires.isoformat() if expires else None}

    return _json(run)
