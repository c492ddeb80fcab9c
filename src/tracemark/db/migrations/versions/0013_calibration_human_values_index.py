"""Calibration: covering index of the humans' scores per config

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27

Judge calibration reads every ANNOTATION score (with an author) of one score config: target,
value and label. This partial index holds exactly those columns, so the read touches the index
only, not the scores table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HUMANS = "source = 'ANNOTATION' AND author_user_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scores_human_values",
            ["project_id", "config_id", "target_key", "value", "string_value"],
            unique=False,
            sqlite_where=sa.text(HUMANS),
            postgresql_where=sa.text(HUMANS),
        )


def downgrade() -> None:
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index("ix_scores_human_values")
