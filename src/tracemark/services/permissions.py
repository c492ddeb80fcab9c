"""Who may do what: the one permission table (docs/permissions.md mirrors it).

Every API endpoint and web page asks `require(role, Permission.X)`; nothing else decides.
"""

from __future__ import annotations

import enum

from tracemark.db.models import Role
from tracemark.services.errors import Forbidden


class Permission(enum.StrEnum):
    READ = "read traces, observations, sessions, scores, configs, queues"
    ANNOTATE = "create and edit own ANNOTATION scores and comments"
    PROCESS_QUEUES = "process annotation queues (next, complete, skip)"
    INGEST = "send traces and API/EVAL scores"
    MANAGE_SCORE_CONFIGS = "create, edit and archive score configs"
    MANAGE_QUEUES = "create, edit and archive annotation queues and their items"
    MANAGE_API_SCORES = "create and delete API- and EVAL-sourced scores"
    DELETE_TRACES = "delete traces"
    MANAGE_MEMBERS = "add and remove members, change roles"
    MANAGE_API_KEYS = "create and revoke project API keys"
    DELETE_PROJECT = "delete the project"


MINIMUM_ROLE: dict[Permission, Role] = {
    Permission.READ: Role.VIEWER,
    Permission.ANNOTATE: Role.ANNOTATOR,
    Permission.PROCESS_QUEUES: Role.ANNOTATOR,
    Permission.INGEST: Role.MEMBER,
    Permission.MANAGE_SCORE_CONFIGS: Role.MEMBER,
    Permission.MANAGE_QUEUES: Role.MEMBER,
    Permission.MANAGE_API_SCORES: Role.MEMBER,
    Permission.DELETE_TRACES: Role.MEMBER,
    Permission.MANAGE_MEMBERS: Role.ADMIN,
    Permission.MANAGE_API_KEYS: Role.ADMIN,
    Permission.DELETE_PROJECT: Role.OWNER,
}

# A project API key acts with these rights (it has no person behind it).
API_KEY_ROLE = Role.MEMBER


def allows(role: Role | str, permission: Permission) -> bool:
    return Role(role).rank >= MINIMUM_ROLE[permission].rank


def require(role: Role | str, permission: Permission) -> None:
    """Raise Forbidden unless `role` may do `permission`."""
    if not allows(role, permission):
        needed = MINIMUM_ROLE[permission]
        raise Forbidden(
            f"your role {Role(role).value} may not {permission.value}; "
            f"it needs {needed.value} or higher"
        )


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().upper())
    except ValueError:
        from tracemark.services.errors import Invalid

        raise Invalid(
            f"unknown role {value!r}; roles are {', '.join(r.value for r in Role)}"
        ) from None


def markdown_table() -> str:
    """The permission table as Markdown, for docs/permissions.md (a test keeps them equal)."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission, minimum in MINIMUM_ROLE.items():
        marks = ["yes" if r.rank >= minimum.rank else "-" for r in roles]
        lines.append(f"| {permission.value} | " + " | ".join(marks) + " |")
    return "\n".join(lines)
