"""The list pages' filters as they live in the URL: parsing, and links that keep them.

A filter is a handful of short query parameters (`?name=chat&tags=vip,beta&level=ERROR`), so
a view can be bookmarked and shared. The same parser reads the filters the add-to-queue form
sends back, so "select all matching" adds exactly what the page showed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tracemark.ingest.records import Level, ObservationType
from tracemark.services import traces
from tracemark.services.errors import Invalid
from tracemark.services.score_queries import _OPERATORS as SCORE_OPERATORS

TRACE_PARAMS = (
    "from",
    "to",
    "name",
    "user",
    "session",
    "tags",
    "level",
    "env",
    "release",
    "meta_key",
    "meta_value",
    "score",
    "score_op",
    "score_value",
    "not_in_queue",
)
OBSERVATION_PARAMS = ("from", "to", "name", "type", "level", "env", "user", "trace", "not_in_queue")
SESSION_PARAMS = ("from", "to", "env", "user", "not_in_queue")
VIEW_PARAMS = ("sort", "limit")  # kept in links, but not part of the filter
LEVELS = [level.value for level in Level]
OBSERVATION_TYPES = [kind.value for kind in ObservationType]
OPERATORS = list(SCORE_OPERATORS)


def _time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name}: not a date and time, e.g. 2026-11-20T10:00") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _level(value: str) -> str:
    level = value.upper()
    if level not in LEVELS:
        raise Invalid(f"level: must be one of {', '.join(LEVELS)}")
    return level


@dataclass
class ListView:
    """The filter values given (raw, for the form and links) and the view settings."""

    kind: str  # traces, observations, sessions
    path: str
    values: dict[str, str] = field(default_factory=dict)
    sort: str | None = None
    limit: int = 50

    @property
    def active(self) -> bool:
        return bool(self.values)

    def query(self, **changes: Any) -> str:
        """This view's query string with `changes` (None removes a parameter)."""
        params: dict[str, Any] = dict(self.values)
        if self.sort:
            params["sort"] = self.sort
        if self.limit != 50:
            params["limit"] = str(self.limit)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return urlencode(params)

    def url(self, **changes: Any) -> str:
        query = self.query(**changes)
        return self.path + ("?" + query if query else "")

    def filter_query(self) -> str:
        """Only the filter, for the add-to-queue form."""
        return urlencode(self.values)

    def sort_url(self, column: str, default_desc: bool = True) -> str:
        name, _, direction = (self.sort or "timestamp.desc").partition(".")
        if name == column:
            flipped = "asc" if direction != "asc" else "desc"
            return self.url(sort=f"{column}.{flipped}")
        return self.url(sort=f"{column}.{'desc' if default_desc else 'asc'}")

    def sort_state(self, column: str) -> str | None:
        """aria-sort of a column header: ascending, descending or None."""
        name, _, direction = (self.sort or "timestamp.desc").partition(".")
        if name != column:
            return None
        return "ascending" if direction == "asc" else "descending"


def read_view(kind: str, path: str, params: Mapping[str, str]) -> ListView:
    allowed = {
        "traces": TRACE_PARAMS,
        "observations": OBSERVATION_PARAMS,
        "sessions": SESSION_PARAMS,
    }[kind]
    values = {k: params[k].strip() for k in allowed if params.get(k, "").strip()}
    limit_text = params.get("limit") or "50"
    if not limit_text.isdigit():
        raise Invalid("limit: must be 25, 50 or 100")
    return ListView(kind, path, values, params.get("sort") or None, int(limit_text))


def trace_filter(values: Mapping[str, str]) -> traces.TraceFilter:
    flt = traces.TraceFilter(
        name=values.get("name"),
        user_id=values.get("user"),
        session_id=values.get("session"),
        release=values.get("release"),
        tags=[t.strip() for t in values.get("tags", "").split(",") if t.strip()],
        environments=[values["env"]] if values.get("env") else [],
        levels=[_level(values["level"])] if values.get("level") else [],
        not_in_queue_id=values.get("not_in_queue"),
    )
    if "from" in values:
        flt.from_timestamp = _time(values["from"], "from")
    if "to" in values:
        flt.to_timestamp = _time(values["to"], "to")
    if "meta_value" in values and "meta_key" not in values:
        raise Invalid("meta_key: give the metadata key whose value must match")
    if "meta_key" in values:
        flt.metadata = {values["meta_key"]: values.get("meta_value", "")}
    _score(flt, values)
    return flt


def _score(flt: traces.TraceFilter, values: Mapping[str, str]) -> None:
    name, operator, raw = values.get("score"), values.get("score_op"), values.get("score_value")
    if name is None:
        if raw is not None:
            raise Invalid("score: give the score's name as well as its value")
        return
    flt.score_name = name
    if raw is None:
        return
    try:
        number = float(raw)
    except ValueError:
        number = None
    if number is not None:
        flt.score_operator, flt.score_value = operator or "=", number
    elif operator in (None, "="):
        flt.score_string_value = raw
    else:
        raise Invalid(f"score_value: {operator} needs a number; a label can only be equal (=)")


def observation_filter(values: Mapping[str, str]) -> traces.ObservationFilter:
    kind = values.get("type")
    if kind is not None and kind.upper() not in OBSERVATION_TYPES:
        raise Invalid(f"type: must be one of {', '.join(OBSERVATION_TYPES)}")
    flt = traces.ObservationFilter(
        name=values.get("name"),
        type=kind,
        level=_level(values["level"]) if values.get("level") else None,
        environments=[values["env"]] if values.get("env") else [],
        user_id=values.get("user"),
        trace_id=values.get("trace"),
        not_in_queue_id=values.get("not_in_queue"),
    )
    if "from" in values:
        flt.from_start_time = _time(values["from"], "from")
    if "to" in values:
        flt.to_start_time = _time(values["to"], "to")
    return flt


def session_filter(values: Mapping[str, str]) -> traces.SessionFilter:
    flt = traces.SessionFilter(
        environments=[values["env"]] if values.get("env") else [],
        user_id=values.get("user"),
        not_in_queue_id=values.get("not_in_queue"),
    )
    if "from" in values:
        flt.from_timestamp = _time(values["from"], "from")
    if "to" in values:
        flt.to_timestamp = _time(values["to"], "to")
    return flt
