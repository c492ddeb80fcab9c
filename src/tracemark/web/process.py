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

from tracemark.db.models import (
    AnnotationQueue,
    QueueItem,
    Role,
    Score,
    ScoreConfig,
    Trace,
    User,
    WorkState,
)
from tracemark.services import (
    annotation,
    queue_history,
    queue_objects,
    queue_work,
    queues,
    score_configs,
)
from tracemark.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from tracemark.services.permissions import Permission, require
from tracemark.web import content, detail_views
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
from tracemark.web.score_fields import ScoreField, fields_for

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
PROCESS = QUEUES + "/{queue_id}/process"
JsonBody = Annotated[dict[str, Any], Body()]


def score_fields(queue: AnnotationQueue, configs: dict[str, ScoreConfig]) -> list[ScoreField]:
    return fields_for(configs[c] for c in queue.score_config_ids if c in configs)


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
    # The Detailed view: the whole trace (trace and observation items) or session.
    trace: detail_views.TraceDetail | None = None
    session: detail_views.SessionDetail | None = None
    # Blind queues hide everyone else's scores until the person has completed the item.
    blind: bool = False


@dataclass
class ProcessState:
    queue: AnnotationQueue
    fields: list[ScoreField]
    item: ItemView | None
    progress: queue_work.Progress
    mine: queue_work.AnnotatorProgress | None
    my_values: dict[str, Score] = field(default_factory=dict)  # my scores by config id
    # "lease": the item I hold now; "history": one I completed or skipped before (Previous).
    mode: str = "lease"
    work_state: str | None = None  # history mode: COMPLETED or SKIPPED


def _item_view(
    session: Session,
    project_id: str,
    item: QueueItem,
    lease_expires_at: datetime | None,
    *,
    viewer_id: str,
    blind: bool,
) -> ItemView:
    summary = queue_objects.summary(session, project_id, item)
    trace_id = item.object_id if item.object_type == "TRACE" else item.trace_id
    view = ItemView(item, lease_expires_at, summary, trace_id, blind=blind)
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
        view.session = detail_views.load_session(
            session, project_id, item.object_id, viewer_id=viewer_id, blind=blind
        )
    else:
        view.input = content.view(summary.get("input"))
        view.output = content.view(summary.get("output"))
        view.metadata = content.view(summary.get("metadata"))
        if trace_id and session.get(Trace, (project_id, trace_id)) is not None:
            view.trace = detail_views.load_trace(
                session,
                project_id,
                trace_id,
                item.object_id if item.object_type == "OBSERVATION" else None,
                viewer_id=viewer_id,
                blind=blind,
            )
    return view


def _state(
    session: Session,
    project_id: str,
    queue: AnnotationQueue,
    worker: queue_work.Worker,
    item: ItemView | None,
    **extra: Any,
) -> ProcessState:
    configs = score_configs.configs_by_id(session, project_id, set(queue.score_config_ids))
    progress = queue_work.progress(session, project_id, queue.id)
    mine = next((a for a in progress.annotators if a.user_id == worker.user_id), None)
    my_values = (
        annotation.my_scores(
            session,
            project_id,
            annotation.Target(item.item.object_type, item.item.object_id, item.item.trace_id),
            worker.user_id,
        )
        if item is not None
        else {}
    )
    return ProcessState(
        queue=queue,
        fields=score_fields(queue, configs),
        item=item,
        progress=progress,
        mine=mine,
        my_values=my_values,
        **extra,
    )


def load_state(
    session: Session, project_id: str, queue_id: str, worker: queue_work.Worker
) -> ProcessState:
    """Lease the caller's next item (or keep their live lease) and gather what the page shows."""
    leased = queue_work.next_item(session, project_id, queue_id, worker)
    queue = leased.queue if leased else queues.get_queue(session, project_id, queue_id)
    view = None
    if leased is not None:
        view = _item_view(
            session,
            project_id,
            leased.item,
            leased.work.lease_expires_at,
            viewer_id=worker.user_id,
            blind=queue.blind,
        )
    return _state(session, project_id, queue, worker, view)


def load_history_state(
    session: Session, project_id: str, queue_id: str, worker: queue_work.Worker, item_id: str
) -> ProcessState:
    """An item the caller completed or skipped before, with their scores, to revise."""
    item, work = queue_history.finished_item(session, project_id, queue_id, worker, item_id)
    queue = queues.get_queue(session, project_id, queue_id)
    completed = work.state == WorkState.COMPLETED.value
    view = _item_view(
        session,
        project_id,
        item,
        None,
        viewer_id=worker.user_id,
        blind=queue.blind and not completed,
    )
    return _state(session, project_id, queue, worker, view, mode="history", work_state=work.state)


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
        "mode": state.mode,
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


Step = Callable[[Session, str, queue_work.Worker], ProcessState]


def _step(
    request: Request, user: User, project_id: str, step: Step, *, write: bool = True
) -> Response:
    """One move in the queue (next, complete, skip, back, forward): the new state, rendered.

    `step(session, project_id, worker)` runs in one transaction and returns what to show.
    """

    def run() -> dict[str, Any]:
        access = project_access(request, user, project_id)
        worker = worker_of(access)
        db = db_of(request)
        with db.write() if write else db.read() as session:
            state = step(session, access.project_id, worker)
        return _fragment(request, access, state)

    return _json(run)


@router.post(PROCESS + "/next")
def process_next(request: Request, user: CurrentUser, project_id: str, queue_id: str) -> Response:
    """Lease the caller's next item and return it rendered."""
    return _step(request, user, project_id, lambda s, p, w: load_state(s, p, queue_id, w))


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

    def step(session: Session, project: str, worker: queue_work.Worker) -> ProcessState:
        values, comment = queue_work.parse_scores(body)
        if not values and not comment:
            raise Invalid("give at least one score (or a comment), or skip the item")
        queue_work.complete_item(session, project, queue_id, item_id, worker, values, comment)
        return load_state(session, project, queue_id, worker)

    return _step(request, user, project_id, step)


@router.post(PROCESS + "/items/{item_id}/skip")
def process_skip(
    request: Request, user: CurrentUser, project_id: str, queue_id: str, item_id: str
) -> Response:
    """Skip the item (it is not offered to the caller again); return the next item."""

    def step(session: Session, project: str, worker: queue_work.Worker) -> ProcessState:
        queue_work.skip_item(session, project, queue_id, item_id, worker)
        return load_state(session, project, queue_id, worker)

    return _step(request, user, project_id, step)


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


def _item_id(body: dict[str, Any]) -> str | None:
    value = body.get("itemId")
    if value is not None and not isinstance(value, str):
        raise Invalid("itemId: must be a string")
    return value or None


@router.post(PROCESS + "/previous")
def process_previous(
    request: Request, user: CurrentUser, project_id: str, queue_id: str, body: JsonBody
) -> Response:
    """The item I completed or skipped just before `itemId` (or my last one), to revise."""

    def step(session: Session, project: str, worker: queue_work.Worker) -> ProcessState:
        item = queue_history.previous_item(session, project, queue_id, worker, _item_id(body))
        if item is None:
            raise NotFound("there is no earlier item of yours in this queue")
        return load_history_state(session, project, queue_id, worker, item.id)

    return _step(request, user, project_id, step, write=False)


def _forward(
    session: Session, project_id: str, queue_id: str, worker: queue_work.Worker, item_id: str
) -> ProcessState:
    """The item I finished after `item_id`, or, past the last one, my current item."""
    following = queue_history.following_item(session, project_id, queue_id, worker, item_id)
    if following is not None:
        return load_history_state(session, project_id, queue_id, worker, following.id)
    return load_state(session, project_id, queue_id, worker)


@router.post(PROCESS + "/forward")
def process_forward(
    request: Request, user: CurrentUser, project_id: str, queue_id: str, body: JsonBody
) -> Response:
    """Forward from an earlier item: the next one I finished, or back to my current item."""

    def step(session: Session, project: str, worker: queue_work.Worker) -> ProcessState:
        item_id = _item_id(body)
        if item_id is None:
            return load_state(session, project, queue_id, worker)
        return _forward(session, project, queue_id, worker, item_id)

    return _step(request, user, project_id, step)


@router.post(PROCESS + "/items/{item_id}/revise")
def process_revise(
    request: Request,
    user: CurrentUser,
    project_id: str,
    queue_id: str,
    item_id: str,
    body: JsonBody,
) -> Response:
    """Change my scores on an item I completed (or complete one I skipped); go forward."""

    def step(session: Session, project: str, worker: queue_work.Worker) -> ProcessState:
        values, comment = queue_work.parse_scores(body)
        queue_history.finished_item(session, project, queue_id, worker, item_id)
        if values or comment:
            queue_work.complete_item(session, project, queue_id, item_id, worker, values, comment)
        return _forward(session, project, queue_id, worker, item_id)

    return _step(request, user, project_id, step)
