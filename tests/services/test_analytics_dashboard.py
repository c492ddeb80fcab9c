"""The dashboard's aggregates on both engines: counts, means, bins, bars, buckets, throughput."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.analytics_world import END, EVIL, START, AnalyticsWorld, make_analytics_world
from tests.conftest import ProjectFixture, make_project
from tracemark.db.engine import Database
from tracemark.services import analytics_dashboard, analytics_queues, analytics_throughput
from tracemark.services.analytics_dashboard import ScoreDashboard, ScoreSeries
from tracemark.services.analytics_filter import Bucket, DashboardFilter, make_filter
from tracemark.services.errors import Invalid


@pytest.fixture
def world(db: Database, project: ProjectFixture) -> AnalyticsWorld:
    return make_analytics_world(db, project)


def board(db: Database, world: AnalyticsWorld, flt: DashboardFilter) -> ScoreDashboard:
    with db.read() as session:
        return analytics_dashboard.score_dashboard(session, world.project_id, flt)


def series(result: ScoreDashboard, name: str) -> ScoreSeries:
    (found,) = [s for s in result.series if s.name == name]
    return found


def test_counts_means_and_ranges(db: Database, world: AnalyticsWorld) -> None:
    result = board(db, world, make_filter(START, END))
    assert result.total_scores == 15  # the 0.3 of October is outside the range
    quality = series(result, "quality")
    assert (quality.source, quality.data_type, quality.count) == ("API", "NUMERIC", 4)
    assert quality.mean == pytest.approx(0.625)
    assert (quality.min, quality.max) == (0.1, 1.0)
    ok = series(result, "ok")
    assert ok.count == 3 and ok.mean == pytest.approx(2 / 3)
    # Largest series first.
    assert [s.name for s in result.series][:2] == ["quality", "rating"]


def test_histogram_bins(db: Database, world: AnalyticsWorld) -> None:
    result = board(db, world, make_filter(START, END))
    quality = series(result, "quality")
    # 0.1 .. 1.0 in ten bins of 0.09: 0.1 -> bin 0, 0.5 -> bin 4, 0.9 and 1.0 -> bin 8 and 9.
    counts = [b.count for b in quality.histogram]
    assert len(counts) == 10 and sum(counts) == 4
    assert counts[0] == 1 and counts[4] == 1 and counts[9] >= 1
    assert quality.histogram[0].lower == pytest.approx(0.1)
    assert quality.histogram[-1].upper == pytest.approx(1.0)
    # Whole numbers 1..5: one bin per value.
    rating = series(result, "rating")
    assert rating.integer_bins
    assert [(b.lower, b.count) for b in rating.histogram] == [
        (1.0, 1),
        (2.0, 2),
        (3.0, 0),
        (4.0, 0),
        (5.0, 1),
    ]


def test_categorical_and_boolean_bars(db: Database, world: AnalyticsWorld) -> None:
    result = board(db, world, make_filter(START, END))
    tone = series(result, "tone")
    assert [(c.label, c.count) for c in tone.labels] == [("good", 2), ("bad", 1)]
    assert tone.histogram == []
    ok = series(result, "ok")
    assert [(c.label, c.count) for c in ok.labels] == [("True", 2), ("False", 1)]


def test_daily_trend(db: Database, world: AnalyticsWorld) -> None:
    result = board(db, world, make_filter(START, END))
    assert result.bucket is Bucket.DAY
    quality = series(result, "quality")
    assert [p.start.day for p in quality.trend] == [1, 2, 3, 4, 5, 6, 7]
    assert [p.count for p in quality.trend] == [0, 2, 1, 0, 1, 0, 0]
    assert quality.trend[1].mean == pytest.approx(0.3)
    assert quality.trend[0].mean is None  # no scores that day: no mean, never NaN


def test_hourly_and_weekly_buckets(db: Database, world: AnalyticsWorld) -> None:
    day1 = datetime(2026, 11, 2, tzinfo=UTC)
    hourly = board(db, world, make_filter(day1, day1 + timedelta(days=1)))
    assert hourly.bucket is Bucket.HOUR
    rating = series(hourly, "rating")
    assert len(rating.trend) == 24
    assert (rating.trend[9].count, rating.trend[10].count) == (1, 1)
    weekly = board(db, world, make_filter(datetime(2026, 8, 1, tzinfo=UTC), END))
    assert weekly.bucket is Bucket.WEEK
    quality = series(weekly, "quality")
    # Weeks start on Monday: the October score in the week of Oct 19, the rest in Nov 2.
    by_week = {p.start.date().isoformat(): p.count for p in quality.trend if p.count}
    assert by_week == {"2026-10-19": 1, "2026-11-02": 4}
    assert all(p.start.weekday() == 0 for p in quality.trend)


def test_filters(db: Database, world: AnalyticsWorld) -> None:
    staging = board(db, world, make_filter(START, END, environments=["staging"]))
    assert staging.total_scores == 5  # every score of t2
    chat = board(db, world, make_filter(START, END, trace_names=["chat"]))
    assert chat.total_scores == 10
    both_tags = board(db, world, make_filter(START, END, tags=["beta", "vip"]))
    assert both_tags.total_scores == 4  # t3 only
    evil = board(db, world, make_filter(START, END, trace_names=[EVIL]))
    assert {s.name for s in evil.series} == {"quality", "rating", "tone", "ok", EVIL}
    by_source = board(db, world, make_filter(START, END, sources=["EVAL"]))
    assert [s.name for s in by_source.series] == ["tone"]


def test_throughput_per_annotator_per_day(db: Database, world: AnalyticsWorld) -> None:
    with db.read() as session:
        result = analytics_throughput.throughput(session, world.project_id, make_filter(START, END))
    assert result.bucket is Bucket.DAY and len(result.buckets) == 7
    people = {a.name: a for a in result.annotators}
    assert people["alice"].per_bucket == [0, 3, 1, 0, 0, 0, 0]
    assert people["bob"].per_bucket == [0, 0, 3, 0, 0, 0, 0]
    assert (people["alice"].scores, people["alice"].targets) == (4, 3)
    assert result.total == 7


def test_queue_progress(db: Database, world: AnalyticsWorld) -> None:
    with db.read() as session:
        (queue,) = analytics_queues.queue_progress(
            session, world.project_id, make_filter(START, END)
        )
        narrow = analytics_queues.queue_progress(
            session,
            world.project_id,
            make_filter(datetime(2026, 11, 3, tzinfo=UTC), END),
        )[0]
    assert (queue.items, queue.completed, queue.pending) == (4, 2, 2)
    assert queue.completed_in_range == 2
    assert {a.name: a.completed for a in queue.annotators} == {"alice": 1, "bob": 1}
    assert narrow.completed_in_range == 1 and [a.name for a in narrow.annotators] == ["bob"]


def test_empty_project_has_no_series_and_no_nan(db: Database) -> None:
    other = make_project(db, "Empty", "empty@example.com")
    with db.read() as session:
        result = analytics_dashboard.score_dashboard(
            session, other.project.id, make_filter(START, END)
        )
        people = analytics_throughput.throughput(session, other.project.id, make_filter(START, END))
        queues = analytics_queues.queue_progress(session, other.project.id, make_filter(START, END))
    assert result.series == [] and result.total_scores == 0
    assert people.annotators == [] and queues == []


def test_another_projects_scores_are_not_counted(db: Database, world: AnalyticsWorld) -> None:
    other = make_project(db, "Other", "other@example.com")
    with db.read() as session:
        result = analytics_dashboard.score_dashboard(
            session, other.project.id, make_filter(START, END)
        )
    assert result.total_scores == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": END, "end": START}, "must be before"),
        ({"start": datetime(2024, 1, 1, tzinfo=UTC), "end": END}, "at most 366 days"),
        ({"start": START, "end": END, "sources": ["HUMAN"]}, "source: 'HUMAN'"),
        ({"start": START, "end": END, "environments": [f"e{i}" for i in range(30)]}, "at most 20"),
    ],
)
def test_bad_filters(kwargs: dict[str, object], message: str) -> None:
    start, end = kwargs.pop("start"), kwargs.pop("end")
    with pytest.raises(Invalid, match=message):
        make_filter(start, end, **kwargs)  # type: ignore[arg-type]
