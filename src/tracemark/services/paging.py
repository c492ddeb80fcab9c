"""Counting the rows of a list query without reading them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session


def count_rows(session: Session, stmt: Select[Any]) -> int:
    """COUNT(*) of a SELECT, with the same FROM and WHERE but no columns read and no ORDER BY.

    Counting through a subquery of the full rows makes SQLite read every row's JSON columns;
    this form lets both engines count from an index.
    """
    counted = stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    return int(session.scalar(counted) or 0)
