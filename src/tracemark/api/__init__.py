"""The public REST API under /api/public: one router module per resource."""

from fastapi import APIRouter

from tracemark.api import (
    analytics,
    analytics_dashboard,
    annotation_queues,
    comments,
    health,
    ingestion,
    media,
    models,
    observations,
    otel,
    projects,
    queue_processing,
    score_configs,
    scores,
    sessions,
    traces,
)


def public_router() -> APIRouter:
    router = APIRouter(prefix="/api/public")
    # First: FastAPI tries routes one by one, and next/complete are the most frequent calls.
    router.include_router(queue_processing.router)
    router.include_router(health.router)
    router.include_router(projects.router)
    router.include_router(ingestion.router)
    router.include_router(otel.router)
    router.include_router(traces.router)
    router.include_router(observations.router)
    router.include_router(sessions.router)
    router.include_router(media.router)
    router.include_router(models.router)
    router.include_router(score_configs.router)
    router.include_router(scores.router)
    router.include_router(comments.router)
    router.include_router(annotation_queues.router)
    router.include_router(analytics.router)

    router.include_router(analytics_dashboard.router)
    return router


def root_router() -> APIRouter:
    """Endpoints outside /api/public (the standard OTLP path)."""
    return otel.root_router
