"""The dashboard's numbers, aggregated in SQL: scores per name and source, throughput, queues.

Every figure comes from a GROUP BY over the scores (or queue) tables; Python only receives
one row per group (a series, a time bucket, a label, a histogram bin) and never the scores
themselves, so the cost does not depend on loading a million rows into the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from tracemark.db.models import Score, ScoreDataType, Trace, TraceTag
from tracemark.db.models.scoring import SQLITE_DAY
from tracemark.services.analytics_filter import (
    Bucket,
    DashboardFilter,
    group_sql,
    parse_group,
)

MAX_SERIES = 40  # score series (name, source, data type) shown; the rest are counted
MAX_LABELS = 12  # categories shown per series; the rest are summed as "other"
HISTOGRAM_BINS = 10
MAX_INTEGER_BINS = 20  # integer-valued scores spanning up to this many values get a bin each
DISTRIBUTED = (ScoreDataType.CATEGORICAL.value, ScoreDataType.BOOLEAN.value)


@dataclass
class TrendPoint:
    start: datetime
    count: int
    mean: float | None


@dataclass
class HistogramBin:
    lower: float
    upper: float
    count: int


@dataclass
class LabelCount:
    label: str
    count: int


@dataclass
class ScoreSeries:
    name: str
    source: str
    data_type: str
    count: int
    mean: float | None
    min: float | None
    max: float | None
    histogram: list[HistogramBin] = field(default_factory=list)
    labels: list[LabelCount] = field(default_factory=list)
    other_labels: int = 0  # distinct labels beyond MAX_LABELS
    other_count: int = 0  # scores with those labels
    trend: list[TrendPoint] = field(default_factory=list)
    integer_bins: bool = False

    @property
    def is_numeric(self) -> bool:
        return self.data_type == ScoreDataType.NUMERIC.value

    @property
    def is_distributed(self) -> bool:
        return self.data_type in DISTRIBUTED


@dataclass
class ScoreDashboard:
    filter: DashboardFilter
    bucket: Bucket
    series: list[ScoreSeries]
    omitted_series: int
    total_scores: int


def score_conditions(project_id: str, flt: DashboardFilter) -> list[ColumnElement[bool]]:
    """The WHERE clause shared by every dashboard query over scores."""
    conditions: list[ColumnElement[bool]] = [
        Score.project_id == project_id,
        Score.timestamp >= flt.start,
        Score.timestamp < flt.end,
    ]
    if flt.environments:
        conditions.append(Score.environment.in_(flt.environments))
    if flt.score_names:
        conditions.append(Score.name.in_(flt.score_names))
    if flt.sources:
        conditions.append(Score.source.in_(flt.sources))
    if flt.trace_names:
        conditions.append(
            Score.trace_id.in_(
                select(Trace.id).where(
                    Trace.project_id == project_id, Trace.name.in_(flt.trace_names)
                )
            )
        )
    for tag in flt.tags:
        conditions.append(
            Score.trace_id.in_(
                select(TraceTag.trace_id).where(
                    TraceTag.project_id == project_id, TraceTag.tag == tag
                )
            )
        )
    return conditions


def without_jit(session: Session) -> None:
    """PostgreSQL: no JIT for this transaction's aggregates.

    A million-row aggregate crosses the JIT cost threshold, and compiling its expressions
    took longer (about 100 ms per query) than they run for.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _floor(dialect: str, expr: ColumnElement[Any]) -> ColumnElement[int]:
    # SQLite may lack floor(); CAST truncates, which is floor for the non-negative values
    # given here. PostgreSQL's CAST rounds, hence floor() there.
    if dialect == "sqlite":
        return cast(expr, Integer)
    return cast(func.floor(expr), Integer)


def _whole(dialect: str) -> ColumnElement[Any]:
    """The score's value rounded down to a whole number (equal to it when it is one)."""
    if dialect == "sqlite":
        return cast(cast(Score.value, Integer), Float)
    return func.floor(Score.value)


@dataclass
class _Group:
    """What the database says about one series on one day (or hour) and one label."""

    count: int = 0
    valued: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None

    def add(self, other: _Group) -> None:
        self.count += other.count
        self.valued += other.valued
        self.total += other.total
        if other.low is not None:
            self.low = other.low if self.low is None else min(self.low, other.low)
        if other.high is not None:
            self.high = other.high if self.high is None else max(self.high, other.high)

    @property
    def mean(self) -> float | None:
        return self.total / self.valued if self.valued else None


SeriesKey = tuple[str, str, str]


def score_dashboard(session: Session, project_id: str, flt: DashboardFilter) -> ScoreDashboard:
    """Per score name, source and data type: count, mean, distribution and trend.

    One GROUP BY (series, day or hour, label) gives the counts, means, trends and label bars;
    a second one the histogram bins of numeric series.
    """
    dialect = session.get_bind().dialect.name
    without_jit(session)
    where = score_conditions(project_id, flt)
    unit = group_sql(dialect, flt.bucket).label("unit")
    key = (Score.name, Score.source, Score.data_type)
    totals: dict[SeriesKey, _Group] = {}
    trends: dict[SeriesKey, dict[datetime, _Group]] = {}
    labels: dict[SeriesKey, dict[str | None, _Group]] = {}
    for (
        name,
        source,
        data_type,
        at,
        label,
        count,
        valued,
        total,
        low,
        high,
    ) in session.execute(
        select(
            *key,
            unit,
            Score.string_value,
            func.count(),
            func.count(Score.value),
            func.sum(Score.value),
            func.min(Score.value),
            func.max(Score.value),
        )
        .where(*where)
        .group_by(*key, unit, Score.string_value)
    ):
        group = _Group(
            int(count),
            int(valued),
            float(total or 0.0),
            None if low is None else float(low),
            None if high is None else float(high),
        )
        series_key = (name, source, data_type)
        totals.setdefault(series_key, _Group()).add(group)
        start = flt.bucket.floor(parse_group(at))
        trends.setdefault(series_key, {}).setdefault(start, _Group()).add(group)
        if data_type in DISTRIBUTED:
            labels.setdefault(series_key, {}).setdefault(label, _Group()).add(group)
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1].count, kv[0]))
    starts = flt.bucket_starts(flt.bucket)
    series: dict[SeriesKey, ScoreSeries] = {}
    for series_key, group in ordered[:MAX_SERIES]:
        name, source, data_type = series_key
        numeric = data_type in (ScoreDataType.NUMERIC.value, *DISTRIBUTED)
        entry = ScoreSeries(
            name=name,
            source=source,
            data_type=data_type,
            count=group.count,
            mean=group.mean if numeric else None,
            min=group.low if numeric else None,
            max=group.high if numeric else None,
        )
        points = trends.get(series_key, {})
        entry.trend = [
            TrendPoint(
                start,
                points[start].count if start in points else 0,
                points[start].mean if start in points and numeric else None,
            )
            for start in starts
        ]
        _set_labels(entry, labels.get(series_key, {}))
        series[series_key] = entry
    _fill_histograms(session, dialect, flt, where, series)
    return ScoreDashboard(
        filter=flt,
        bucket=flt.bucket,
        series=list(series.values()),
        omitted_series=max(0, len(ordered) - MAX_SERIES),
        total_scores=sum(g.count for g in totals.values()),
    )


def _label_text(label: str | None, group: _Group) -> str:
    if label is not None:
        return label
    if group.low is not None and group.low == group.high:
        return f"{group.low:g}"  # a category sent as a number, without its label
    return "(no label)"


def _set_labels(entry: ScoreSeries, groups: dict[str | None, _Group]) -> None:
    counts: dict[str, int] = {}
    for label, group in groups.items():
        text = _label_text(label, group)
        counts[text] = counts.get(text, 0) + group.count
    if entry.data_type == ScoreDataType.BOOLEAN.value:
        ranked = sorted(counts.items(), key=lambda kv: (kv[0] != "True", kv[0]))
    else:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    entry.labels = [LabelCount(label, count) for label, count in ranked[:MAX_LABELS]]
    rest = ranked[MAX_LABELS:]
    entry.other_labels = len(rest)
    entry.other_count = sum(count for _, count in rest)


@dataclass(frozen=True)
class _Bins:
    lower: float
    width: float
    count: int


@dataclass(frozen=True)
class _Plan:
    """A numeric series' bins: `spread` over its range, or one per whole number (`integers`)
    when every value is whole and the range spans at most MAX_INTEGER_BINS of them. Whether
    every value is whole is learnt in the histogram query itself (a second group key), so the
    main query does not test every score for it."""

    spread: _Bins
    integers: _Bins | None


def _plan_for(entry: ScoreSeries) -> _Plan | None:
    if entry.min is None or entry.max is None:
        return None
    low, high = entry.min, entry.max
    integers = None
    if low.is_integer() and high.is_integer() and high - low + 1 <= MAX_INTEGER_BINS:
        integers = _Bins(low, 1.0, int(high - low) + 1)
    if high == low:
        return _Plan(_Bins(low, 1.0, 1), integers)
    return _Plan(_Bins(low, (high - low) / HISTOGRAM_BINS, HISTOGRAM_BINS), integers)


def _fill_histograms(
    session: Session,
    dialect: str,
    flt: DashboardFilter,
    where: list[ColumnElement[bool]],
    series: dict[SeriesKey, ScoreSeries],
) -> None:
    plans = {
        key: plan
        for key, entry in series.items()
        if entry.is_numeric and (plan := _plan_for(entry)) is not None
    }
    if not plans:
        return
    numeric = [*where, Score.data_type == ScoreDataType.NUMERIC.value, Score.value.is_not(None)]
    last_day = flt.end - timedelta(microseconds=1)

    def bin_of(plan: _Plan) -> ColumnElement[int]:
        bins = plan.spread
        return _floor(dialect, (Score.value - literal(bins.lower)) / literal(bins.width))

    def integer_of(plan: _Plan) -> ColumnElement[int]:
        # The whole number's bin, or -1 for a value that is not whole.
        if plan.integers is None:
            return literal(-1)
        whole = _whole(dialect)
        return case(
            (Score.value == whole, cast(whole - literal(plan.integers.lower), Integer)), else_=-1
        )

    # (series) -> {(spread bin, integer bin or -1): count}
    found: dict[SeriesKey, dict[tuple[int, int], int]] = {}
    if dialect == "sqlite":
        # One query per series: each reads its own range of the dashboard index and sorts
        # only its bin numbers (SQLite groups by sorting). The day bounds repeat the time range
        # on the index's day column, so that SQLite picks that covering index.
        day: ColumnElement[str] = literal_column(SQLITE_DAY)
        numeric += [day >= flt.start.strftime("%Y-%m-%d"), day <= last_day.strftime("%Y-%m-%d")]
        for key, plan in plans.items():
            index, integer = bin_of(plan).label("bin"), integer_of(plan).label("integer")
            rows = session.execute(
                select(index, integer, func.count())
                .where(*numeric, Score.name == key[0], Score.source == key[1])
                .group_by(index, integer)
            )
            found[key] = {(int(i), int(w)): int(c) for i, w, c in rows if i is not None}
    else:
        # One pass with hashing: a CASE branch per series picks the series' own bins.
        def per_series(column: Any) -> Any:
            return case(
                *(
                    (and_(Score.name == key[0], Score.source == key[1]), column(plan))
                    for key, plan in plans.items()
                ),
                else_=None,
            )

        index, integer = per_series(bin_of).label("bin"), per_series(integer_of).label("integer")
        for name, source, data_type, at, whole_at, count in session.execute(
            select(Score.name, Score.source, Score.data_type, index, integer, func.count())
            .where(*numeric, tuple_(Score.name, Score.source).in_([k[:2] for k in plans]))
            .group_by(Score.name, Score.source, Score.data_type, index, integer)
        ):
            if at is not None:
                found.setdefault((name, source, data_type), {})[(int(at), int(whole_at))] = int(
                    count
                )
    for key, plan in plans.items():
        groups = found.get(key, {})
        fractions = any(whole_at < 0 for _, whole_at in groups)
        if plan.integers is not None and not fractions:
            bins, at_of = plan.integers, 1
            series[key].integer_bins = True
        else:
            bins, at_of = plan.spread, 0
        counts: dict[int, int] = {}
        for pair, count in groups.items():
            # The maximum (and float rounding next to it) lands past the last bin: keep it in.
            clamped = min(max(pair[at_of], 0), bins.count - 1)
            counts[clamped] = counts.get(clamped, 0) + count
        series[key].histogram = [
            HistogramBin(
                lower=bins.lower + i * bins.width,
                upper=bins.lower + (i + 1) * bins.width,
                count=counts.get(i, 0),
            )
            for i in range(bins.count)
        ]
