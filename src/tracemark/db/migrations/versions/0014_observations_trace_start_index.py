"""Observations of one trace, in time order, from one index

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27

The trace page (and the process page's detailed view) reads a trace's observations ordered by
start time. With only (project_id, trace_id) and (project_id, start_time) to choose from,
SQLite without table statistics (a user's database never runs ANALYZE) picked the second one,
for its order, and walked every observation of the project: 0.8 s per trace page with
5,000,000 observations. (project_id, trace_id, start_time) serves both the filter and the
order, so every planner takes it; it replaces (project_id, trace_id), of which it is an
extension.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_observations_trace_start",
        "observations",
        ["project_id", "trace_id", "start_time"],
        unique=False,
    )
    op.drop_index("ix_observations_project_trace", table_name="observations")


def downgrade() -> None:
    op.create_index(
        "ix_observations_project_trace", "observations", ["project_id", "trace_id"], unique=False
    )
    op.drop_index("ix_observations_trace_start", table_name="observations")
