"""The public REST API under /api/public: one router module per resource."""

from fastapi import APIRouter

from tracemark.api import health, projects


def public_router() -> APIRouter:
    router = APIRouter(prefix="/api/public")
    router.include_router(health.router)
    router.include_router(projects.router)
    return router
