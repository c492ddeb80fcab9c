"""Drop the unused index ix_queue_items_project_object (it slowed bulk adds to queues).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("annotation_queue_items", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_items_project_object")


def downgrade() -> None:
    with op.batch_alter_table("annotation_queue_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_items_project_object",
            ["project_id", "object_type", "object_id"],
            unique=False,
        )
