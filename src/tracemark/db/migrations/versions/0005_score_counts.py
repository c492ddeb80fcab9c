"""Score counts (the v2 list's totals), kept by services.scores in each write.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEYS = "project_id, name, source, data_type, config_key, environment"


def _keys(alias: str) -> str:
    return (
        f"{alias}.project_id, {alias}.name, {alias}.source, {alias}.data_type, "
        f"coalesce({alias}.config_id, ''), {alias}.environment"
    )


def upgrade() -> None:
    op.create_table(
        "score_counts",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("data_type", sa.String(length=16), nullable=False),
        sa.Column("config_key", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_score_counts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id",
            "name",
            "source",
            "data_type",
            "config_key",
            "environment",
            name=op.f("pk_score_counts"),
        ),
    )
    # Existing scores are counted once; from here on every write of scores keeps the counts.
    op.execute(
        f"INSERT INTO score_counts ({KEYS}, n) "
        f"SELECT {_keys('s')}, count(*) FROM scores s GROUP BY 1, 2, 3, 4, 5, 6"
    )


def downgrade() -> None:
    op.drop_table("score_counts")
