"""The project dashboard: scores per name and source, annotation throughput, queue progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tracemark.services import analytics_dashboard, analytics_queues, analytics_throughput
from tracemark.services.analytics_dashboard import ScoreSeries
from tracemark.services.analytics_filter import Bucket, DashboardFilter, make_filter
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, require
from tracemark.web import charts
from tracemark.web.common import CurrentUser, check_csrf, db_of, project_access, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
PARAMS = ("from", "to", "environment", "traceName", "tags", "scoreName", "source")
PRESETS = (7, 30, 90)
BUCKET_WORDS = {Bucket.HOUR: "hour", Bucket.DAY: "day", Bucket.WEEK: "week"}


@dataclass
class FormValues:
    """What the filter form shows: exactly what the user sent."""

    start: str = ""
    end: str = ""
    environment: str = ""
    trace_name: str = ""
    tags: str = ""
    score_name: str = ""
    source: str = ""


@dataclass
class SeriesView:
    series: ScoreSeries
    distribution: charts.Chart | None
    trend: charts.Chart


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _date(label: str, text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise Invalid(f"{label}: {text!r} is not a date; use YYYY-MM-DD") from None


def filter_from(form: FormValues, unknown: list[str], today: datetime) -> DashboardFilter:
    """The form's filter: whole UTC days from `from` through `to` (default: the last 30 days)."""
    if unknown:
        raise Invalid(f"unknown filter {', '.join(unknown)}; the filters are {', '.join(PARAMS)}")
    start = _date("from", form.start)
    last = _date("to", form.end)
    end = last + timedelta(days=1) if last else today + timedelta(days=1)
    if start is None:
        start = end - timedelta(days=30)
    return make_filter(
        start,
        end,
        environments=_split(form.environment),
        trace_names=_split(form.trace_name),
        tags=_split(form.tags),
        score_names=_split(form.score_name),
        sources=[form.source] if form.source else None,
    )


def _title(series: ScoreSeries) -> str:
    return f"{series.name} · {series.source} · {series.data_type}"


def distribution_chart(series: ScoreSeries) -> charts.Chart | None:
    if series.histogram:
        return charts.histogram(
            f"Distribution of {_title(series)}",
            [(b.lower, b.upper, b.count) for b in series.histogram],
            x_label="value",
            integer_bins=series.integer_bins,
        )
    if series.labels:
        bars = [
            (
                c.label,
                float(c.count),
                f"{c.label}: {c.count:,} scores ({100 * c.count / series.count:.1f}%)",
            )
            for c in series.labels
        ]
        if series.other_count:
            label = f"other ({series.other_labels})"
            bars.append((label, float(series.other_count), f"{label}: {series.other_count:,}"))
        return charts.bar_chart(f"Distribution of {_title(series)}", bars, x_label="category")
    return None


def trend_chart(series: ScoreSeries, bucket: Bucket) -> charts.Chart:
    word = BUCKET_WORDS[bucket]
    starts = [p.start for p in series.trend]
    has_mean = series.data_type in ("NUMERIC", "BOOLEAN")
    if has_mean:
        label = "share True" if series.data_type == "BOOLEAN" else "mean"
        values: list[float | None] = [p.mean for p in series.trend]
    else:
        label = "scores"
        values = [float(p.count) for p in series.trend]
    return charts.line_chart(
        f"{label.capitalize()} per {word} of {_title(series)}",
        starts,
        [(series.name, values)],
        y_label=f"{label} per {word}",
        hourly=bucket is Bucket.HOUR,
        whole=not has_mean,
    )


def throughput_chart(result: analytics_throughput.Throughput) -> charts.Chart:
    word = BUCKET_WORDS[result.bucket]
    return charts.line_chart(
        f"ANNOTATION scores per annotator per {word}",
        result.buckets,
        [(a.name, [float(v) for v in a.per_bucket]) for a in result.annotators[:10]],
        y_label=f"scores per {word}",
        width=1100,
        height=260,
        value_text=" scores",
        whole=True,
    )


@router.get("/project/{project_id}/dashboard")
def dashboard(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Scores per name and source, annotation throughput and queue progress for a range."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    query = request.query_params
    form = FormValues(
        start=query.get("from", ""),
        end=query.get("to", ""),
        environment=query.get("environment", ""),
        trace_name=query.get("traceName", ""),
        tags=query.get("tags", ""),
        score_name=query.get("scoreName", ""),
        source=query.get("source", ""),
    )
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    context = {
        "access": access,
        "nav_active": "dashboard",
        "form": form,
        "presets": [
            ((today - timedelta(days=d - 1)).date().isoformat(), today.date().isoformat(), d)
            for d in PRESETS
        ],
        "sources": ("ANNOTATION", "API", "EVAL"),
        "format_number": charts.format_number,
    }
    try:
        flt = filter_from(form, sorted(set(query) - set(PARAMS)), today)
    except Invalid as exc:
        return render(
            request, "dashboard.html", {**context, "error": exc.message}, status_code=400, user=user
        )
    with db_of(request).read() as session:
        board = analytics_dashboard.score_dashboard(session, access.project_id, flt)
        people = analytics_throughput.throughput(session, access.project_id, flt)
        progress = analytics_queues.queue_progress(session, access.project_id, flt)
    views = [
        SeriesView(s, distribution_chart(s), trend_chart(s, board.bucket)) for s in board.series
    ]
    return render(
        request,
        "dashboard.html",
        {
            **context,
            "filter": flt,
            "last_day": flt.end - timedelta(microseconds=1),
            "filtered": bool(
                flt.environments or flt.trace_names or flt.tags or flt.score_names or flt.sources
            ),
            "board": board,
            "bucket_word": BUCKET_WORDS[board.bucket],
            "views": views,
            "throughput": people,
            "throughput_chart": throughput_chart(people) if people.annotators else None,
            "throughput_word": BUCKET_WORDS[people.bucket],
            "queues": progress,
        },
        user=user,
    )
