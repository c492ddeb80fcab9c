"""The trace detail page (the URL the SDK's get_trace_url() builds), its selection panel, and
Annotate on the trace or one of its observations."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

from tracemark.services import annotation
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, allows, require
from tracemark.web import annotate, detail_views
from tracemark.web.annotate import saved_from_query
from tracemark.web.common import (
    CurrentUser,
    ProjectAccess,
    check_csrf,
    csrf_for,
    db_of,
    path_segment,
    project_access,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
# A trace id may hold "/" (clients choose them): the id is a path, and the routes that extend
# it are declared before the page itself.
TRACE = "/project/{project_id}/traces/{trace_id:path}"


def trace_url(project_id: str, trace_id: str) -> str:
    return f"/project/{path_segment(project_id)}/traces/{path_segment(trace_id)}"


def _label(node: detail_views.NodeView) -> str:
    if node.observation is not None:
        return node.observation.name or node.observation.type.lower()
    return node.trace.name or "this trace"


def _form(
    session: Any, access: ProjectAccess, node: detail_views.NodeView
) -> detail_views.AnnotateForm | None:
    if not allows(access.role, Permission.ANNOTATE):
        return None
    return detail_views.annotate_form(
        session,
        access.project_id,
        node.target,
        label=_label(node),
        action=trace_url(access.project_id, node.trace.id) + "/annotate",
        user_id=access.user.id,
    )


def _page(
    request: Request,
    access: ProjectAccess,
    trace_id: str,
    observation: str | None,
    *,
    tab: str = "run",
    annotate_open: bool = False,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    with db_of(request).read() as session:
        detail = detail_views.load_trace(
            session,
            access.project_id,
            trace_id,
            observation,
            viewer_id=access.user.id,
            viewer_role=access.role,
        )
        form = _form(session, access, detail.node)
    link = trace_url(access.project_id, trace_id)
    return render(
        request,
        "trace.html",
        {
            "access": access,
            "detail": detail,
            "form": form,
            "link": link,
            "panel": link + "/panel",
            "tab": "scores" if tab == "scores" else "run",
            "annotate_open": annotate_open or error is not None,
            "message": message,
            "error": error,
            "nav_active": "traces",
        },
        status_code=status_code,
        user=access.user,
    )


@router.get(TRACE + "/panel")
def trace_panel(
    request: Request,
    user: CurrentUser,
    project_id: str,
    trace_id: str,
    observation: str | None = None,
) -> Response:
    """The selected node rendered (and its Annotate form): the tree swaps it in."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    with db_of(request).read() as session:
        node = detail_views.load_node(session, access.project_id, trace_id, observation or None)
        form = _form(session, access, node)
    templates: Jinja2Templates = request.app.state.templates
    env = templates.env
    body: dict[str, Any] = {
        "detail": str(env.get_template("_trace.html").module.node_detail(node)).strip(),  # type: ignore[attr-defined]
        "annotate": None,
    }
    if form is not None:
        body["annotate"] = str(
            env.get_template("_annotate.html").module.annotate_form(form, csrf_for(request))  # type: ignore[attr-defined]
        ).strip()
    response = JSONResponse(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(TRACE)
def trace_page(
    request: Request,
    user: CurrentUser,
    project_id: str,
    trace_id: str,
    observation: str | None = None,
    tab: str = "run",
    annotate: bool = False,
    saved: int | None = None,
    commented: bool = False,
    removed: int = 0,
) -> Response:
    """A trace: execution tree, the selected observation, totals, Run / Scores, Annotate."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    done = saved_from_query(saved, commented, removed)
    return _page(
        request,
        access,
        trace_id,
        observation or None,
        tab=tab,
        annotate_open=annotate,
        message=done.message if done else None,
    )


@router.post(TRACE + "/annotate")
async def trace_annotate(
    request: Request, user: CurrentUser, project_id: str, trace_id: str
) -> Response:
    """Save my scores and comment on the trace or one of its observations."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.ANNOTATE)
    form = await annotate.form_of(request)
    observation = str(form.get("observation") or "") or None
    try:
        done = annotate.save(
            request,
            access,
            form,
            lambda session: annotation.trace_target(
                session, access.project_id, trace_id, observation
            ),
        )
    except Invalid as exc:
        return _page(
            request, access, trace_id, observation, error=exc.message, status_code=exc.status
        )
    target = trace_url(access.project_id, trace_id) + "?"
    if observation:
        target += "observation=" + quote(observation, safe="") + "&"
    return redirect(target + "annotate=1&" + done.query)
