"""The project a key or token belongs to (what `langfuse` auth_check() reads)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tracemark.api.deps import AUTH_ERRORS, DB, Caller
from tracemark.api.schemas.common import WireModel
from tracemark.services import accounts
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["projects"])


class Organization(WireModel):
    id: str
    name: str


class ProjectOut(WireModel):
    id: str
    name: str
    organization: Organization
    metadata: dict[str, Any]


class Projects(WireModel):
    data: list[ProjectOut]


# Tracemark has no organizations; every project reports this one (the SDK requires the field).
INSTANCE_ORGANIZATION = Organization(id="tracemark", name="Tracemark")


@router.get(
    "/projects", operation_id="projects_get", response_model=Projects, responses=AUTH_ERRORS
)
def get_projects(caller: Caller, db: DB) -> Projects:
    """The project of the API key or token used."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        project = accounts.get_project(session, caller.project_id)
        return Projects(
            data=[
                ProjectOut(
                    id=project.id,
                    name=project.name,
                    organization=INSTANCE_ORGANIZATION,
                    metadata={},
                )
            ]
        )
