"""The list pages' reads: keyset pages, capped counts, score summaries, session totals.

Pages are keyset-paginated (a cursor holds the sort value and id of the row next to it), so
the hundredth page costs what the first does. Totals are counted only up to COUNT_CAP rows:
counting every match of a broad filter over millions of traces would cost more than the page.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tracemark.db.models import AnnotationQueue, Observation, Score, Trace, TraceSession
from tracemark.services import traces
from tracemark.services.errors import Invalid
from tracemark.services.paging import decode_key, encode_key

COUNT_CAP = 10_000
PAGE_SIZES = (25, 50, 100)
MAX_SELECT_ALL = 50_000  # what one bulk add takes (services.queues.MAX_BULK)

Row = TypeVar("Row")

# Sortable trace columns: URL name -> (column, may hold NULL).
TRACE_SORTS: dict[str, tuple[InstrumentedAttribute[Any], bool]] = {
    "timestamp": (Trace.timestamp, False),
    "name": (Trace.name, True),
    "userId": (Trace.user_id, True),
    "sessionId": (Trace.session_id, True),
    "latency": (Trace.latency, True),
    "totalCost": (Trace.total_cost, True),
    "totalTokens": (Trace.total_tokens, False),
}


@dataclass
class Page(Generic[Row]):
    rows: list[Row]
    next_cursor: str | None  # the page after this one
    prev_cursor: str | None  # the page before this one (None on the first page)


def _after(
    column: Any, id_column: Any, value: Any, row_id: str, *, desc: bool, nullable: bool
) -> ColumnElement[bool]:
    """Rows strictly after (value, row_id) in the order `column desc|asc, id`, NULLs last."""
    same = id_column < row_id if desc else id_column > row_id
    if value is None:
        return and_(column.is_(None), same)
    beyond = column < value if desc else column > value
    # `column <= value AND (...)` gives both planners a range on the sort index.
    bound = column <= value if desc else column >= value
    step = and_(bound, or_(beyond, and_(column == value, same)))
    return or_(step, column.is_(None)) if nullable else step


def _order(column: Any, id_column: Any, *, desc: bool, nullable: bool) -> list[Any]:
    first = column.desc() if desc else column.asc()
    # Only nullable columns get an explicit NULLS LAST: on a NOT NULL column it would keep
    # PostgreSQL from reading its index backwards.
    if nullable:
        first = first.nulls_last()
    return [first, id_column.desc() if desc else id_column.asc()]


def keyset_page(
    session: Session,
    stmt: Select[Any],
    sort: tuple[InstrumentedAttribute[Any], bool],
    id_column: InstrumentedAttribute[Any],
    *,
    desc: bool,
    limit: int,
    after: str | None = None,
    before: str | None = None,
) -> Page[Any]:
    """One page of `stmt`'s rows in (sort, id) order, after or before a cursor."""
    if limit not in PAGE_SIZES:
        raise Invalid(f"limit: must be one of {', '.join(map(str, PAGE_SIZES))}")
    if after and before:
        raise Invalid("give either after or before, not both")
    column, nullable = sort
    sort_attr, id_attr = column.key, id_column.key
    backwards = before is not None
    cursor = before or after
    if cursor:
        value, row_id = decode_key(cursor, 2)
        if isinstance(value, float) and column.type.python_type is int:
            value = int(value)
        if not isinstance(row_id, str):
            raise Invalid("cursor: not a page link of this list; start again from the first page")
        if backwards:
            # The rows before the cursor are the rows after it in the reverse order, except
            # that NULLs (last in the forward order) come first going backwards.
            if value is None:
                condition = and_(
                    column.is_(None), id_column > row_id if desc else id_column < row_id
                )
                condition = or_(condition, column.is_not(None))
            else:
                condition = _after(column, id_column, value, row_id, desc=not desc, nullable=False)
            stmt = stmt.where(condition)
        else:
            stmt = stmt.where(
                _after(column, id_column, value, row_id, desc=desc, nullable=nullable)
            )
    if backwards:
        first = column.asc() if desc else column.desc()
        if nullable:
            first = first.nulls_first()
        order = [first, id_column.asc() if desc else id_column.desc()]
    else:
        order = _order(column, id_column, desc=desc, nullable=nullable)
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()

    def key(row: Any) -> str:
        return encode_key([getattr(row, sort_attr), getattr(row, id_attr)])

    if backwards:
        next_cursor = key(rows[-1]) if rows else None
        prev_cursor = key(rows[0]) if rows and more else None
    else:
        next_cursor = key(rows[-1]) if rows and more else None
        prev_cursor = key(rows[0]) if rows and cursor else None
    return Page(rows, next_cursor, prev_cursor)


def capped_count(session: Session, stmt: Select[Any], cap: int = COUNT_CAP) -> int:
    """How many rows `stmt` selects, counted up to cap + 1 (more than cap means 'cap+')."""
    limited = (
        stmt.with_only_columns(literal_column("1"), maintain_column_froms=True)
        .order_by(None)
        .limit(cap + 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(limited)) or 0)


def exact_count(session: Session, stmt: Select[Any]) -> int:
    counted = stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    return int(session.scalar(counted) or 0)


# --- traces --------------------------------------------------------------------------------


def parse_sort(value: str | None) -> tuple[str, bool]:
    """`field.asc|desc` over TRACE_SORTS; newest first by default."""
    if not value:
        return "timestamp", True
    name, _, direction = value.partition(".")
    if name not in TRACE_SORTS:
        raise Invalid(f"sort: unknown column {name!r}; use one of {', '.join(TRACE_SORTS)}")
    if direction not in ("", "asc", "desc"):
        raise Invalid("sort: direction must be asc or desc, e.g. latency.desc")
    return name, direction != "asc"


def trace_page(
    session: Session,
    project_id: str,
    flt: traces.TraceFilter,
    *,
    sort: str | None = None,
    limit: int = 50,
    after: str | None = None,
    before: str | None = None,
) -> Page[Trace]:
    name, desc = parse_sort(sort)
    return keyset_page(
        session,
        traces.trace_query(project_id, traces.sized_for_queue(session, flt)),
        TRACE_SORTS[name],
        Trace.id,
        desc=desc,
        limit=limit,
        after=after,
        before=before,
    )


# --- observations and sessions ------------------------------------------------------------


def observation_page(
    session: Session,
    project_id: str,
    flt: traces.ObservationFilter,
    *,
    limit: int = 50,
    after: str | None = None,
    before: str | None = None,
) -> Page[Observation]:
    return keyset_page(
        session,
        traces.observation_query(project_id, flt),
        (Observation.start_time, False),
        Observation.id,
        desc=True,
        limit=limit,
        after=after,
        before=before,
    )


def session_page(
    session: Session,
    project_id: str,
    flt: traces.SessionFilter,
    *,
    limit: int = 50,
    after: str | None = None,
    before: str | None = None,
) -> Page[TraceSession]:
    return keyset_page(
        session,
        traces.session_query(project_id, flt),
        (TraceSession.created_at, False),
        TraceSession.id,
        desc=True,
        limit=limit,
        after=after,
        before=before,
    )


def matching_ids(session: Session, stmt: Select[Any], id_column: Any) -> list[str]:
    """Every id a filter selects, for a bulk add; refuses more than one bulk add takes."""
    ids = list(
        session.scalars(stmt.with_only_columns(id_column).order_by(None).limit(MAX_SELECT_ALL + 1))
    )
    if len(ids) > MAX_SELECT_ALL:
        raise Invalid(
            f"more than {MAX_SELECT_ALL:,} rows match this filter; narrow it (e.g. a time range)"
        )
    return [str(i) for i in ids]


# --- what the rows shown need besides themselves ------------------------------------------


@dataclass
class QueueChoice:
    id: str
    name: str


def queue_choices(session: Session, project_id: str, limit: int = 200) -> list[QueueChoice]:
    """The project's open queues by name, for the filter and the Actions menu (no counts)."""
    rows = session.execute(
        select(AnnotationQueue.id, AnnotationQueue.name)
        .where(AnnotationQueue.project_id == project_id, AnnotationQueue.archived.is_(False))
        .order_by(AnnotationQueue.name_key)
        .limit(limit)
    )
    return [QueueChoice(queue_id, name) for queue_id, name in rows]


@dataclass
class ScoreSummary:
    name: str
    data_type: str
    count: int
    average: float | None  # numeric and boolean scores
    label: str | None  # categorical / text: the value when all scores agree
    labels: int = 0  # how many different values when they do not

    @property
    def display(self) -> str:
        if self.average is not None and self.data_type in ("NUMERIC", "BOOLEAN"):
            return f"{self.average:.2f}".rstrip("0").rstrip(".")
        if self.label is not None:
            return self.label
        if self.average is not None:
            return f"{self.average:.2f}".rstrip("0").rstrip(".")
        return f"{self.labels} values"


def score_summaries(
    session: Session,
    project_id: str,
    target: str,
    ids: Sequence[str],
    *,
    own_only: Collection[str] = (),
    viewer_id: str = "",
) -> dict[str, list[ScoreSummary]]:
    """Per shown row, one summary per score name: the average, or the label. One query (two
    with `own_only`: the rows whose summaries count only `viewer_id`'s scores, for blind
    review).

    `target` is trace (every score of the trace, its observations' too), observation or
    session.
    """
    out: dict[str, list[ScoreSummary]] = {i: [] for i in ids}
    if not ids:
        return out
    column = {
        "trace": Score.trace_id,
        "observation": Score.observation_id,
        "session": Score.session_id,
    }[target]
    mine = [i for i in ids if i in own_only]
    everyone = [i for i in ids if i not in own_only]
    for chunk, author in ((everyone, None), (mine, viewer_id)):
        if chunk:
            _summarize(session, project_id, column, chunk, author, out)
    return out


def _summarize(
    session: Session,
    project_id: str,
    column: Any,
    ids: list[str],
    author: str | None,
    out: dict[str, list[ScoreSummary]],
) -> None:
    conditions = [Score.project_id == project_id, column.in_(ids)]
    if author is not None:
        conditions.append(Score.author_user_id == author)
    rows = session.execute(
        select(
            column,
            Score.name,
            Score.data_type,
            func.count(),
            func.avg(Score.value),
            func.min(Score.string_value),
            func.max(Score.string_value),
            func.count(func.distinct(Score.string_value)),
        )
        .where(*conditions)
        .group_by(column, Score.name, Score.data_type)
        .order_by(column, Score.name)
    ).all()
    for target_id, name, data_type, count, average, low, high, distinct in rows:
        label = low if low is not None and low == high else None
        out[target_id].append(
            ScoreSummary(
                name,
                data_type,
                int(count),
                float(average) if average is not None else None,
                label,
                int(distinct or 0),
            )
        )


@dataclass
class SessionTotals:
    traces: int = 0
    first: datetime | None = None
    last: datetime | None = None
    users: list[str] = field(default_factory=list)
    total_cost: float | None = None
    total_tokens: int = 0

    @property
    def duration(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        return (self.last - self.first).total_seconds()


def session_totals(
    session: Session, project_id: str, session_ids: Sequence[str]
) -> dict[str, SessionTotals]:
    """Trace count, time span, cost, tokens and users of each shown session (two queries)."""
    out = {s: SessionTotals() for s in session_ids}
    if not session_ids:
        return out
    ids = list(session_ids)
    for sid, count, first, last, cost, tokens in session.execute(
        select(
            Trace.session_id,
            func.count(),
            func.min(Trace.timestamp),
            func.max(func.coalesce(Trace.end_time, Trace.timestamp)),
            func.sum(Trace.total_cost),
            func.sum(Trace.total_tokens),
        )
        .where(Trace.project_id == project_id, Trace.session_id.in_(ids))
        .group_by(Trace.session_id)
    ):
        totals = out[str(sid)]
        totals.traces, totals.total_cost, totals.total_tokens = int(count), cost, int(tokens or 0)
        totals.first, totals.last = first, last
    for sid, user_id in session.execute(
        select(Trace.session_id, Trace.user_id)
        .where(Trace.project_id == project_id, Trace.session_id.in_(ids))
        .where(Trace.user_id.is_not(None))
        .distinct()
        .order_by(Trace.session_id, Trace.user_id)
    ):
        out[str(sid)].users.append(str(user_id))
    return out
