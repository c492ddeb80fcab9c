"""Saving an Annotate form (trace, observation or session pages): one path for all three."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from tracemark.services import annotation, comments
from tracemark.services.annotation import Target
from tracemark.services.permissions import Permission, require
from tracemark.web.common import ProjectAccess, db_of
from tracemark.web.score_fields import fields_for, values_from_form

CLEAR_PREFIX = "clear."  # a checked "Remove my score" box: clear.<config id> = 1


@dataclass
class Saved:
    scores: int
    commented: bool
    removed: int = 0

    @property
    def message(self) -> str:
        if not self.scores and not self.commented and not self.removed:
            return "Nothing changed."
        parts = []
        if self.scores:
            parts.append(f"{self.scores} {'score' if self.scores == 1 else 'scores'} saved")
        if self.removed:
            parts.append(f"{self.removed} {'score' if self.removed == 1 else 'scores'} removed")
        if self.commented:
            parts.append("comment added")
        return (", ".join(parts) + ".").capitalize()

    @property
    def query(self) -> str:
        query = f"saved={self.scores}&commented={int(self.commented)}"
        return query + (f"&removed={self.removed}" if self.removed else "")


async def form_of(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def save(
    request: Request,
    access: ProjectAccess,
    form: Mapping[str, Any],
    load_target: Callable[[Session], Target],
) -> Saved:
    """Store the form's changed scores and its comment as the person's ANNOTATION work."""
    require(access.role, Permission.ANNOTATE)
    comment = str(form.get("comment") or "").strip() or None
    comments.check_length(comment)
    with db_of(request).write() as session:
        target = load_target(session)
        fields = fields_for(annotation.active_configs(session, access.project_id))
        mine = annotation.my_scores(session, access.project_id, target, access.user.id)
        cleared = [f.config.id for f in fields if form.get(CLEAR_PREFIX + f.config.id)]
        values = [v for v in values_from_form(fields, form, mine) if v.config_id not in cleared]
        removed = annotation.clear(session, access.project_id, mine, cleared, access.user.id)
        if values or comment:
            annotation.annotate(session, access.project_id, target, values, comment, access.user.id)
    return Saved(len(values), bool(comment), removed)


def saved_from_query(saved: int | None, commented: bool, removed: int = 0) -> Saved | None:
    """After the redirect: what was saved, from the ?saved=N&commented=1&removed=N it set."""
    return None if saved is None or saved < 0 else Saved(saved, commented, max(0, removed))
