"""Comments on traces, observations and sessions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracemark.db.models import Comment, CommentObjectType, Observation, Trace, TraceSession
from tracemark.services.errors import Invalid, NotFound
from tracemark.services.paging import count_rows

MAX_LENGTH = 5000


def check_length(content: str | None, field: str = "comment") -> None:
    if content and len(content) > MAX_LENGTH:
        raise Invalid(f"{field}: at most {MAX_LENGTH} characters")


def _object_exists(session: Session, project_id: str, object_type: str, object_id: str) -> bool:
    model = {"TRACE": Trace, "OBSERVATION": Observation, "SESSION": TraceSession}[object_type]
    return session.get(model, (project_id, object_id)) is not None


def create(
    session: Session,
    project_id: str,
    *,
    object_type: str,
    object_id: str,
    content: str,
    author_user_id: str | None,
) -> Comment:
    if object_type not in CommentObjectType.__members__:
        raise Invalid(f"objectType: must be one of {', '.join(CommentObjectType)}")
    if not object_id:
        raise Invalid("objectId: required")
    if not isinstance(content, str) or not content.strip():
        raise Invalid("content: required, a non-empty string")
    check_length(content, "content")
    if not _object_exists(session, project_id, object_type, object_id):
        raise NotFound(f"objectId: no {object_type.lower()} {object_id} in this project")
    comment = Comment(
        project_id=project_id,
        object_type=object_type,
        object_id=object_id,
        content=content,
        author_user_id=author_user_id,
    )
    session.add(comment)
    session.flush()
    return comment


def get(session: Session, project_id: str, comment_id: str) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None or comment.project_id != project_id:
        raise NotFound(f"comment {comment_id} not found")
    return comment


def list_comments(
    session: Session,
    project_id: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    author_user_id: str | None = None,
    page: int = 1,
    limit: int = 50,
) -> tuple[list[Comment], int]:
    if page < 1 or not 1 <= limit <= 100:
        raise Invalid("page must be >= 1 and limit between 1 and 100")
    if object_id is not None and object_type is None:
        raise Invalid("objectType: required when filtering by objectId")
    base = select(Comment).where(Comment.project_id == project_id)
    if object_type is not None:
        base = base.where(Comment.object_type == object_type)
    if object_id is not None:
        base = base.where(Comment.object_id == object_id)
    if author_user_id is not None:
        base = base.where(Comment.author_user_id == author_user_id)
    rows = list(
        session.scalars(
            base.order_by(Comment.created_at.desc()).limit(limit).offset((page - 1) * limit)
        )
    )
    total = count_rows(session, base)
    return rows, total
