"""The public REST API under /api/public: one router module per resource."""

from fastapi import APIRouter

from tracemark.api import (
    health,
    ingestion,
    media,
    models,
    observations,
    otel,
    projects,
    sessions,
    traces,
)


def public_router() -> APIRouter:
    router = APIRouter(prefix="/api/public")
    router.include_router(health.router)
    router.include_router(projects.router)
    router.include_router(ingestion.router)
    router.include_router(otel.router)
    router.include_router(traces.router)
    router.include_router(observations.router)
    router.include_router(sessions.router)
    router.include_router(media.router)
    router.include_router(models.router)
    return router


def root_router() -> APIRouter:
    """Endpoints outside /api/public (the standard OTLP path)."""
    return otel.root_router
