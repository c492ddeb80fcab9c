"""The server-rendered web UI: one module per page group."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from tracemark.config import Settings
from tracemark.web import auth, common, dashboard, process, projects, queues

STATIC_DIR = Path(__file__).parent / "static"


def mount_web(app: FastAPI, settings: Settings) -> None:
    app.state.templates = common.make_templates()
    app.state.render_error = common.render_error
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth.router)
    app.include_router(projects.router)
    app.include_router(queues.router)
    app.include_router(process.router)
    app.include_router(dashboard.router)

    @app.exception_handler(common.LoginRequired)
    async def _login_required(request: Request, exc: common.LoginRequired) -> Response:
        if not await run_in_threadpool(auth.has_users, request):
            return common.redirect("/setup")
        return common.login_redirect(request)
