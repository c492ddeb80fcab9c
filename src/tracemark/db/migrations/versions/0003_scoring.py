"""Scoring: score configs, scores, score history, comments.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=1000), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "object_type IN ('TRACE', 'OBSERVATION', 'SESSION')",
            name=op.f("ck_comments_object_type"),
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_comments_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_comments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comments_project_object",
            ["project_id", "object_type", "object_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "score_configs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=35), nullable=False),
        sa.Column("name_key", sa.String(length=35), nullable=False),
        sa.Column("data_type", sa.String(length=16), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column(
            "categories", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "data_type IN ('NUMERIC', 'CATEGORICAL', 'BOOLEAN', 'TEXT')",
            name=op.f("ck_score_configs_data_type"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_score_configs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_configs")),
    )
    with op.batch_alter_table("score_configs", schema=None) as batch_op:
        batch_op.create_index(
            "uq_score_configs_project_name", ["project_id", "name_key"], unique=True
        )

    op.create_table(
        "score_history",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("score_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_user_id", sa.String(length=64), nullable=True),
        sa.Column("changed_by_key_id", sa.String(length=64), nullable=True),
        sa.Column("old_value", sa.Float(), nullable=True),
        sa.Column("old_string_value", sa.Text(), nullable=True),
        sa.Column("old_comment", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Float(), nullable=True),
        sa.Column("new_string_value", sa.Text(), nullable=True),
        sa.Column("new_comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('CREATE', 'UPDATE', 'DELETE')", name=op.f("ck_score_history_action")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_score_history_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_history")),
    )
    with op.batch_alter_table("score_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_score_history_project_score", ["project_id", "score_id", "changed_at"], unique=False
        )

    op.create_table(
        "scores",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("string_value", sa.Text(), nullable=True),
        sa.Column("data_type", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "metadata", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("author_user_id", sa.String(length=64), nullable=True),
        sa.Column("config_id", sa.String(length=64), nullable=True),
        sa.Column("queue_id", sa.String(length=64), nullable=True),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("trace_id", sa.String(length=128), nullable=True),
        sa.Column("observation_id", sa.String(length=128), nullable=True),
        sa.Column("session_id", sa.String(length=1000), nullable=True),
        sa.Column("target_key", sa.String(length=1200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "data_type IN ('NUMERIC', 'CATEGORICAL', 'BOOLEAN', 'TEXT', 'CORRECTION')",
            name=op.f("ck_scores_data_type"),
        ),
        sa.CheckConstraint(
            "source IN ('ANNOTATION', 'API', 'EVAL')", name=op.f("ck_scores_source")
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_scores_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_scores_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_scores")),
    )
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scores_project_author", ["project_id", "author_user_id"], unique=False
        )
        batch_op.create_index("ix_scores_project_config", ["project_id", "config_id"], unique=False)
        batch_op.create_index(
            "ix_scores_project_name_source_timestamp",
            ["project_id", "name", "source", "timestamp"],
            unique=False,
        )
        batch_op.create_index("ix_scores_project_queue", ["project_id", "queue_id"], unique=False)
        batch_op.create_index(
            "ix_scores_project_session", ["project_id", "session_id"], unique=False
        )
        batch_op.create_index(
            "ix_scores_project_timestamp", ["project_id", "timestamp"], unique=False
        )
        batch_op.create_index("ix_scores_project_trace", ["project_id", "trace_id"], unique=False)
        batch_op.create_index(
            "uq_scores_one_annotation_per_author",
            ["project_id", "target_key", "config_id", "author_user_id"],
            unique=True,
            sqlite_where=sa.text("source = 'ANNOTATION' AND author_user_id IS NOT NULL"),
            postgresql_where=sa.text("source = 'ANNOTATION' AND author_user_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_scores_one_annotation_per_author",
            sqlite_where=sa.text("source = 'ANNOTATION' AND author_user_id IS NOT NULL"),
            postgresql_where=sa.text("source = 'ANNOTATION' AND author_user_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_scores_project_trace")
        batch_op.drop_index("ix_scores_project_timestamp")
        batch_op.drop_index("ix_scores_project_session")
        batch_op.drop_index("ix_scores_project_queue")
        batch_op.drop_index("ix_scores_project_name_source_timestamp")
        batch_op.drop_index("ix_scores_project_config")
        batch_op.drop_index("ix_scores_project_author")

    op.drop_table("scores")
    with op.batch_alter_table("score_history", schema=None) as batch_op:
        batch_op.drop_index("ix_score_history_project_score")

    op.drop_table("score_history")
    with op.batch_alter_table("score_configs", schema=None) as batch_op:
        batch_op.drop_index("uq_score_configs_project_name")

    op.drop_table("score_configs")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_project_object")

    op.drop_table("comments")
