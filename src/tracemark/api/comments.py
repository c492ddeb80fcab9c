"""Comments on traces, observations and sessions (Langfuse shapes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tracemark.api.deps import AUTH_ERRORS, DB, Caller
from tracemark.api.schemas.common import WireModel
from tracemark.api.schemas.scoring import CommentOut, comment_out
from tracemark.api.schemas.tracing import Meta, page_meta
from tracemark.services import comments
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["comments"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid comment"},
    404: {"description": "No such comment or commented object in this project"},
}


class NewComment(WireModel):
    project_id: str | None = None
    object_type: str
    object_id: str
    content: str
    author_user_id: str | None = None


class Created(WireModel):
    id: str


class Comments(WireModel):
    data: list[CommentOut]
    meta: Meta


@router.post("/comments", operation_id="comments_create", response_model=Created, responses=ERRORS)
def create_comment(caller: Caller, db: DB, body: NewComment) -> Created:
    """Comment on a trace, observation or session."""
    require(caller.role, Permission.ANNOTATE)
    if body.project_id and body.project_id != caller.project_id:
        raise Invalid("projectId: does not match the project of your credentials")
    author = caller.user_id
    if body.author_user_id and caller.user_id and body.author_user_id != caller.user_id:
        raise Invalid("authorUserId: a person can only comment as themselves")
    if caller.user_id is None:
        author = body.author_user_id
    with db.write() as session:
        comment = comments.create(
            session,
            caller.project_id,
            object_type=body.object_type,
            object_id=body.object_id,
            content=body.content,
            author_user_id=author,
        )
        return Created(id=comment.id)


@router.get("/comments", operation_id="comments_list", response_model=Comments, responses=ERRORS)
def list_comments(
    caller: Caller,
    db: DB,
    page: int = 1,
    limit: int = 50,
    object_type: Annotated[str | None, Query(alias="objectType")] = None,
    object_id: Annotated[str | None, Query(alias="objectId")] = None,
    author_user_id: Annotated[str | None, Query(alias="authorUserId")] = None,
) -> Comments:
    """List comments, newest first."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        rows, total = comments.list_comments(
            session,
            caller.project_id,
            object_type=object_type,
            object_id=object_id,
            author_user_id=author_user_id,
            page=page,
            limit=limit,
        )
        return Comments(data=[comment_out(c) for c in rows], meta=page_meta(page, limit, total))


@router.get(
    "/comments/{comment_id}",
    operation_id="comments_get",
    response_model=CommentOut,
    responses=ERRORS,
)
def get_comment(caller: Caller, db: DB, comment_id: str) -> CommentOut:
    """One comment."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        return comment_out(comments.get(session, caller.project_id, comment_id))
