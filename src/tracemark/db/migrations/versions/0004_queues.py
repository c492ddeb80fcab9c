"""Annotation queues: queues, members, items, per-annotator work.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotation_queues",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "score_config_ids",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("annotators_per_item", sa.Integer(), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "annotators_per_item BETWEEN 1 AND 20",
            name=op.f("ck_annotation_queues_annotators_per_item"),
        ),
        sa.CheckConstraint("lease_seconds > 0", name=op.f("ck_annotation_queues_lease_seconds")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_annotation_queues_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_queues")),
    )
    with op.batch_alter_table("annotation_queues", schema=None) as batch_op:
        batch_op.create_index(
            "uq_annotation_queues_project_name", ["project_id", "name_key"], unique=True
        )

    op.create_table(
        "annotation_queue_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=1000), nullable=False),
        sa.Column("trace_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_user_id", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("completion_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "object_type IN ('TRACE', 'OBSERVATION', 'SESSION')",
            name=op.f("ck_annotation_queue_items_object_type"),
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'COMPLETED')", name=op.f("ck_annotation_queue_items_status")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"],
            ["users.id"],
            name=op.f("fk_annotation_queue_items_assignee_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["annotation_queues.id"],
            name=op.f("fk_annotation_queue_items_queue_id_annotation_queues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_queue_items")),
        sa.UniqueConstraint("queue_id", "object_type", "object_id", name="uq_queue_items_object"),
    )
    with op.batch_alter_table("annotation_queue_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_items_next",
            ["queue_id", "status", "assignee_user_id", "priority", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_queue_items_project_object",
            ["project_id", "object_type", "object_id"],
            unique=False,
        )

    op.create_table(
        "annotation_queue_members",
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["annotation_queues.id"],
            name=op.f("fk_annotation_queue_members_queue_id_annotation_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_annotation_queue_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("queue_id", "user_id", name=op.f("pk_annotation_queue_members")),
    )
    with op.batch_alter_table("annotation_queue_members", schema=None) as batch_op:
        batch_op.create_index("ix_annotation_queue_members_user", ["user_id"], unique=False)

    op.create_table(
        "annotation_queue_work",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seconds_spent", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('IN_PROGRESS', 'COMPLETED', 'SKIPPED')",
            name=op.f("ck_annotation_queue_work_state"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["annotation_queue_items.id"],
            name=op.f("fk_annotation_queue_work_item_id_annotation_queue_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_annotation_queue_work_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_queue_work")),
        sa.UniqueConstraint("item_id", "user_id", name="uq_queue_work_item_user"),
    )
    with op.batch_alter_table("annotation_queue_work", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_work_item_state", ["item_id", "state", "lease_expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_queue_work_queue_user_state", ["queue_id", "user_id", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("annotation_queue_work", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_work_queue_user_state")
        batch_op.drop_index("ix_queue_work_item_state")

    op.drop_table("annotation_queue_work")
    with op.batch_alter_table("annotation_queue_members", schema=None) as batch_op:
        batch_op.drop_index("ix_annotation_queue_members_user")

    op.drop_table("annotation_queue_members")
    with op.batch_alter_table("annotation_queue_items", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_items_project_object")
        batch_op.drop_index("ix_queue_items_next")

    op.drop_table("annotation_queue_items")
    with op.batch_alter_table("annotation_queues", schema=None) as batch_op:
        batch_op.drop_index("uq_annotation_queues_project_name")

    op.drop_table("annotation_queues")
