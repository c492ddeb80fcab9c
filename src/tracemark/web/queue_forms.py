"""Creating and editing annotation queues in the browser; archiving and restoring them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tracemark.db.models import AnnotationQueue, Role, ScoreConfig
from tracemark.services import accounts, queues, score_configs
from tracemark.services.errors import DomainError
from tracemark.services.permissions import Permission
from tracemark.web import forms
from tracemark.web.common import (
    CurrentUser,
    ProjectAccess,
    check_csrf,
    db_of,
    path_segment,
    project_access,
    redirect,
    render,
)
from tracemark.web.queues import QUEUES

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])


@dataclass
class QueueForm:
    name: str = ""
    description: str = ""
    config_ids: list[str] = field(default_factory=list)
    annotators_per_item: str = "1"
    lease_seconds: str = str(queues.DEFAULT_LEASE_SECONDS)
    blind: bool = False
    member_ids: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, queue: AnnotationQueue, member_ids: list[str]) -> QueueForm:
        return cls(
            name=queue.name,
            description=queue.description or "",
            config_ids=list(queue.score_config_ids),
            annotators_per_item=str(queue.annotators_per_item),
            lease_seconds=str(queue.lease_seconds),
            blind=queue.blind,
            member_ids=member_ids,
        )

    @classmethod
    def parse(cls, form: FormData) -> QueueForm:
        return cls(
            name=forms.text(form, "name"),
            description=str(form.get("description") or "").strip(),
            config_ids=[c for c in forms.texts(form, "config") if c],
            annotators_per_item=forms.text(form, "annotators_per_item"),
            lease_seconds=forms.text(form, "lease_seconds"),
            blind=forms.checked(form, "blind"),
            member_ids=[m for m in forms.texts(form, "member") if m],
        )

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "description": self.description or None,
            "scoreConfigIds": self.config_ids,
            "blind": self.blind,
            "memberUserIds": self.member_ids,
        }
        n = forms.whole_number(self.annotators_per_item, "annotatorsPerItem")
        if n is not None:
            body["annotatorsPerItem"] = n
        lease = forms.whole_number(self.lease_seconds, "leaseSeconds")
        if lease is not None:
            body["leaseSeconds"] = lease
        return body


@dataclass
class FormChoices:
    configs: list[ScoreConfig]  # active ones, and archived ones the queue still names
    people: list[accounts.Member]  # members who may annotate


def _choices(session: Session, project_id: str, selected: list[str]) -> FormChoices:
    configs, _ = score_configs.list_configs(session, project_id, limit=1000)
    return FormChoices(
        configs=[c for c in configs if not c.is_archived or c.id in selected],
        people=[
            m
            for m in accounts.list_members(session, project_id)
            if m.role.rank >= Role.ANNOTATOR.rank
        ],
    )


def _base(access: ProjectAccess) -> str:
    return f"/project/{path_segment(access.project_id)}/annotation-queues"


def _manager(request: Request, user: CurrentUser, project_id: str) -> ProjectAccess:
    access = project_access(request, user, project_id)
    forms.require_on_page(access, Permission.MANAGE_QUEUES, _base(access), "Back to the queues")
    return access


def _form_page(
    request: Request,
    access: ProjectAccess,
    user: CurrentUser,
    form: QueueForm,
    *,
    queue: AnnotationQueue | None,
    error: DomainError | None = None,
) -> Response:
    with db_of(request).read() as session:
        choices = _choices(session, access.project_id, form.config_ids)
    return render(
        request,
        "queue_form.html",
        {
            "access": access,
            "form": form,
            "queue": queue,
            "choices": choices,
            "max_annotators": queues.MAX_ANNOTATORS,
            "error": error.message if error else None,
            "nav_active": "queues",
        },
        status_code=error.status if error else 200,
        user=user,
    )


@router.get(QUEUES + "/new")
def new_queue_page(request: Request, user: CurrentUser, project_id: str) -> Response:
    """The form for a new annotation queue."""
    access = _manager(request, user, project_id)
    return _form_page(request, access, user, QueueForm(), queue=None)


@router.post(QUEUES + "/new")
async def create_queue(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Create an annotation queue, or show the form again with the service's message."""
    access = _manager(request, user, project_id)
    form = QueueForm.parse(await request.form())
    try:
        body = form.body()
        with db_of(request).write() as session:
            queue_id = queues.create_queue(session, access.project_id, body).id
    except DomainError as exc:
        return _form_page(request, access, user, form, queue=None, error=exc)
    return redirect(f"{_base(access)}/{path_segment(queue_id)}")


@router.get(QUEUES + "/{queue_id}/edit")
def edit_queue_page(
    request: Request, user: CurrentUser, project_id: str, queue_id: str
) -> Response:
    """The form for editing an annotation queue."""
    access = _manager(request, user, project_id)
    with db_of(request).read() as session:
        queue = queues.get_queue(session, access.project_id, queue_id)
        members = queues.members_by_queue(session, [queue.id])[queue.id]
    return _form_page(request, access, user, QueueForm.of(queue, members), queue=queue)


@router.post(QUEUES + "/{queue_id}/edit")
async def update_queue(
    request: Request, user: CurrentUser, project_id: str, queue_id: str
) -> Response:
    """Save an annotation queue's changes, or show the form again with the message."""
    access = _manager(request, user, project_id)
    with db_of(request).read() as session:
        queue = queues.get_queue(session, access.project_id, queue_id)
    form = QueueForm.parse(await request.form())
    try:
        body = form.body()
        with db_of(request).write() as session:
            queues.update_queue(session, access.project_id, queue_id, body)
    except DomainError as exc:
        return _form_page(request, access, user, form, queue=queue, error=exc)
    return redirect(f"{_base(access)}/{path_segment(queue_id)}")


def _set_archived(
    request: Request, user: CurrentUser, project_id: str, queue_id: str, value: bool
) -> Response:
    access = _manager(request, user, project_id)
    with db_of(request).write() as session:
        queues.update_queue(session, access.project_id, queue_id, {"archived": value})
    return redirect(f"{_base(access)}/{path_segment(queue_id)}")


@router.post(QUEUES + "/{queue_id}/archive")
def archive_queue(request: Request, user: CurrentUser, project_id: str, queue_id: str) -> Response:
    """Archive a queue: nobody processes it; its items and scores stay."""
    return _set_archived(request, user, project_id, queue_id, True)


@router.post(QUEUES + "/{queue_id}/restore")
def restore_queue(request: Request, user: CurrentUser, project_id: str, queue_id: str) -> Response:
    """Restore an archived queue."""
    return _set_archived(request, user, project_id, queue_id, False)
