"""A queue's items in the order they were added, from an index

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27

The queue page and GET /{queueId}/items list items oldest first (created_at, id). No index held
that order, so every request sorted all of the queue's items: 65 ms for 100,000 items on
SQLite, about a second for a million. (queue_id, created_at, id) gives them in order. Items
added together share created_at and get new ids, so a bulk add writes at the end of this index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_queue_items_queue_created",
        "annotation_queue_items",
        ["queue_id", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_queue_items_queue_created", table_name="annotation_queue_items")
