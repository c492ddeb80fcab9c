"""A queue's results as CSV or JSON Lines: one row per item and annotator, streamed.

The public API's export and the web UI's export link both stream these bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tracemark.db.engine import Database
from tracemark.services import queue_work, queues
from tracemark.services.errors import Invalid

FORMATS = ("csv", "jsonl")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_FLUSH_BYTES = 64_000


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Invalid("format: must be csv or jsonl")
    return fmt


def check_queue(db: Database, project_id: str, queue_id: str) -> None:
    """Raise NotFound before a stream starts (a stream cannot change its status later)."""
    with db.read() as session:
        queues.get_queue(session, project_id, queue_id)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stream(db: Database, project_id: str, queue_id: str, fmt: str) -> Iterator[bytes]:
    """The export's bytes, in chunks of about 64 kB, read in one session (constant memory)."""
    check_format(fmt)
    with db.read() as session:
        _, names, rows = queue_work.results(session, project_id, queue_id)
        columns = [
            "itemId",
            "objectType",
            "objectId",
            "annotatorId",
            "annotatorEmail",
            "status",
            "completedAt",
            "secondsSpent",
        ]
        for name in names:
            columns += [name, f"{name} comment"]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if fmt == "csv":
            writer.writerow(columns)
        for row in rows:
            record: dict[str, Any] = {
                "itemId": row.item.id,
                "objectType": row.item.object_type,
                "objectId": row.item.object_id,
                "annotatorId": row.user_id,
                "annotatorEmail": row.email,
                "status": row.state,
                "completedAt": _iso(row.completed_at),
                "secondsSpent": row.seconds_spent,
            }
            for name in names:
                record[name] = row.values.get(name)
                record[f"{name} comment"] = row.comments.get(name)
            if fmt == "csv":
                writer.writerow(["" if record[c] is None else record[c] for c in columns])
            else:
                buffer.write(json.dumps(record, ensure_ascii=False) + "\n")
            if buffer.tell() > _FLUSH_BYTES:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()
