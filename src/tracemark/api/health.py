"""Health and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from tracemark import __version__
from tracemark.api.deps import DB
from tracemark.api.schemas.common import WireModel
from tracemark.db import migrate

router = APIRouter(tags=["health"])


class HealthResponse(WireModel):
    status: str
    version: str


_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The database cannot be reached", "model": HealthResponse}
}


@router.get("/health", operation_id="health", response_model=HealthResponse, responses=_UNAVAILABLE)
def health(db: DB) -> HealthResponse | JSONResponse:
    """Liveness: the server answers and reaches its database."""
    try:
        db.ping()
    except SQLAlchemyError:
        return JSONResponse(
            {
                "status": "DATABASE_UNREACHABLE",
                "version": __version__,
                "message": "database unreachable",
            },
            status_code=503,
        )
    return HealthResponse(status="OK", version=__version__)


@router.get("/ready", operation_id="ready", response_model=HealthResponse, responses=_UNAVAILABLE)
def ready(db: DB) -> HealthResponse | JSONResponse:
    """Readiness: the database is reachable and its schema is current."""
    try:
        current = migrate.is_current(db.engine)
    except SQLAlchemyError:
        current = False
    if not current:
        return JSONResponse(
            {
                "status": "NOT_READY",
                "version": __version__,
                "message": "database unreachable or schema not current",
            },
            status_code=503,
        )
    return HealthResponse(status="OK", version=__version__)
