"""Traces, observations and sessions lists: filters in the URL, keyset pages, bulk add to a queue.

Rows link to the detail pages (`/project/{id}/traces/{traceId}`, `/…/sessions/{sessionId}`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Select
from sqlalchemy.orm import Session

from tracemark.db.models import AnnotationQueue, Observation, ScoreConfig, TraceSession
from tracemark.services import lists, queues, score_configs, traces
from tracemark.services.blind import blind_for
from tracemark.services.errors import DomainError, Invalid, NotFound
from tracemark.services.permissions import Permission, allows, require
from tracemark.web import list_filters
from tracemark.web.common import CurrentUser, ProjectAccess, check_csrf, db_of, project_access
from tracemark.web.common import render as render_page
from tracemark.web.list_filters import ListView

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
PROJECT = "/project/{project_id}"
KINDS = {"traces": "TRACE", "observations": "OBSERVATION", "sessions": "SESSION"}
NEW_QUEUE = "__new__"


@dataclass
class ListPage:
    view: ListView
    page: lists.Page[Any]
    matching: int | None  # None: not counted
    exact: bool
    scores: dict[str, list[lists.ScoreSummary]]
    queues: list[lists.QueueChoice]
    configs: list[ScoreConfig]
    can_add: bool
    sessions: dict[str, lists.SessionTotals] = field(default_factory=dict)

    @property
    def count_url(self) -> str:
        query = self.view.filter_query()
        base = self.view.path.rsplit("/", 1)
        return f"{base[0]}/list-counts/{base[1]}" + ("?" + query if query else "")


def _base_query(session: Session, project_id: str, view: ListView) -> Select[Any]:
    if view.kind == "traces":
        flt = traces.sized_for_queue(session, list_filters.trace_filter(view.values))
        return traces.trace_query(project_id, flt)
    if view.kind == "observations":
        return traces.observation_query(project_id, list_filters.observation_filter(view.values))
    return traces.session_query(project_id, list_filters.session_filter(view.values))


def load_list(
    session: Session,
    access: ProjectAccess,
    view: ListView,
    *,
    after: str | None,
    before: str | None,
    exact: bool,
) -> ListPage:
    project_id = access.project_id
    page: lists.Page[Any]
    if view.kind == "traces":
        page = lists.trace_page(
            session,
            project_id,
            list_filters.trace_filter(view.values),
            sort=view.sort,
            limit=view.limit,
            after=after,
            before=before,
        )
    elif view.kind == "observations":
        page = lists.observation_page(
            session,
            project_id,
            list_filters.observation_filter(view.values),
            limit=view.limit,
            after=after,
            before=before,
        )
    else:
        page = lists.session_page(
            session,
            project_id,
            list_filters.session_filter(view.values),
            limit=view.limit,
            after=after,
            before=before,
        )
    matching: int | None = None  # counted by a second request (see `list_count`)
    if exact:  # asked for in the URL (the no-script way to get the count)
        matching = lists.capped_count(session, _base_query(session, project_id, view))
    elif not after and not before and page.next_cursor is None:
        matching, exact = len(page.rows), True  # the first page holds every match
    ids = [row.id for row in page.rows]
    target = {"traces": "trace", "observations": "observation", "sessions": "session"}[view.kind]
    can_add = allows(access.role, Permission.MANAGE_QUEUES)
    configs = (
        score_configs.list_configs(session, project_id, limit=200, archived=False)[0]
        if can_add
        else []
    )
    return ListPage(
        view=view,
        page=page,
        matching=matching,
        exact=exact,
        scores=lists.score_summaries(
            session,
            project_id,
            target,
            ids,
            own_only=_blind_rows(session, access, view.kind, page.rows),
            viewer_id=access.user.id,
        ),
        queues=lists.queue_choices(session, project_id),
        configs=configs,
        can_add=can_add,
        sessions=(
            lists.session_totals(session, project_id, ids) if view.kind == "sessions" else {}
        ),
    )


def _blind_rows(
    session: Session, access: ProjectAccess, kind: str, rows: Sequence[Any]
) -> set[str]:
    """The shown rows whose score chips count only the viewer's own scores: items of blind
    queues they work and have not completed (an observation's trace being one counts too)."""
    ids = [row.id for row in rows]
    if kind == "traces":
        found = blind_for(session, access.project_id, access.user.id, access.role, traces=ids)
        return set(found.traces)
    if kind == "sessions":
        found = blind_for(session, access.project_id, access.user.id, access.role, sessions=ids)
        return set(found.sessions)
    found = blind_for(
        session,
        access.project_id,
        access.user.id,
        access.role,
        traces=[row.trace_id for row in rows],
        observations=ids,
    )
    return {row.id for row in rows if row.id in found.observations or row.trace_id in found.traces}


def _list_response(request: Request, user: CurrentUser, project_id: str, kind: str) -> Response:
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    params = request.query_params
    path = f"/project/{project_id}/{kind}"
    view = list_filters.read_view(kind, path, params)
    with db_of(request).read() as session:
        data = load_list(
            session,
            access,
            view,
            after=params.get("after") or None,
            before=params.get("before") or None,
            exact=params.get("count") == "1",
        )
    return render_page(
        request,
        f"{kind}.html",
        {
            "access": access,
            "data": data,
            "view": view,
            "nav_active": kind,
            "levels": list_filters.LEVELS,
            "types": list_filters.OBSERVATION_TYPES,
            "operators": list_filters.OPERATORS,
            "count_cap": lists.COUNT_CAP,
            "new_queue": NEW_QUEUE,
        },
        user=user,
    )


@router.get(PROJECT + "/traces")
def trace_list(request: Request, user: CurrentUser, project_id: str) -> Response:
    """The project's traces, filterable and sortable, with bulk add to a queue."""
    return _list_response(request, user, project_id, "traces")


@router.get(PROJECT + "/observations")
def observation_list(request: Request, user: CurrentUser, project_id: str) -> Response:
    """The project's observations, newest first, filterable, with bulk add to a queue."""
    return _list_response(request, user, project_id, "observations")


@router.get(PROJECT + "/sessions")
def session_list(request: Request, user: CurrentUser, project_id: str) -> Response:
    """The project's sessions, newest first, filterable, with bulk add to a queue."""
    return _list_response(request, user, project_id, "sessions")


def _count_response(request: Request, user: CurrentUser, project_id: str, kind: str) -> Response:
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    view = list_filters.read_view(kind, "", request.query_params)
    with db_of(request).read() as session:
        matching = lists.capped_count(session, _base_query(session, access.project_id, view))
    return JSONResponse(
        {"matching": min(matching, lists.COUNT_CAP), "capped": matching > lists.COUNT_CAP}
    )


@router.get(PROJECT + "/list-counts/{kind}")
def list_count(request: Request, user: CurrentUser, project_id: str, kind: str) -> Response:
    """How many rows match a list's filter (up to COUNT_CAP), fetched by the page's script."""
    if kind not in KINDS:
        raise NotFound(f"no list {kind!r}")
    return _count_response(request, user, project_id, kind)


# --- Actions -> Add to annotation queue --------------------------------------------------


@dataclass
class AddResult:
    queue: AnnotationQueue
    created: bool
    added: int
    already: int
    missing: int


def _new_queue_body(form: Any) -> dict[str, Any]:
    annotators = (form.get("new_annotators") or "1").strip()
    if not annotators.isdigit():
        raise Invalid("annotators per item: must be a whole number from 1 to 20")
    return {
        "name": form.get("new_name") or "",
        "description": form.get("new_description") or None,
        "scoreConfigIds": form.getlist("new_configs"),
        "annotatorsPerItem": int(annotators),
    }


def add_to_queue(session: Session, project_id: str, kind: str, form: Any) -> AddResult:
    """Create the queue if asked, then add the ticked rows or every row matching the filter."""
    queue_id = form.get("queue_id") or ""
    created = queue_id == NEW_QUEUE
    if created:
        queue = queues.create_queue(session, project_id, _new_queue_body(form))
    elif not queue_id:
        raise Invalid("queue: choose a queue, or create a new one")
    else:
        queue = queues.get_queue(session, project_id, queue_id)
    object_type = KINDS[kind]
    values = dict(parse_qsl(form.get("filters") or ""))
    if form.get("all_matching") == "1":
        view = list_filters.read_view(kind, "", values)
        if kind == "traces":
            flt = traces.sized_for_queue(session, list_filters.trace_filter(view.values))
            matching = lists.exact_count(session, traces.trace_query(project_id, flt))
            added = queues.add_items_from_filter(session, project_id, queue.id, flt)
            return AddResult(queue, created, added, matching - added, 0)
        id_column = Observation.id if kind == "observations" else TraceSession.id
        ids = lists.matching_ids(session, _base_query(session, project_id, view), id_column)
    else:
        ids = list(dict.fromkeys(form.getlist("ids")))
    if not ids:
        raise Invalid("select at least one row, or all rows matching the filter")
    result = queues.add_items(
        session, project_id, queue.id, [queues.ObjectRef(object_type, i) for i in ids]
    )
    return AddResult(
        queue, created, len(result.added), len(result.already_present), len(result.not_found)
    )


async def _add_response(
    request: Request, user: CurrentUser, project_id: str, kind: str
) -> Response:
    form = await request.form()
    return await run_in_threadpool(_add, request, user, project_id, kind, form)


def _add(request: Request, user: CurrentUser, project_id: str, kind: str, form: Any) -> Response:
    access = project_access(request, user, project_id)
    require(access.role, Permission.MANAGE_QUEUES)
    back = f"/project/{project_id}/{kind}"
    if form.get("filters"):
        back += "?" + str(form.get("filters"))
    try:
        with db_of(request).write() as session:
            result = add_to_queue(session, access.project_id, kind, form)
            queue_name, queue_id = result.queue.name, result.queue.id
    except DomainError as exc:
        return render_page(
            request,
            "error.html",
            {
                "status": exc.status,
                "message": exc.message,
                "back_url": back,
                "back_label": "Back to the list",
            },
            status_code=exc.status,
            user=user,
        )
    return render_page(
        request,
        "queue_added.html",
        {
            "access": access,
            "result": result,
            "queue_name": queue_name,
            "queue_id": queue_id,
            "kind": kind,
            "back": back,
            "nav_active": kind,
        },
        user=user,
    )


@router.post(PROJECT + "/traces/add-to-queue")
async def traces_to_queue(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Add the selected traces (or all matching the filter) to an annotation queue."""
    return await _add_response(request, user, project_id, "traces")


@router.post(PROJECT + "/observations/add-to-queue")
async def observations_to_queue(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Add the selected observations (or all matching) to an annotation queue."""
    return await _add_response(request, user, project_id, "observations")


@router.post(PROJECT + "/sessions/add-to-queue")
async def sessions_to_queue(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Add the selected sessions (or all matching) to an annotation queue."""
    return await _add_response(request, user, project_id, "sessions")
