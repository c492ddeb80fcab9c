"""Dashboard: PostgreSQL statistics on the dashboard's group keys and score series

Revision ID: 0017
Revises: 0015
Create Date: 2026-11-27

PostgreSQL estimated the dashboard's GROUP BY (name, source, data type, UTC day, label) at one
group per score (a million groups for a million scores, against about a thousand), so it
planned a serial hash aggregate sized to spill. Extended ndistinct statistics on those keys
(the day spelled exactly as services.analytics_filter.group_sql writes it) give the planner the
real number, and it then aggregates in parallel workers. Likewise it took project, name, source
and data type for independent and expected a histogram query over three numeric series to
read 54,000 of 420,000 rows, so it chose bitmap index scans over the whole heap (1.1 s) where a
parallel sequential scan takes 0.3 s: a most-common-values list on those columns gives their
real combinations. ANALYZE fills the statistics now rather than at autovacuum's next analyze
of the table (it reads a fixed sample, not the whole table). SQLite has no such statistics and
needs nothing here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUPS = "st_scores_dashboard_groups"
SERIES = "st_scores_series"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Statistics on an expression need PostgreSQL 14; older servers keep the default estimate.
    if (bind.dialect.server_version_info or (0,)) >= (14,):
        op.execute(
            f"CREATE STATISTICS IF NOT EXISTS {GROUPS} (ndistinct) ON name, source, data_type, "
            "string_value, (date_trunc('day', timezone('UTC', \"timestamp\"))) FROM scores"
        )
    op.execute(
        f"CREATE STATISTICS IF NOT EXISTS {SERIES} (mcv) ON project_id, name, source, data_type "
        "FROM scores"
    )
    op.execute("ANALYZE scores")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP STATISTICS IF EXISTS {SERIES}")
    op.execute(f"DROP STATISTICS IF EXISTS {GROUPS}")
