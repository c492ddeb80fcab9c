"""The scores page: every score of the project, filtered (filters live in the URL), and the
export of the filtered set as CSV, JSON or JSON Lines.

Pages are keyset pages (newest first, `cursor` = the last row's time and id), so the hundredth
page costs what the first does however many scores the project holds; no total is counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from tracemark.db.models import Score, ScoreDataType, ScoreSource
from tracemark.services import accounts, queues, score_configs, score_export, score_queries
from tracemark.services.blind import hidden_scores
from tracemark.services.errors import DomainError, Invalid
from tracemark.services.permissions import Permission, require
from tracemark.web import forms
from tracemark.web.common import (
    CurrentUser,
    check_csrf,
    db_of,
    path_segment,
    project_access,
    render,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
SCORES = "/project/{project_id}/scores"
PAGE_SIZE = 50


@dataclass
class ScoresQuery:
    """The page's filters as they appear in the URL (all strings; empty = not filtered)."""

    source: str = ""
    name: str = ""
    data_type: str = ""
    author: str = ""
    queue: str = ""
    config: str = ""
    value: str = ""
    min: str = ""
    max: str = ""
    start: str = ""
    end: str = ""

    @classmethod
    def of(cls, request: Request) -> ScoresQuery:
        params = request.query_params
        return cls(**{key: (params.get(key) or "").strip() for key in cls.__dataclass_fields__})

    def params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    def url_query(self, **extra: str) -> str:
        return urlencode({**self.params(), **extra})

    @property
    def active(self) -> bool:
        return bool(self.params())

    def score_filter(self) -> score_queries.ScoreFilter:
        """The service's filter, or Invalid saying which field is wrong."""
        flt = score_queries.ScoreFilter(
            name=self.name or None,
            source=self.source or None,
            data_type=self.data_type or None,
            config_id=self.config or None,
            queue_id=self.queue or None,
            author_user_id=self.author or None,
            min_value=_float(self.min, "minimum value"),
            max_value=_float(self.max, "maximum value"),
            from_timestamp=_moment(self.start, "from"),
            to_timestamp=_moment(self.end, "to"),
        )
        if self.value:
            equal = _float_or_none(self.value)
            if equal is None:
                flt.string_value = self.value  # a category label or a text value
            else:
                flt.operator, flt.value = "=", equal
        score_queries.check(flt)
        return flt


def _float_or_none(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


def _float(raw: str, field: str) -> float | None:
    value = forms.number(raw, field)
    return None if value is None else float(value)


def _moment(raw: str, field: str) -> datetime | None:
    """A date or date-time from the filter form, read as UTC."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{field}: {raw!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class Choices:
    """What the filter form's selects offer."""

    configs: list[Any]
    authors: list[accounts.Member]
    queues: list[queues.QueueName]


def _choices(session: Session, project_id: str) -> Choices:
    configs, _ = score_configs.list_configs(session, project_id, limit=1000)
    return Choices(
        configs, accounts.list_members(session, project_id), queues.queue_names(session, project_id)
    )


def target_url(project_id: str, score: Score) -> str | None:
    base = f"/project/{path_segment(project_id)}"
    if score.session_id and not score.trace_id:
        return f"{base}/sessions/{path_segment(score.session_id)}"
    if not score.trace_id:
        return None
    url = f"{base}/traces/{path_segment(score.trace_id)}"
    if score.observation_id:
        url += "?" + urlencode({"observation": score.observation_id})
    return url


@router.get(SCORES)
def scores_page(
    request: Request, user: CurrentUser, project_id: str, cursor: str | None = None
) -> Response:
    """All scores of the project, newest first, with filters and export."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    query = ScoresQuery.of(request)
    rows: list[Score] = []
    next_cursor: str | None = None
    error: DomainError | None = None
    with db_of(request).read() as session:
        choices = _choices(session, access.project_id)
        try:
            flt = query.score_filter()
            rows, next_cursor = score_queries.list_cursor(
                session, access.project_id, flt, cursor=cursor or None, limit=PAGE_SIZE
            )
        except DomainError as exc:
            error = exc
        hidden = hidden_scores(session, access.project_id, access.user.id, access.role, rows)
        names = {m.user.id: m.user.name for m in choices.authors}
        for user_id in {s.author_user_id for s in rows if s.author_user_id} - names.keys():
            author = accounts.get_user(session, user_id)  # an admin, or a former member
            names[user_id] = author.name if author else "(deleted user)"
    config_names = {c.id: c.name for c in choices.configs}
    queue_names = {q.id: q.name for q in choices.queues}
    return render(
        request,
        "scores.html",
        {
            "access": access,
            "query": query,
            "rows": rows,
            "hidden": hidden,
            "next_cursor": next_cursor,
            "paged": bool(cursor),
            "choices": choices,
            "names": names,
            "config_names": config_names,
            "queue_names": queue_names,
            "sources": list(ScoreSource),
            "data_types": list(ScoreDataType),
            "target_url": target_url,
            "error": error.message if error else None,
            "page_size": PAGE_SIZE,
            "nav_active": "scores",
        },
        status_code=error.status if error else 200,
        user=user,
    )


@router.get(SCORES + "/export.{fmt}")
def scores_export(request: Request, user: CurrentUser, project_id: str, fmt: str) -> Response:
    """The scores matching the page's filters, streamed as CSV, JSON or JSON Lines."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    score_export.check_format(fmt)
    flt = ScoresQuery.of(request).score_filter()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        score_export.stream(
            db_of(request), access.project_id, flt, fmt, viewer=(access.user.id, access.role)
        ),
        media_type=score_export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="scores-{stamp}.{fmt}"'},
    )
