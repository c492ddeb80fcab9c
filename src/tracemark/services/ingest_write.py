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

On SQLite the rows go to `executemany` (one statement run per row, all inside the library). On
PostgreSQL that would be one statement execution per row on the server; instead the rows go as
one array per column to a single `INSERT ... SELECT * FROM unnest(...)`: one round trip, one
execution, several times less server CPU. Arrays are typed by the column's base type (`text`,
not `varchar(n)`, whose explicit cast would silently truncate), so the insert's own assignment
casts still refuse values that are too long or out of range, as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Numeric,
    Select,
    String,
    any_,
    bindparam,
    func,
    inspect,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from tracemark.db.base import UTCDateTime
from tracemark.db.engine import finite_json

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))
_encode = _ENCODER.encode
# datetime, dataclass: as `str()` (the `default`), as the standard library encoder does.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _encode_stdlib(value: Any) -> str:
    try:
        return _encode(value)
    except ValueError:  # NaN or Infinity: PostgreSQL JSONB rejects them
        return _encode(finite_json(value))


def encode_json(value: Any) -> str:
    """JSON text for storage (what `db.engine.dump_json` stores, without the spaces).

    orjson is 10 to 15 times faster than the standard library on chat messages. It writes NaN
    and Infinity as null, so a text holding "null" is encoded again by the standard library,
    which keeps them as strings; so are values orjson refuses (integers beyond 64 bits,
    non-string keys, nesting deeper than 255).
    """
    try:
        out = orjson.dumps(value, default=str, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return _encode_stdlib(value)
    if b"null" in out:
        return _encode_stdlib(value)
    return out.decode()


class JsonCache:
    """Remembers the JSON text of the large values a batch checks the size of.

    The size check (truncation of huge inputs) and the insert then share one encoding.
    """

    __slots__ = ("_texts",)

    def __init__(self) -> None:
        # id -> (value, text): the value is kept so that its id is not reused meanwhile.
        self._texts: dict[int, tuple[Any, str]] = {}

    def remember(self, value: Any) -> str:
        out = encode_json(value)
        self._texts[id(value)] = (value, out)
        return out

    def text(self, value: Any) -> str:
        if value is None:
            return "null"
        hit = self._texts.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        return encode_json(value)


def sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores for an aware datetime (naive UTC)."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
    # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" without its offset.
    return value.isoformat(" ", "microseconds")[:26]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
    return value


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
        self._get = itemgetter(*self.keys)
        self._json = [i for i, k in enumerate(self.kinds) if k == _JSON]
        self._datetimes = [i for i, k in enumerate(self.kinds) if k == _DATETIME]
        self._bools = [i for i, k in enumerate(self.kinds) if k == _BOOL]
        pk = [c.name for c in table.primary_key.columns]
        self._pk_positions = [columns.index(c) for c in pk]
        self.update = on_conflict == "update"
        if on_conflict == "update":
            sets = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in pk)
            conflict = f"DO UPDATE SET {sets}"
        else:
            conflict = "DO NOTHING"
        quoted = ", ".join(f'"{c}"' for c in columns)
        keys = ", ".join(f'"{c}"' for c in pk)
        if self.sqlite:
            source = f"VALUES ({', '.join(['?'] * len(columns))})"
        else:
            arrays = ", ".join(
                f"CAST(%b AS {_pg_array_type(attr.columns[0].type)}[])"
                for attr in mapper.column_attrs
            )
            source = f"SELECT * FROM unnest({arrays})"
        self.sql = f'INSERT INTO "{table.name}" ({quoted}) {source} ON CONFLICT ({keys}) {conflict}'

    def encode(
        self,
        row: dict[str, Any],
        json_text: Callable[[Any], str],
        moments: dict[datetime, Any],
    ) -> tuple[Any, ...]:
        try:
            values = list(self._get(row))
        except KeyError:
            values = [row.get(key) for key in self.keys]
        for i in self._json:
            values[i] = json_text(values[i])
        convert = sqlite_datetime if self.sqlite else _aware
        for i in self._datetimes:
            value = values[i]
            if value is not None:
                # Rows of a batch share their created/updated time: convert it once.
                text = moments.get(value)
                if text is None:
                    text = moments[value] = convert(value)
                values[i] = text
        for i in self._bools:
            value = values[i]
            if value is not None and type(value) is not bool:
                values[i] = bool(value)
        return tuple(values)

    def write(
        self,
        session: Session,
        rows: Iterable[dict[str, Any]],
        json_text: Callable[[Any], str] | None = None,
    ) -> None:
        encode = self.encode
        text = json_text or encode_json_or_null
        moments: dict[datetime, Any] = {}
        self.write_values(session, [encode(row, text, moments) for row in rows])

    def write_values(self, session: Session, params: Sequence[tuple[Any, ...]]) -> None:
        """Upsert rows already turned into driver values (`encode`)."""
        if not params:
            return
        if self.sqlite:
            session.connection().exec_driver_sql(self.sql, params)
            return
        if self.update and len(params) > 1:
            # One statement may not update a row twice: the last of a key wins, as it did when
            # the rows were upserted one after the other.
            positions = self._pk_positions
            params = list({tuple(p[i] for i in positions): p for p in params}.values())
        columns = tuple(list(column) for column in zip(*params, strict=True))
        session.connection().exec_driver_sql(self.sql, columns)


def _pg_array_type(column_type: Any) -> str:
    """The element type of the array a column's values are sent in, on PostgreSQL."""
    if isinstance(column_type, JSON) or getattr(column_type, "_variant_mapping", None):
        return "jsonb"
    if isinstance(column_type, UTCDateTime):
        return "timestamptz"
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, Integer | BigInteger):
        return "bigint"
    if isinstance(column_type, Float):
        return "double precision"
    if isinstance(column_type, Numeric):
        return "numeric"
    if isinstance(column_type, String):
        return "text"
    raise TypeError(f"no PostgreSQL array type for {column_type!r}")


def encode_json_or_null(value: Any) -> str:
    return "null" if value is None else encode_json(value)


@cache
def writer(model: type, dialect: str, on_conflict: str = "update") -> TableWriter:
    """The (cached) writer of `model`'s table on `dialect`: "update" or "nothing" on conflict."""
    return TableWriter(model, dialect, on_conflict)


def ids_in(column: Any, ids: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """`column IN ids` with the ids in one bound parameter: an array on PostgreSQL
    (`= ANY(...)`), an expanding list elsewhere. `column.in_(ids)` would build and coerce one
    SQL literal per id on every call, which costs more than the query itself."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))  # type: ignore[no-any-return]
    return column.in_(bindparam(None, list(ids), expanding=True))  # type: ignore[no-any-return]


def select_by_ids(
    columns: Sequence[Any],
    project_column: Any,
    id_column: Any,
    project_id: str,
    ids: Sequence[str],
    dialect: str,
) -> Select[Any]:
    """`SELECT columns WHERE project = project_id AND id IN ids`, as one probe per id.

    On PostgreSQL the ids are joined LATERAL, each a lookup of its own (the LIMIT 1 keeps the
    planner from flattening the subquery into a join it may hash), so the plan does not hang on
    the table's statistics. With `id = ANY(ids)` the planner weighs 500 probes against
    a scan of the project's rows; on a new database (autovacuum analyzes a table only once it
    has grown) it guessed a project to hold 16 rows and scanned all of them: 44 ms per
    512-span export at 11,000 stored observations, growing with the table.
    """
    if dialect != "postgresql":
        return select(*columns).where(project_column == project_id, ids_in(id_column, ids, dialect))
    keys = (
        func.unnest(bindparam(None, list(ids), type_=ARRAY(String)))
        .table_valued("id")
        .render_derived(name="k")
    )
    probe = (
        select(*columns)
        .where(project_column == project_id, id_column == keys.c.id)
        .limit(1)
        .lateral()
    )
    return select(probe).select_from(keys).join(probe, true())


# Statements run by the driver as they are, with the ids as one parameter: an array on
# PostgreSQL, one JSON text for SQLite's json_each. One statement whatever the number of ids,
# where a SQLAlchemy `IN` would compile one parameter per id on every call (which cost more
# than the lookup itself).
_STORED_IDS = {
    # One primary-key probe per id (see select_by_ids).
    "postgresql": "SELECT t.id FROM unnest(CAST(%(ids)s AS text[])) AS k(id) CROSS JOIN LATERAL "
    '(SELECT id FROM "{table}" WHERE project_id = %(project)s AND id = k.id LIMIT 1) t',
    "sqlite": 'SELECT id FROM "{table}" WHERE project_id = :project '
    "AND id IN (SELECT value FROM json_each(:ids))",
}
_DELETE_BY_IDS = {
    "postgresql": 'DELETE FROM "{table}" WHERE project_id = %(project)s '
    'AND "{column}" = ANY(CAST(%(ids)s AS text[]))',
    "sqlite": 'DELETE FROM "{table}" WHERE project_id = :project '
    'AND "{column}" IN (SELECT value FROM json_each(:ids))',
}


def _run_with_ids(session: Session, sql: str, project_id: str, ids: Sequence[str]) -> Any:
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql(sql, {"ids": list(ids), "project": project_id})
    params = {"ids": orjson.dumps(list(ids)).decode(), "project": project_id}
    return conn.exec_driver_sql(sql, params)


def stored_ids(session: Session, table: str, project_id: str, ids: Sequence[str]) -> set[str]:
    """Which of `ids` the project's `table` (keyed by project_id, id) holds."""
    if not ids:
        return set()
    sql = _STORED_IDS[session.get_bind().dialect.name].format(table=table)
    return {row[0] for row in _run_with_ids(session, sql, project_id, ids)}


def delete_by_ids(
    session: Session, table: str, column: str, project_id: str, ids: Sequence[str]
) -> None:
    """Delete the project's rows of `table` whose `column` is one of `ids`."""
    if ids:
        sql = _DELETE_BY_IDS[session.get_bind().dialect.name].format(table=table, column=column)
        _run_with_ids(session, sql, project_id, ids)
