"""The server-rendered web UI: one module per page group."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from tracemark.config import Settings
from tracemark.web import (
    analytics,
    auth,
    common,
    dashboard,
    forms,
    lists,
    process,
    project_settings,
    projects,
    queue_forms,
    queues,
    score_configs,
    scores,
    session_page,
    set_password,
    trace_page,
)

STATIC_DIR = Path(__file__).parent / "static"


def mount_web(app: FastAPI, settings: Settings) -> None:
    app.state.templates = common.make_templates()
    app.state.render_error = common.render_error
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth.router)
    app.include_router(projects.router)
    app.include_router(set_password.router)
    app.include_router(score_configs.router)
    app.include_router(scores.router)
    app.include_router(project_settings.router)
    # Before `queues`: its /{queue_id} would otherwise take /new.
    app.include_router(queue_forms.router)
    app.include_router(queues.router)
    app.include_router(process.router)
    app.include_router(lists.router)
    app.include_router(trace_page.router)
    app.include_router(session_page.router)
    app.include_router(analytics.router)
    app.include_router(dashboard.router)

    @app.exception_handler(forms.PageError)
    async def _page_error(request: Request, exc: forms.PageError) -> Response:
        return forms.page_error_response(request, exc)

    @app.exception_handler(common.LoginRequired)
    async def _login_required(request: Request, exc: common.LoginRequired) -> Response:
        if not await run_in_threadpool(auth.has_users, request):
            return common.redirect("/setup")
        return common.login_redirect(request)
