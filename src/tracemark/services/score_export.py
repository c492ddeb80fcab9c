"""The project's scores as CSV, JSON or JSON Lines, streamed.

The public API's export and the web UI's scores page both stream these bytes, so the two
downloads of one filter are identical.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import score_queries
from tracemark.services.blind import blind_for_scores, blind_queues
from tracemark.services.errors import Invalid

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
}
COLUMNS = list(score_queries.EXPORT_COLUMNS)
_TIMESTAMP = COLUMNS.index("timestamp")
_METADATA = COLUMNS.index("metadata")


def check_format(fmt: str) -> str:
    if fmt not in MEDIA_TYPES:
        raise Invalid("format: must be csv, json or jsonl")
    return fmt


def _iso(value: datetime | None) -> str | None:
    """Langfuse's timestamp form: UTC with milliseconds and Z (naive values are UTC)."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(row: Sequence[Any]) -> dict[str, Any]:
    record = dict(zip(COLUMNS, row, strict=True))
    record["timestamp"] = _iso(row[_TIMESTAMP])
    record["metadata"] = row[_METADATA] or {}
    return record


_VALUE = COLUMNS.index("value")
_STRING_VALUE = COLUMNS.index("stringValue")
_COMMENT = COLUMNS.index("comment")
_REF = itemgetter(
    *(COLUMNS.index(c) for c in ("authorUserId", "traceId", "observationId", "sessionId"))
)


def _blinded(
    session: Session,
    project_id: str,
    viewer: tuple[str, Role],
    queues: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> Sequence[Sequence[Any]]:
    """The rows with value, string value and comment emptied where blind review hides them
    from `viewer` (services/blind.py); the rows themselves stay."""
    refs = [_REF(row) for row in rows]
    blind = blind_for_scores(session, project_id, *viewer, refs, queues=queues)
    if not blind:
        return rows
    out: list[Sequence[Any]] = []
    for row, ref in zip(rows, refs, strict=True):
        if blind.hides_ref(ref):
            masked = list(row)
            masked[_VALUE] = masked[_STRING_VALUE] = masked[_COMMENT] = None
            row = masked
        out.append(row)
    return out


def stream(
    db: Database,
    project_id: str,
    flt: score_queries.ScoreFilter,
    fmt: str,
    *,
    viewer: tuple[str, Role] | None = None,
) -> Iterator[bytes]:
    """The matching scores, oldest first, in `fmt`; one chunk per partition of rows.

    `viewer` (a person's id and role) empties the values blind review hides from them.
    """
    buffer = io.StringIO()

    def flush() -> bytes:
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return data

    with (
        db.read() as session,
        closing(
            score_queries.export_rows(session, project_id, flt, csv=fmt == "csv")
        ) as raw_partitions,
    ):
        partitions: Iterator[Sequence[Sequence[Any]]] = iter(raw_partitions)
        queues = blind_queues(session, project_id, *viewer) if viewer is not None else []
        if viewer is not None and queues:
            partitions = (
                _blinded(session, project_id, viewer, queues, rows) for rows in partitions
            )
        if fmt == "csv":
            # The database formats every cell (score_queries.export_query); csv.writer prints
            # None as "" and floats by repr, so rows go in as they come, with no Python per row.
            writer = csv.writer(buffer)
            writer.writerow(COLUMNS)
            for rows in partitions:
                writer.writerows(rows)
                yield flush()
        else:
            if fmt == "json":
                buffer.write("[")
            first = True
            for rows in partitions:
                for row in rows:
                    text = json.dumps(_record(row), ensure_ascii=False)
                    if fmt == "jsonl":
                        buffer.write(text)
                        buffer.write("\n")
                    else:
                        buffer.write(("" if first else ",\n") + text)
                    first = False
                yield flush()
            if fmt == "json":
                buffer.write("]\n")
        yield flush()
