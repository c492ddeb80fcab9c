"""The dashboard's numbers over the API: scores per name and source, throughput, queue progress."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from tracemark.api.deps import AUTH_ERRORS, DB, Caller
from tracemark.api.schemas.common import WireModel
from tracemark.services import analytics_dashboard, analytics_queues, analytics_throughput
from tracemark.services.analytics_filter import DashboardFilter, make_filter
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, require

router = APIRouter(prefix="/analytics", tags=["analytics"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {
        "description": "Bad time range (from not before to, more than 366 days, not a "
        "timestamp), unknown query parameter or source, too many filter values"
    },
}
FILTER_PARAMS = {
    "fromTimestamp",
    "toTimestamp",
    "environment",
    "traceName",
    "tags",
    "scoreName",
    "source",
}


def dashboard_filter(
    request: Request,
    from_timestamp: Annotated[
        datetime | None,
        Query(alias="fromTimestamp", description="Start (inclusive); default 30 days before end"),
    ] = None,
    to_timestamp: Annotated[
        datetime | None, Query(alias="toTimestamp", description="End (exclusive); default now")
    ] = None,
    environment: Annotated[list[str] | None, Query(description="Score environments")] = None,
    trace_name: Annotated[
        list[str] | None, Query(alias="traceName", description="Names of the scored traces")
    ] = None,
    tags: Annotated[
        list[str] | None, Query(description="Tags the scored trace must all carry")
    ] = None,
    score_name: Annotated[list[str] | None, Query(alias="scoreName")] = None,
    source: Annotated[list[str] | None, Query(description="ANNOTATION, API or EVAL")] = None,
) -> DashboardFilter:
    unknown = sorted(set(request.query_params) - FILTER_PARAMS)
    if unknown:
        raise Invalid(
            f"unknown query parameter {', '.join(unknown)}; "
            f"the filters are {', '.join(sorted(FILTER_PARAMS))}"
        )
    return make_filter(
        from_timestamp,
        to_timestamp,
        environments=environment,
        trace_names=trace_name,
        tags=tags,
        score_names=score_name,
        sources=source,
    )


Filter = Annotated[DashboardFilter, Depends(dashboard_filter)]


class Range(WireModel):
    from_timestamp: datetime
    to_timestamp: datetime
    bucket: str


class TrendPointOut(WireModel):
    start: datetime
    count: int
    mean: float | None


class HistogramBinOut(WireModel):
    lower: float
    upper: float
    count: int


class LabelCountOut(WireModel):
    label: str
    count: int


class ScoreSeriesOut(WireModel):
    name: str
    source: str
    data_type: str
    count: int
    mean: float | None
    min: float | None
    max: float | None
    histogram: list[HistogramBinOut]
    categories: list[LabelCountOut]
    other_categories: int
    other_count: int
    trend: list[TrendPointOut]


class ScoreAnalytics(WireModel):
    range: Range
    total_scores: int
    omitted_series: int
    series: list[ScoreSeriesOut]


def _range(flt: DashboardFilter, bucket: str) -> Range:
    return Range(from_timestamp=flt.start, to_timestamp=flt.end, bucket=bucket)


def _series_out(entry: analytics_dashboard.ScoreSeries) -> ScoreSeriesOut:
    return ScoreSeriesOut(
        name=entry.name,
        source=entry.source,
        data_type=entry.data_type,
        count=entry.count,
        mean=entry.mean,
        min=entry.min,
        max=entry.max,
        histogram=[
            HistogramBinOut(lower=b.lower, upper=b.upper, count=b.count) for b in entry.histogram
        ],
        categories=[LabelCountOut(label=c.label, count=c.count) for c in entry.labels],
        other_categories=entry.other_labels,
        other_count=entry.other_count,
        trend=[TrendPointOut(start=p.start, count=p.count, mean=p.mean) for p in entry.trend],
    )


@router.get(
    "/scores", operation_id="analytics_scores", response_model=ScoreAnalytics, responses=ERRORS
)
def score_analytics(caller: Caller, db: DB, flt: Filter) -> ScoreAnalytics:
    """Per score name, source and data type: count, mean, histogram or categories, trend."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        board = analytics_dashboard.score_dashboard(session, caller.project_id, flt)
    return ScoreAnalytics(
        range=_range(flt, board.bucket.value),
        total_scores=board.total_scores,
        omitted_series=board.omitted_series,
        series=[_series_out(s) for s in board.series],
    )


class AnnotatorThroughputOut(WireModel):
    user_id: str
    name: str
    scores: int
    targets: int
    per_bucket: list[int]


class ThroughputOut(WireModel):
    range: Range
    buckets: list[datetime]
    total_scores: int
    annotators: list[AnnotatorThroughputOut]


@router.get(
    "/throughput",
    operation_id="analytics_throughput",
    response_model=ThroughputOut,
    responses=ERRORS,
)
def throughput(caller: Caller, db: DB, flt: Filter) -> ThroughputOut:
    """ANNOTATION scores per annotator per day (per week for ranges beyond 92 days)."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        result = analytics_throughput.throughput(session, caller.project_id, flt)
    return ThroughputOut(
        range=_range(flt, result.bucket.value),
        buckets=result.buckets,
        total_scores=result.total,
        annotators=[
            AnnotatorThroughputOut(
                user_id=a.user_id,
                name=a.name,
                scores=a.scores,
                targets=a.targets,
                per_bucket=a.per_bucket,
            )
            for a in result.annotators
        ],
    )


class AnnotatorCompletionsOut(WireModel):
    user_id: str
    name: str
    completed: int


class QueueProgressOut(WireModel):
    queue_id: str
    name: str
    annotators_per_item: int
    items: int
    completed: int
    pending: int
    completed_in_range: int
    annotators: list[AnnotatorCompletionsOut]


class QueuesOut(WireModel):
    range: Range
    queues: list[QueueProgressOut]


@router.get("/queues", operation_id="analytics_queues", response_model=QueuesOut, responses=ERRORS)
def queue_progress(caller: Caller, db: DB, flt: Filter) -> QueuesOut:
    """Open queues: items completed, and items each annotator completed within the range."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        rows = analytics_queues.queue_progress(session, caller.project_id, flt)
    return QueuesOut(
        range=_range(flt, flt.day_bucket.value),
        queues=[
            QueueProgressOut(
                queue_id=q.queue_id,
                name=q.name,
                annotators_per_item=q.annotators_per_item,
                items=q.items,
                completed=q.completed,
                pending=q.pending,
                completed_in_range=q.completed_in_range,
                annotators=[
                    AnnotatorCompletionsOut(user_id=a.user_id, name=a.name, completed=a.completed)
                    for a in q.annotators
                ],
            )
            for q in rows
        ],
    )
