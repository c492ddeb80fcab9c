"""Score, score config, history and comment shapes (Langfuse's, camelCase)."""

from __future__ import annotations

from typing import Any

from tracemark.api.schemas.common import WireModel
from tracemark.api.schemas.tracing import iso
from tracemark.db.models import Comment, Score, ScoreChange, ScoreConfig, ScoreDataType


class Category(WireModel):
    value: float
    label: str


class ScoreConfigOut(WireModel):
    id: str
    name: str
    created_at: str
    updated_at: str
    project_id: str
    data_type: str
    is_archived: bool
    min_value: float | None = None
    max_value: float | None = None
    categories: list[Category] | None = None
    description: str | None = None


def config_out(config: ScoreConfig) -> ScoreConfigOut:
    return ScoreConfigOut(
        id=config.id,
        name=config.name,
        created_at=iso(config.created_at) or "",
        updated_at=iso(config.updated_at) or "",
        project_id=config.project_id,
        data_type=config.data_type,
        is_archived=config.is_archived,
        min_value=config.min_value,
        max_value=config.max_value,
        categories=[Category(**c) for c in config.categories] if config.categories else None,
        description=config.description,
    )


class ScoreOut(WireModel):
    id: str
    project_id: str
    name: str
    value: float | None
    string_value: str | None
    data_type: str
    source: str
    comment: str | None
    metadata: dict[str, Any]
    author_user_id: str | None
    config_id: str | None
    queue_id: str | None
    environment: str
    trace_id: str | None
    observation_id: str | None
    session_id: str | None
    dataset_run_id: str | None = None
    timestamp: str
    created_at: str
    updated_at: str


def score_out(score: Score) -> ScoreOut:
    value = score.value
    if value is None and score.data_type == ScoreDataType.CATEGORICAL.value:
        # A label without a config maps to no number. Langfuse answers 0 ("if no config is
        # linked, defaults to 0"), and the SDKs' models require a number (3.x/4.x raise on null).
        value = 0.0
    return ScoreOut(
        id=score.id,
        project_id=score.project_id,
        name=score.name,
        value=value,
        string_value=score.string_value,
        data_type=score.data_type,
        source=score.source,
        comment=score.comment,
        metadata=score.metadata_ or {},
        author_user_id=score.author_user_id,
        config_id=score.config_id,
        queue_id=score.queue_id,
        environment=score.environment,
        trace_id=score.trace_id,
        observation_id=score.observation_id,
        session_id=score.session_id,
        timestamp=iso(score.timestamp) or "",
        created_at=iso(score.created_at) or "",
        updated_at=iso(score.updated_at) or "",
    )


class ScoreChangeOut(WireModel):
    id: str
    score_id: str
    action: str
    changed_at: str
    changed_by_user_id: str | None
    changed_by_key_id: str | None
    old_value: float | None
    old_string_value: str | None
    old_comment: str | None
    new_value: float | None
    new_string_value: str | None
    new_comment: str | None


def change_out(change: ScoreChange) -> ScoreChangeOut:
    return ScoreChangeOut(
        id=change.id,
        score_id=change.score_id,
        action=change.action,
        changed_at=iso(change.changed_at) or "",
        changed_by_user_id=change.changed_by_user_id,
        changed_by_key_id=change.changed_by_key_id,
        old_value=change.old_value,
        old_string_value=change.old_string_value,
        old_comment=change.old_comment,
        new_value=change.new_value,
        new_string_value=change.new_string_value,
        new_comment=change.new_comment,
    )


class CommentOut(WireModel):
    id: str
    project_id: str
    object_type: str
    object_id: str
    content: str
    author_user_id: str | None
    created_at: str
    updated_at: str


def comment_out(comment: Comment) -> CommentOut:
    return CommentOut(
        id=comment.id,
        project_id=comment.project_id,
        object_type=comment.object_type,
        object_id=comment.object_id,
        content=comment.content,
        author_user_id=comment.author_user_id,
        created_at=iso(comment.created_at) or "",
        updated_at=iso(comment.updated_at) or "",
    )
