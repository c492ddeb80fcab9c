"""create_app(settings) -> the FastAPI application. Nothing is built at import time."""

from __future__ import annotations

import gc
import logging

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from tracemark import __version__
from tracemark.api import errors, public_router, root_router
from tracemark.api.limits import BodySizeLimit
from tracemark.config import Settings, load_settings
from tracemark.db.engine import Database
from tracemark.web import mount_web

OPENAPI_URL = "/api/public/openapi.json"


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    app = FastAPI(
        title="Tracemark",
        version=__version__,
        summary="Human annotation of LLM traces. Langfuse-compatible public API.",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db or Database(settings.resolved_database_url)
    errors.install(app)
    app.include_router(public_router())
    app.include_router(root_router())
    _mount_docs(app)
    mount_web(app, settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


def _mount_docs(app: FastAPI) -> None:
    app.mount(
        "/api/docs/assets",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-assets",
    )

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="Tracemark API",
            swagger_js_url="/api/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs/assets/swagger-ui.css",
            swagger_favicon_url="/api/docs/assets/favicon-32x32.png",
        )


def factory() -> FastAPI:
    """Entry point for uvicorn worker processes: settings come from TRACEMARK_* variables."""
    logging.basicConfig(level=logging.INFO)
    app = create_app(load_settings())
    tune_gc()
    return app


# Young-generation threshold of a server process (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the request path of a server process.

    An ingest request allocates a few hundred thousand short-lived containers (decoded spans,
    rows), nearly all freed by reference counting. With CPython's defaults that triggers a
    young collection every 700 of them and, every few requests, a full collection walking every
    object the application holds (170,000 after start-up): 70-75 ms each, measured with
    `bench/ingest.py` (about 14% of the server's CPU). What exists once the app is built lives
    as long as the process, so it is frozen out of the collector's reach, and young
    collections run less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
