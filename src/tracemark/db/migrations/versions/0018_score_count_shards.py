"""Score counts in shards, so that concurrent writers do not queue on one row

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27

Every score write adds to its (project, name, source, data type, config, environment) count in
the same transaction. On PostgreSQL that row stayed locked until the commit, so every
annotator completing an item with the same score configs waited for the others: the p99 of
complete went from 43 to 84 ms with 8 annotators on two server processes. A count is now the
sum of a few rows (`shard`); each database connection adds to its own. SQLite serializes its
writers anyway and keeps shard 0. Existing counts become shard 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ["project_id", "name", "source", "data_type", "config_key", "environment"]


def upgrade() -> None:
    with op.batch_alter_table("score_counts", recreate="auto") as batch_op:
        batch_op.add_column(
            sa.Column("shard", sa.SmallInteger(), nullable=False, server_default="0")
        )
        batch_op.drop_constraint("pk_score_counts", type_="primary")
        batch_op.create_primary_key("pk_score_counts", [*KEY, "shard"])


SAME_KEY = " AND ".join(f"{{alias}}.{column} = score_counts.{column}" for column in KEY)


def downgrade() -> None:
    # One row per key again: the lowest shard takes the sum, the others go.
    lowest = f"(SELECT min(m.shard) FROM score_counts m WHERE {SAME_KEY.format(alias='m')})"
    op.execute(
        f"UPDATE score_counts SET n = (SELECT sum(s.n) FROM score_counts s WHERE "
        f"{SAME_KEY.format(alias='s')}) WHERE shard = {lowest}"
    )
    op.execute(f"DELETE FROM score_counts WHERE shard > {lowest}")
    with op.batch_alter_table("score_counts", recreate="auto") as batch_op:
        batch_op.drop_constraint("pk_score_counts", type_="primary")
        batch_op.create_primary_key("pk_score_counts", KEY)
        batch_op.drop_column("shard")
