"""The dashboard's filter: a time range, optional score and trace filters, and time buckets.

Everything here is plain Python; the SQL lives in analytics_dashboard. A filter is checked once
when it is made, so that the queries never see a bad range or an unknown source.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal_column

from tracemark.db.models import Score, ScoreSource
from tracemark.db.models.scoring import SQLITE_DAY
from tracemark.services.errors import Invalid

MAX_RANGE = timedelta(days=366)
DEFAULT_RANGE = timedelta(days=30)
MAX_VALUES = 20  # per filter (environments, trace names, tags, score names)
MAX_VALUE_LENGTH = 1000


class Bucket(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"

    @property
    def width(self) -> timedelta:
        return {
            Bucket.HOUR: timedelta(hours=1),
            Bucket.DAY: timedelta(days=1),
            Bucket.WEEK: timedelta(weeks=1),
        }[self]

    def floor(self, moment: datetime) -> datetime:
        """The start of the bucket holding `moment` (UTC; weeks start on Monday)."""
        moment = moment.astimezone(UTC)
        if self is Bucket.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Bucket.DAY:
            return day
        return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class DashboardFilter:
    start: datetime
    end: datetime  # exclusive
    environments: tuple[str, ...] = ()
    trace_names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    score_names: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def filters_traces(self) -> bool:
        return bool(self.trace_names or self.tags)

    @property
    def bucket(self) -> Bucket:
        """Trend buckets chosen from the range: hours up to 2 days, days up to 92, then weeks."""
        span = self.end - self.start
        if span <= timedelta(days=2):
            return Bucket.HOUR
        if span <= timedelta(days=92):
            return Bucket.DAY
        return Bucket.WEEK

    @property
    def day_bucket(self) -> Bucket:
        """Buckets for throughput per annotator: days, or weeks beyond 92 days."""
        return Bucket.WEEK if self.bucket is Bucket.WEEK else Bucket.DAY

    def bucket_starts(self, bucket: Bucket) -> list[datetime]:
        first = bucket.floor(self.start)
        out = []
        at = first
        while at < self.end:
            out.append(at)
            at += bucket.width
        return out


def _values(label: str, values: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(v for v in (values or []) if v != ""))
    if len(cleaned) > MAX_VALUES:
        raise Invalid(f"{label}: at most {MAX_VALUES} values (got {len(cleaned)})")
    for value in cleaned:
        if len(value) > MAX_VALUE_LENGTH:
            raise Invalid(f"{label}: values are at most {MAX_VALUE_LENGTH} characters")
    return cleaned


def _utc(moment: datetime) -> datetime:
    """Times without a zone are taken as UTC, as everywhere in the API."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def make_filter(
    start: datetime | None,
    end: datetime | None,
    *,
    environments: list[str] | tuple[str, ...] | None = None,
    trace_names: list[str] | tuple[str, ...] | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    score_names: list[str] | tuple[str, ...] | None = None,
    sources: list[str] | tuple[str, ...] | None = None,
    now: datetime | None = None,
) -> DashboardFilter:
    """A checked filter. Without an end the range ends now; without a start it spans 30 days.

    Times without a zone are taken as UTC.
    """
    end = _utc(end or now or datetime.now(UTC))
    start = _utc(start) if start is not None else end - DEFAULT_RANGE
    if start >= end:
        raise Invalid(
            f"time range: fromTimestamp ({start.isoformat()}) must be before "
            f"toTimestamp ({end.isoformat()})"
        )
    if end - start > MAX_RANGE:
        raise Invalid(f"time range: at most {MAX_RANGE.days} days (got {(end - start).days})")
    checked_sources = _values("source", sources)
    for source in checked_sources:
        if source not in ScoreSource.__members__:
            raise Invalid(f"source: {source!r} is not one of {', '.join(ScoreSource)}")
    return DashboardFilter(
        start=start,
        end=end,
        environments=_values("environment", environments),
        trace_names=_values("traceName", trace_names),
        tags=_values("tags", tags),
        score_names=_values("scoreName", score_names),
        sources=checked_sources,
    )


def group_sql(dialect: str, bucket: Bucket) -> Any:
    """SQL for the unit the database groups by: the hour for hourly buckets, else the UTC day.

    Weeks are summed from days in Python. On SQLite the day is spelled exactly as in the
    scores' dashboard indexes (stored UTC text: the day is its first 10 characters), so that
    SQLite reads those indexes in group order instead of sorting; PostgreSQL truncates the
    timestamp in UTC and aggregates with hashing (in parallel workers, given the statistics of
    migration 0017).
    """
    if dialect == "sqlite":
        if bucket is Bucket.HOUR:
            return func.substr(literal_column("timestamp"), 1, 13)
        return literal_column(SQLITE_DAY)
    unit = "hour" if bucket is Bucket.HOUR else "day"
    # Literals, not parameters: the day is then the very expression that migration 0017's
    # statistics describe, and the planner knows how few groups there are.
    utc = func.timezone(literal_column("'UTC'"), Score.timestamp)
    return func.date_trunc(literal_column(f"'{unit}'"), utc)


def parse_group(value: Any) -> datetime:
    """The start of a group returned by group_sql, as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    if len(value) == 10:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    return datetime.strptime(value[:13], "%Y-%m-%d %H").replace(tzinfo=UTC)
