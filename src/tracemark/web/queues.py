"""Annotation queue pages: the project's queue list, one queue's page, its export."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from tracemark.db.models import AnnotationQueue, QueueItem, Role, ScoreConfig
from tracemark.services import accounts, queue_export, queue_work, queues, score_configs
from tracemark.services.permissions import Permission, allows, require
from tracemark.web.common import (
    CurrentUser,
    ProjectAccess,
    check_csrf,
    db_of,
    project_access,
    render,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
QUEUES = "/project/{project_id}/annotation-queues"
ITEMS_SHOWN = 100
ITEM_STATUSES = ("PENDING", "COMPLETED")


@dataclass
class QueueRow:
    summary: queues.QueueSummary
    can_process: bool


def may_process(access: ProjectAccess, queue: AnnotationQueue, member_ids: list[str]) -> bool:
    """Whether to offer Process: the role allows it and the queue lets this person in."""
    if queue.archived or not allows(access.role, Permission.PROCESS_QUEUES):
        return False
    return not member_ids or access.user.id in member_ids or access.role.rank >= Role.ADMIN.rank


def queue_rows(
    session: Session, access: ProjectAccess, *, include_archived: bool = False
) -> list[QueueRow]:
    summaries, _ = queues.list_queues(
        session,
        access.project_id,
        limit=100,
        user_id=access.user.id,
        include_archived=include_archived,
    )
    return [QueueRow(s, may_process(access, s.queue, s.member_ids)) for s in summaries]


def people_names(session: Session, project_id: str, user_ids: set[str]) -> dict[str, str]:
    """Display names of users (members, or instance admins who worked in the project)."""
    names = {m.user.id: m.user.name for m in accounts.list_members(session, project_id)}
    for user_id in user_ids - names.keys():
        user = accounts.get_user(session, user_id)
        names[user_id] = user.name if user else "(deleted user)"
    return names


@router.get(QUEUES)
def queue_list(
    request: Request, user: CurrentUser, project_id: str, archived: bool = False
) -> Response:
    """The project's annotation queues, mine first, with progress."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    with db_of(request).read() as session:
        rows = queue_rows(session, access, include_archived=archived)
    return render(
        request,
        "queues.html",
        {
            "access": access,
            "rows": rows,
            "archived": archived,
            "can_manage": allows(access.role, Permission.MANAGE_QUEUES),
            "nav_active": "queues",
        },
        user=user,
    )


@dataclass
class ItemRow:
    item: QueueItem
    completed_by: list[str]


@dataclass
class QueuePage:
    queue: AnnotationQueue
    configs: list[ScoreConfig]
    member_ids: list[str]
    progress: queue_work.Progress
    items: list[ItemRow]
    items_total: int
    names: dict[str, str]
    assignable: list[accounts.Member]


def _blank(value: str | None) -> str | None:
    return value or None


def load_queue_page(
    session: Session, access: ProjectAccess, queue_id: str, flt: queues.ItemFilter
) -> QueuePage:
    queue = queues.get_queue(session, access.project_id, queue_id)
    members = queues.members_by_queue(session, [queue.id])[queue.id]
    items, total = queues.list_items(session, access.project_id, queue.id, flt, limit=ITEMS_SHOWN)
    done = queues.completed_by(session, [i.id for i in items])
    configs = score_configs.configs_by_id(session, access.project_id, set(queue.score_config_ids))
    people = set(members) | {u for users in done.values() for u in users}
    people |= {i.assignee_user_id for i in items if i.assignee_user_id}
    return QueuePage(
        queue=queue,
        configs=[configs[c] for c in queue.score_config_ids if c in configs],
        member_ids=members,
        progress=queue_work.progress(session, access.project_id, queue.id),
        items=[ItemRow(i, done[i.id]) for i in items],
        items_total=total,
        names=people_names(session, access.project_id, people),
        assignable=[
            m
            for m in accounts.list_members(session, access.project_id)
            if m.role.rank >= Role.ANNOTATOR.rank
        ],
    )


@router.get(QUEUES + "/{queue_id}")
def queue_page(
    request: Request,
    user: CurrentUser,
    project_id: str,
    queue_id: str,
    status: str | None = None,
    assignee: str | None = None,
    completed_by: str | None = None,
) -> Response:
    """A queue: guidelines, per-annotator progress, items (filterable), export."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    flt = queues.ItemFilter(
        status=_blank(status), assignee_user_id=_blank(assignee), completed_by=_blank(completed_by)
    )
    with db_of(request).read() as session:
        page = load_queue_page(session, access, queue_id, flt)
    return render(
        request,
        "queue.html",
        {
            "access": access,
            "page": page,
            "filters": flt,
            "statuses": ITEM_STATUSES,
            "can_process": may_process(access, page.queue, page.member_ids),
            "can_manage": allows(access.role, Permission.MANAGE_QUEUES),
            "shown": ITEMS_SHOWN,
            "nav_active": "queues",
        },
        user=user,
    )


@router.get(QUEUES + "/{queue_id}/export.{fmt}")
def queue_export_file(
    request: Request, user: CurrentUser, project_id: str, queue_id: str, fmt: str
) -> Response:
    """The queue's results (one row per item and annotator) as CSV or JSON Lines."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    queue_export.check_format(fmt)
    db = db_of(request)
    queue_export.check_queue(db, access.project_id, queue_id)
    return StreamingResponse(
        queue_export.stream(db, access.project_id, queue_id, fmt),
        media_type=queue_export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="queue-{queue_id}.{fmt}"'},
    )
