"""Paging helpers: counting a list query's rows, and keyset cursors (time, id)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from tracemark.services.errors import Invalid


def count_rows(session: Session, stmt: Select[Any]) -> int:
    """COUNT(*) of a SELECT, with the same FROM and WHERE but no columns read and no ORDER BY.

    Counting through a subquery of the full rows makes SQLite read every row's JSON columns;
    this form lets both engines count from an index.
    """
    counted = stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    return int(session.scalar(counted) or 0)


def encode_cursor(moment: datetime, row_id: str) -> str:
    """An opaque cursor pointing just past the row with this (time, id)."""
    raw = json.dumps([moment.isoformat(), row_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(moment), str(row_id)
    except (ValueError, TypeError):
        raise Invalid("cursor: not a cursor returned by this endpoint") from None


def encode_key(values: list[Any]) -> str:
    """An opaque cursor for any sort key: a list of str, number, datetime or None values."""
    plain = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_key(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        plain = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(plain, list) or len(plain) != size:
            raise ValueError
        values = [datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in plain]
        if not all(v is None or isinstance(v, str | int | float | datetime) for v in values):
            raise ValueError
        return values
    except (ValueError, TypeError, KeyError):
        raise Invalid(
            "cursor: not a page link of this list; start again from the first page"
        ) from None
