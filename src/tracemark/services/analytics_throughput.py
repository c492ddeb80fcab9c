"""Annotation throughput for the dashboard: ANNOTATION scores per annotator per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracemark.db.models import Score, ScoreSource, User
from tracemark.services.analytics_dashboard import score_conditions, without_jit
from tracemark.services.analytics_filter import Bucket, DashboardFilter, group_sql, parse_group


@dataclass
class AnnotatorThroughput:
    user_id: str
    name: str
    email: str | None
    scores: int
    # Targets (traces, observations, sessions) scored, counted once per day they were scored.
    targets: int
    per_bucket: list[int]  # scores per bucket, aligned with Throughput.buckets


@dataclass
class Throughput:
    bucket: Bucket
    buckets: list[datetime]
    annotators: list[AnnotatorThroughput]

    @property
    def total(self) -> int:
        return sum(a.scores for a in self.annotators)


def throughput(session: Session, project_id: str, flt: DashboardFilter) -> Throughput:
    """ANNOTATION scores per annotator per day (per week beyond 92 days), in one GROUP BY."""
    dialect = session.get_bind().dialect.name
    without_jit(session)
    bucket = flt.day_bucket
    starts = flt.bucket_starts(bucket)
    day = group_sql(dialect, Bucket.DAY).label("day")
    per: dict[str, dict[datetime, int]] = {}
    targets: dict[str, int] = {}
    for user_id, at, count, distinct in session.execute(
        select(Score.author_user_id, day, func.count(), func.count(func.distinct(Score.target_key)))
        .where(
            *score_conditions(project_id, flt),
            Score.source == ScoreSource.ANNOTATION.value,
            Score.author_user_id.is_not(None),
        )
        .group_by(Score.author_user_id, day)
    ):
        counts = per.setdefault(str(user_id), {})
        start = bucket.floor(parse_group(at))
        counts[start] = counts.get(start, 0) + int(count)
        targets[str(user_id)] = targets.get(str(user_id), 0) + int(distinct)
    if not per:
        return Throughput(bucket, starts, [])
    people = {
        user_id: (name, email)
        for user_id, name, email in session.execute(
            select(User.id, User.name, User.email).where(User.id.in_(per))
        )
    }
    annotators = [
        AnnotatorThroughput(
            user_id=user_id,
            name=people.get(user_id, ("(deleted user)", None))[0],
            email=people.get(user_id, ("(deleted user)", None))[1],
            scores=sum(counts.values()),
            targets=targets[user_id],
            per_bucket=[counts.get(start, 0) for start in starts],
        )
        for user_id, counts in per.items()
    ]
    annotators.sort(key=lambda a: (-a.scores, a.name))
    return Throughput(bucket, starts, annotators)
