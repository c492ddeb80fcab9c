"""Annotating one trace, observation or session outside a queue, and reading its scores.

Writes go through `scores.write_scores` (per-annotator ownership, history) and
`comments.create`; reads gather a target's scores with their authors and full history in a
fixed number of queries, whatever the number of scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from tracemark.db.models import (
    Comment,
    Observation,
    Score,
    ScoreChange,
    ScoreConfig,
    ScoreSource,
    Trace,
    TraceSession,
    User,
)
from tracemark.services import comments, score_configs, scores
from tracemark.services.blind import Blind
from tracemark.services.errors import Invalid, NotFound
from tracemark.services.queue_work import ScoreValue

CONFIGS_SHOWN = 200
COMMENTS_SHOWN = 100


@dataclass(frozen=True)
class Target:
    """What is annotated: a trace, one of its observations, or a session."""

    object_type: str  # TRACE, OBSERVATION or SESSION
    object_id: str
    trace_id: str | None = None

    @property
    def score_body(self) -> dict[str, Any]:
        if self.object_type == "TRACE":
            return {"traceId": self.object_id}
        if self.object_type == "OBSERVATION":
            return {"traceId": self.trace_id, "observationId": self.object_id}
        return {"sessionId": self.object_id}

    @property
    def key(self) -> str:
        body = self.score_body
        return scores.target_key(
            body.get("traceId"), body.get("observationId"), body.get("sessionId")
        )


def trace_target(
    session: Session, project_id: str, trace_id: str, observation_id: str | None = None
) -> Target:
    """The trace, or one of its observations; NotFound when it is not in the project."""
    if session.get(Trace, (project_id, trace_id)) is None:
        raise NotFound(f"trace {trace_id} not found")
    if not observation_id:
        return Target("TRACE", trace_id, trace_id)
    obs = session.get(Observation, (project_id, observation_id))
    if obs is None or obs.trace_id != trace_id:
        raise NotFound(f"observation {observation_id} not found in trace {trace_id}")
    return Target("OBSERVATION", observation_id, trace_id)


def session_target(session: Session, project_id: str, session_id: str) -> Target:
    if session.get(TraceSession, (project_id, session_id)) is None:
        raise NotFound(f"session {session_id} not found")
    return Target("SESSION", session_id)


def active_configs(session: Session, project_id: str) -> list[ScoreConfig]:
    """The configs a person may annotate with (archived ones take no new scores)."""
    rows, _ = score_configs.list_configs(session, project_id, limit=CONFIGS_SHOWN, archived=False)
    return rows


def my_scores(session: Session, project_id: str, target: Target, user_id: str) -> dict[str, Score]:
    """This person's ANNOTATION scores on the target, by config id."""
    rows = session.scalars(
        select(Score).where(
            Score.project_id == project_id,
            Score.target_key == target.key,
            Score.author_user_id == user_id,
            Score.source == ScoreSource.ANNOTATION.value,
        )
    )
    return {row.config_id: row for row in rows if row.config_id}


def annotate(
    session: Session,
    project_id: str,
    target: Target,
    values: Sequence[ScoreValue],
    comment: str | None,
    user_id: str,
) -> list[str]:
    """Save this person's ANNOTATION scores (their own only, history kept) and a comment."""
    if not values and not comment:
        raise Invalid("give at least one score or a comment")
    inputs = [
        scores.ScoreInput(
            {
                **target.score_body,
                "configId": v.config_id,
                "value": v.value,
                "comment": v.comment,
                "source": ScoreSource.ANNOTATION.value,
            },
            index=i,
        )
        for i, v in enumerate(values)
    ]
    written = scores.write_scores(session, project_id, inputs, scores.Actor(user_id=user_id))
    if written.errors:
        # All or nothing: the caller's transaction is rolled back with this error.
        _, message = next(iter(sorted(written.errors.items())))
        raise Invalid(message)
    if comment:
        comments.create(
            session,
            project_id,
            object_type=target.object_type,
            object_id=target.object_id,
            content=comment,
            author_user_id=user_id,
        )
    return [i for i in written.ids if i]


def clear(
    session: Session,
    project_id: str,
    mine: Mapping[str, Score],
    config_ids: Sequence[str],
    user_id: str,
) -> int:
    """Remove this person's own scores (`mine`, from my_scores) for these configs; the history
    keeps each deletion. Returns how many were removed."""
    removed = [mine[c] for c in config_ids if c in mine]
    for score in removed:
        scores.delete_score(session, project_id, score.id, scores.Actor(user_id=user_id))
    return len(removed)


# --- reading ---------------------------------------------------------------------------


@dataclass
class Change:
    entry: ScoreChange
    by: str  # who: a person's name, or "API key"


@dataclass
class ScoreDetail:
    score: Score
    author: str | None  # the annotator's name (ANNOTATION scores)
    history: list[Change] = field(default_factory=list)


@dataclass
class CommentDetail:
    comment: Comment
    author: str | None


def _names(session: Session, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


def score_details(
    session: Session,
    project_id: str,
    *,
    trace_id: str | None = None,
    session_id: str | None = None,
) -> list[ScoreDetail]:
    """Every score on a trace (and its observations) or on a session, oldest first, with
    author and history."""
    stmt = select(Score).where(Score.project_id == project_id)
    if trace_id is not None:
        stmt = stmt.where(Score.trace_id == trace_id)
    elif session_id is not None:
        stmt = stmt.where(Score.session_id == session_id)
    else:
        raise Invalid("give a trace or a session")
    # Sorted here: an ORDER BY timestamp would lead SQLite (no statistics) to walk the
    # project's timestamp index instead of looking up the trace's scores.
    rows = sorted(session.scalars(stmt), key=lambda r: (r.timestamp, r.id))
    history: dict[str, list[ScoreChange]] = {}
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 500):
        for change in session.scalars(
            select(ScoreChange)
            .where(
                ScoreChange.project_id == project_id,
                ScoreChange.score_id.in_(ids[start : start + 500]),
            )
            .order_by(ScoreChange.changed_at, ScoreChange.id)
        ):
            history.setdefault(change.score_id, []).append(change)
    people = {r.author_user_id for r in rows if r.author_user_id}
    people |= {c.changed_by_user_id for cs in history.values() for c in cs if c.changed_by_user_id}
    names = _names(session, people)

    def who(change: ScoreChange) -> str:
        if change.changed_by_user_id:
            return names.get(change.changed_by_user_id, "(deleted user)")
        return "API key" if change.changed_by_key_id else "unknown"

    return [
        ScoreDetail(
            r,
            names.get(r.author_user_id, "(deleted user)") if r.author_user_id else None,
            [Change(c, who(c)) for c in history.get(r.id, [])],
        )
        for r in rows
    ]


def score_counts_by_trace(
    session: Session, project_id: str, trace_ids: Sequence[str]
) -> dict[str, int]:
    """How many scores each trace has (on itself or its observations)."""
    if not trace_ids:
        return {}
    rows = session.execute(
        select(Score.trace_id, func.count())
        .where(Score.project_id == project_id, Score.trace_id.in_(list(trace_ids)))
        .group_by(Score.trace_id)
    )
    return {trace_id: int(count) for trace_id, count in rows if trace_id}


def visible_scores(
    details: Sequence[ScoreDetail], user_id: str, *, blind: bool, hidden: Blind | None = None
) -> list[ScoreDetail]:
    """Blind review: a person sees only their own scores (no one else's, no evaluator's);
    with `hidden`, only on the objects it names (items of blind queues they work)."""
    if blind:
        return [d for d in details if d.score.author_user_id == user_id]
    if hidden:
        return [d for d in details if not hidden.hides(d.score)]
    return list(details)


def comment_details(
    session: Session, project_id: str, objects: dict[str, Sequence[str]]
) -> list[CommentDetail]:
    """Comments on the given objects ({"TRACE": [ids], "OBSERVATION": [ids], ...}), newest
    first, at most COMMENTS_SHOWN."""
    wanted = [
        and_(Comment.object_type == kind, Comment.object_id.in_(list(ids)))
        for kind, ids in objects.items()
        if ids
    ]
    if not wanted:
        return []
    found = list(
        session.scalars(
            select(Comment)
            .where(Comment.project_id == project_id, or_(*wanted))
            .order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(COMMENTS_SHOWN)
        )
    )
    names = _names(session, {c.author_user_id for c in found if c.author_user_id})
    return [
        CommentDetail(
            c, names.get(c.author_user_id, "(deleted user)") if c.author_user_id else None
        )
        for c in found
    ]
