"""The project list (home page) and a project's overview."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tracemark.services import accounts
from tracemark.web.common import CurrentUser, check_csrf, db_of, project_access, render
from tracemark.web.queues import queue_rows

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])


@router.get("/")
async def home(request: Request, user: CurrentUser) -> Response:
    def load() -> list[accounts.ProjectWithRole]:
        with db_of(request).read() as session:
            return accounts.projects_for_user(session, user)

    projects = await run_in_threadpool(load)
    return render(request, "projects.html", {"projects": projects}, user=user)


@router.get("/project/{project_id}")
def project_overview(request: Request, user: CurrentUser, project_id: str) -> Response:
    access = project_access(request, user, project_id)
    with db_of(request).read() as session:
        queue_list = queue_rows(session, access)
    return render(request, "project.html", {"access": access, "queues": queue_list}, user=user)
