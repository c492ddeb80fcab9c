"""The ingestion write path: full rows to the database in one driver-level executemany.

Ingestion writes thousands of rows per request, and SQLAlchemy's per-value bind processing
(a JSON serializer and a timezone conversion per value, an ORM bookkeeping pass per row) cost
more than the database's own work. Here each value is converted once, in Python, into what the
driver takes as is, and the rows go to `cursor.executemany` through `exec_driver_sql`:

- JSON columns: the JSON text (compact, UTF-8, non-finite floats as strings, unknown types as
  `str()`); Python None is stored as JSON `null`, as SQLAlchemy's JSON type does. The text of
  a value is computed once per batch (`JsonCache`), so a size check, a root observation's input
  copied onto its trace, and the insert share one encoding.
- Timestamps: aware UTC. SQLite gets the naive UTC text SQLAlchemy's DATETIME writes
  (`YYYY-MM-DD HH:MM:SS.ffffff`), so reads through the models see no difference.

The statements are `INSERT ... ON CONFLICT (primary key) DO UPDATE` (or DO NOTHING), built from
the models' columns, so one statement stores new rows and replaces merged existing ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Boolean, inspect
from sqlalchemy.orm import Session

from tracemark.db.base import UTCDateTime

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))
_encode = _ENCODER.encode


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def encode_json(value: Any) -> str:
    """JSON text for storage (as `db.engine.dump_json` stores it, without the spaces)."""
    try:
        return _encode(value)
    except ValueError:  # NaN or Infinity: PostgreSQL JSONB rejects them
        return _encode(_finite(value))


class JsonCache:
    """Encodes each JSON value of a batch once, however many rows or checks use it."""

    __slots__ = ("_texts",)

    def __init__(self) -> None:
        # id -> (value, text): the value is kept so that its id is not reused meanwhile.
        self._texts: dict[int, tuple[Any, str]] = {}

    def text(self, value: Any) -> str:
        if value is None:
            return "null"
        hit = self._texts.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        out = encode_json(value)
        self._texts[id(value)] = (value, out)
        return out


def sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores for an aware datetime (naive UTC)."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


_JSON, _DATETIME, _BOOL, _PLAIN = range(4)


class TableWriter:
    """Upserts rows (dicts keyed by model attribute) into one table, for one dialect."""

    def __init__(self, model: type, dialect: str, on_conflict: str) -> None:
        mapper: Any = inspect(model)
        table = mapper.local_table
        self.keys: list[str] = []
        self.kinds: list[int] = []
        columns: list[str] = []
        for attr in mapper.column_attrs:
            column = attr.columns[0]
            self.keys.append(attr.key)
            columns.append(column.name)
            if isinstance(column.type, JSON):
                self.kinds.append(_JSON)
            elif isinstance(column.type, UTCDateTime):
                self.kinds.append(_DATETIME)
            elif isinstance(column.type, Boolean):
                self.kinds.append(_BOOL)
            else:
                self.kinds.append(_PLAIN)
        self.sqlite = dialect == "sqlite"
        if self.sqlite:
            marks = ["?"] * len(columns)
        else:
            marks = ["%s::jsonb" if k == _JSON else "%s" for k in self.kinds]
        pk = [c.name for c in table.primary_key.columns]
        if on_conflict == "update":
            sets = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in pk)
            conflict = f"DO UPDATE SET {sets}"
        else:
            conflict = "DO NOTHING"
        quoted = ", ".join(f'"{c}"' for c in columns)
        keys = ", ".join(f'"{c}"' for c in pk)
        self.sql = (
            f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join(marks)}) '
            f"ON CONFLICT ({keys}) {conflict}"
        )

    def encode(self, row: dict[str, Any], json_text: Callable[[Any], str]) -> tuple[Any, ...]:
        out: list[Any] = []
        append = out.append
        sqlite = self.sqlite
        for key, kind in zip(self.keys, self.kinds, strict=True):
            value: Any = row.get(key)
            if kind == _PLAIN or (value is None and kind != _JSON):
                append(value)
            elif kind == _JSON:
                append(json_text(value))
            elif kind == _DATETIME:
                if sqlite:
                    append(sqlite_datetime(value))
                elif value.tzinfo is None:
                    raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
                else:
                    append(value)
            else:
                append(bool(value))
        return tuple(out)

    def write(
        self,
        session: Session,
        rows: Iterable[dict[str, Any]],
        json_text: Callable[[Any], str] | None = None,
    ) -> None:
        encode = self.encode
        text = json_text or encode_json_or_null
        params: Sequence[tuple[Any, ...]] = [encode(row, text) for row in rows]
        if params:
            session.connection().exec_driver_sql(self.sql, params)


def encode_json_or_null(value: Any) -> str:
    return "null" if value is None else encode_json(value)


@cache
def writer(model: type, dialect: str, on_conflict: str = "update") -> TableWriter:
    """The (cached) writer of `model`'s table on `dialect`: "update" or "nothing" on conflict."""
    return TableWriter(model, dialect, on_conflict)
