"""Dashboard indexes on scores (SQLite only)

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-27

SQLite has no hash aggregation: a GROUP BY sorts every row unless an index delivers them in
the group order. These covering indexes hold the dashboard's group keys with the UTC day as an
indexed expression. PostgreSQL aggregates with hashing and needs neither.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = "substr(timestamp, 1, 10)"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(
        "ix_scores_dashboard",
        "scores",
        [
            "project_id",
            "name",
            "source",
            "data_type",
            sa.text(DAY),
            "string_value",
            "timestamp",
            "value",
            "environment",
            "trace_id",
        ],
    )
    op.create_index(
        "ix_scores_annotation_days",
        "scores",
        [
            "project_id",
            "source",
            "author_user_id",
            sa.text(DAY),
            "timestamp",
            "target_key",
            "name",
            "environment",
            "trace_id",
        ],
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_scores_annotation_days", table_name="scores")
    op.drop_index("ix_scores_dashboard", table_name="scores")
