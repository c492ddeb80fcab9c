"""The session detail page: its traces in order as a conversation, Scores, and Annotate."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tracemark.services import annotation
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, allows, require
from tracemark.web import annotate, detail_views
from tracemark.web.annotate import saved_from_query
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

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
# Session ids are chosen by clients and may hold "/": the id is the rest of the path.
SESSION = "/project/{project_id}/sessions/{session_id:path}"


def session_url(project_id: str, session_id: str) -> str:
    return f"/project/{path_segment(project_id)}/sessions/{path_segment(session_id)}"


def _page(
    request: Request,
    access: ProjectAccess,
    session_id: str,
    *,
    tab: str = "run",
    annotate_open: bool = False,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    with db_of(request).read() as session:
        detail = detail_views.load_session(
            session,
            access.project_id,
            session_id,
            viewer_id=access.user.id,
            viewer_role=access.role,
        )
        form = None
        if allows(access.role, Permission.ANNOTATE):
            form = detail_views.annotate_form(
                session,
                access.project_id,
                annotation.Target("SESSION", session_id),
                label="this session",
                action=session_url(access.project_id, session_id) + "/annotate",
                user_id=access.user.id,
            )
    return render(
        request,
        "session.html",
        {
            "access": access,
            "detail": detail,
            "form": form,
            "tab": "scores" if tab == "scores" else "run",
            "annotate_open": annotate_open or error is not None,
            "message": message,
            "error": error,
            "nav_active": "sessions",
        },
        status_code=status_code,
        user=access.user,
    )


@router.post(SESSION + "/annotate")
async def session_annotate(
    request: Request, user: CurrentUser, project_id: str, session_id: str
) -> Response:
    """Save my scores and comment on the session."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.ANNOTATE)
    form = await annotate.form_of(request)
    try:
        done = annotate.save(
            request,
            access,
            form,
            lambda session: annotation.session_target(session, access.project_id, session_id),
        )
    except Invalid as exc:
        return _page(request, access, session_id, error=exc.message, status_code=exc.status)
    return redirect(session_url(access.project_id, session_id) + "?annotate=1&" + done.query)


@router.get(SESSION)
def session_page(
    request: Request,
    user: CurrentUser,
    project_id: str,
    session_id: str,
    tab: str = "run",
    annotate: bool = False,
    saved: int | None = None,
    commented: bool = False,
    removed: int = 0,
) -> Response:
    """A session: its traces in order as a conversation, Scores, Annotate."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    done = saved_from_query(saved, commented, removed)
    return _page(
        request,
        access,
        session_id,
        tab=tab,
        annotate_open=annotate,
        message=done.message if done else None,
    )
