"""Calibration pairs: the judge's scores matched with the humans' consensus on each target.

Two plain reads, no per-row Python objects beyond the driver's tuples: the judge's scores, and
the ANNOTATION scores of the config. They are matched on the target in numpy (sorted target
keys), and each target's consensus is formed with vectorised group operations: counts per
(target, label) for the majority vote, sorted values for the median. See `calibration` for the
rules (a categorical tie has no majority; numeric consensus is the median).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count, repeat
from typing import Any

import numpy as np
from sqlalchemy import Float, String, cast, func, literal_column, select, type_coerce
from sqlalchemy.orm import Session

from tracemark.db.models import Score, ScoreConfig, ScoreDataType
from tracemark.services.errors import Invalid

# The evaluator version of a judge score: metadata.evaluatorVersion, else metadata.version.
VERSION_KEYS = ("evaluatorVersion", "version")
CATEGORY_KINDS = (ScoreDataType.CATEGORICAL.value, ScoreDataType.BOOLEAN.value)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS_PER_DAY = 86_400_000_000


@dataclass
class Pairs:
    """One entry per pair, in arrays. Categorical values are codes into `vocabulary`."""

    judge_ids: list[str]
    target_keys: list[str]
    judge_values: np.ndarray  # label codes (int64) or floats
    human_values: np.ndarray
    vocabulary: list[str]
    micros: np.ndarray  # judge timestamp, microseconds since the epoch (int64)
    version_codes: np.ndarray  # index into `versions` + 1; 0 = no version
    versions: list[str]  # sorted
    humans: np.ndarray
    votes: np.ndarray
    targets: int

    def __len__(self) -> int:
        return len(self.judge_ids)

    def timestamp(self, i: int) -> datetime:
        return EPOCH + timedelta(microseconds=int(self.micros[i]))

    def version(self, i: int) -> str | None:
        code = int(self.version_codes[i])
        return self.versions[code - 1] if code else None


@dataclass
class Collected:
    pairs: Pairs
    kind: str
    several: int
    tied: int


def label_of(config: ScoreConfig, value: float | None, string: str | None) -> str | None:
    if config.data_type == ScoreDataType.BOOLEAN.value:
        if value is None:
            return string
        return "True" if value == 1.0 else "False"
    if string is not None:
        return string
    for category in config.categories or []:
        if value is not None and float(category["value"]) == value:
            return str(category["label"])
    return None if value is None else f"{value:g}"


def _judge_kind(config: ScoreConfig, kinds: set[str], judge_numbers: set[float]) -> str:
    names = ", ".join(sorted(kinds))
    if len(kinds) > 1:
        raise Invalid(
            f"mixed data types: the judge's scores have several data types ({names}); "
            "calibrate one data type at a time"
        )
    kind = next(iter(kinds))
    human = config.data_type
    compatible = kind == human or (
        (human == ScoreDataType.BOOLEAN.value and kind == ScoreDataType.NUMERIC.value)
        and judge_numbers <= {0.0, 1.0}
    )
    if not compatible:
        raise Invalid(
            f"mixed data types: the human config {config.name!r} is {human} but the judge's "
            f"scores are {kind}; pick a judge score of the same data type"
        )
    return kind


def _stamp(session: Session, column: Any) -> Any:
    """The timestamp as the driver gives it cheapest: SQLite's stored text, PG's epoch."""
    if session.get_bind().dialect.name == "sqlite":
        return type_coerce(column, String)
    return cast(func.extract("epoch", column), Float)


def _micros(session: Session, stamps: Sequence[Any]) -> np.ndarray:
    if not stamps:
        return np.zeros(0, dtype=np.int64)
    if session.get_bind().dialect.name == "sqlite":
        # Stored as naive UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]"; numpy parses it in C.
        return np.array(stamps, dtype="datetime64[us]").astype(np.int64)
    return np.round(np.asarray(stamps, dtype=np.float64) * 1e6).astype(np.int64)


def _fetch(session: Session, stmt: Any) -> list[Any]:
    """The driver's own tuples: Core execution on the session's connection, read from the DBAPI
    cursor (no ORM loading, no Row objects; the selected columns need no type conversion)."""
    result = session.connection().execute(stmt)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _judge_rows(session: Session, project_id: str, req: Any) -> list[Any]:
    version = func.coalesce(*(Score.metadata_[key].as_string() for key in VERSION_KEYS))
    conditions = [
        Score.project_id == project_id,
        Score.name == req.judge_score_name,
        Score.source.in_(req.judge_sources),
    ]
    if req.from_timestamp is not None:
        conditions.append(Score.timestamp >= req.from_timestamp)
    if req.to_timestamp is not None:
        conditions.append(Score.timestamp < req.to_timestamp)
    columns = (
        Score.id,
        Score.target_key,
        Score.value,
        Score.string_value,
        Score.data_type,
        _stamp(session, Score.timestamp),
        version,
    )
    if session.get_bind().dialect.name == "sqlite":
        # The judge's rows in table order: SQLite collects their rowids from an index, then
        # reads the table once front to back instead of jumping to each row in index order
        # (page by page through a table larger than its cache, that cost a third more CPU).
        # PostgreSQL's bitmap heap scan already reads its pages in order.
        rowid: Any = literal_column("rowid")
        found = select(rowid).select_from(Score.__table__).where(*conditions)
        return _fetch(session, select(*columns).where(literal_column("scores.rowid").in_(found)))
    return _fetch(session, select(*columns).where(*conditions))


def _human_rows(session: Session, project_id: str, config: ScoreConfig) -> list[Any]:
    stmt = select(Score.target_key, Score.value, Score.string_value).where(
        Score.project_id == project_id,
        Score.config_id == config.id,
        # Spelled as the partial indexes' condition (literal, not a parameter) so that SQLite
        # reads the humans' scores from the covering index ix_scores_human_values.
        Score.source == literal_column("'ANNOTATION'"),
        Score.author_user_id.is_not(None),
    )
    return _fetch(session, stmt)


class _Labels:
    """Label codes for (value, string) pairs, computed once per distinct pair."""

    def __init__(self, config: ScoreConfig) -> None:
        self.config = config
        self.vocabulary: list[str] = []
        self._codes: dict[str, int] = {}
        self._seen: dict[tuple[Any, Any], int] = {}

    def codes(self, values: Sequence[Any], strings: Sequence[Any]) -> np.ndarray:
        seen = self._seen
        for key in set(zip(values, strings, strict=True)) - seen.keys():
            label = label_of(self.config, key[0], key[1])
            if label is None:
                seen[key] = -1
                continue
            if label not in self._codes:
                self._codes[label] = len(self.vocabulary)
                self.vocabulary.append(label)
            seen[key] = self._codes[label]
        found = map(seen.__getitem__, zip(values, strings, strict=True))
        return np.fromiter(found, dtype=np.int64, count=len(values))


def _floats(values: Any) -> np.ndarray:
    return np.array(values, dtype=np.float64)  # None becomes NaN


def _version_codes(found: Sequence[Any]) -> tuple[np.ndarray, list[str]]:
    distinct = set(found)
    names = sorted({str(v) for v in distinct if v is not None})
    position = {name: i + 1 for i, name in enumerate(names)}
    code = {v: 0 if v is None else position[str(v)] for v in distinct}
    return np.fromiter(map(code.__getitem__, found), np.int64, count=len(found)), names


def _columns(rows: list[Any], width: int) -> list[np.ndarray]:
    """The rows' columns as object arrays: one 2-D array built in C, sliced (no per-row Python)."""
    table = np.empty((len(rows), width), dtype=object)
    table[:] = rows
    return [table[:, k] for k in range(width)]


def collect(session: Session, project_id: str, config: ScoreConfig, req: Any) -> Collected | None:
    """The pairs, or None when no judge score shares a target with a human of the config."""
    categorical = config.data_type in CATEGORY_KINDS
    human_rows = _human_rows(session, project_id, config)
    judge_rows = _judge_rows(session, project_id, req)
    if not human_rows or not judge_rows:
        return None
    h_keys, h_vals, h_strs = (column.tolist() for column in _columns(human_rows, 3))
    j_ids, j_keys, j_vals, j_strs, j_kinds, j_stamps, j_vers = _columns(judge_rows, 7)
    # Targets: the humans' distinct target keys, numbered in order of appearance (dict and map
    # calls run in C: no Python-level loop over the rows).
    number = dict(zip(dict.fromkeys(h_keys), count(), strict=False))
    h_target = np.fromiter(map(number.__getitem__, h_keys), dtype=np.int64, count=len(h_keys))
    targets = len(number)
    j_target = np.fromiter(
        map(number.get, j_keys.tolist(), repeat(-1)), dtype=np.int64, count=len(j_keys)
    )
    j_index = np.flatnonzero(j_target >= 0)
    if not len(j_index):
        return None
    j_target = j_target[j_index]
    kinds = set(j_kinds[j_index].tolist())
    j_float = _floats(j_vals)[j_index]
    numbers = set(np.unique(j_float[~np.isnan(j_float)]).tolist())
    kind = _judge_kind(config, kinds, numbers)

    # Humans count only on targets the judge scored (in the time range).
    judged = np.zeros(targets, dtype=bool)
    judged[j_target] = True
    labels = _Labels(config)
    if categorical:
        h_code = labels.codes(h_vals, h_strs)
        keep = judged[h_target] & (h_code >= 0)
        j_value: np.ndarray = labels.codes(j_vals[j_index].tolist(), j_strs[j_index].tolist())
        width = max(len(labels.vocabulary), 1)
        counts = np.bincount(
            h_target[keep] * width + h_code[keep], minlength=targets * width
        ).reshape(targets, width)
        humans = counts.sum(axis=1)
        top = counts.max(axis=1)
        winners = (counts == top[:, None]).sum(axis=1)
        scored = humans > 0
        tied = int((scored & (winners > 1)).sum())
        agreed = scored & (winners == 1)
        consensus: np.ndarray = counts.argmax(axis=1)
        votes = top
        usable = agreed[j_target] & (j_value >= 0)
    else:
        h_float = _floats(h_vals)
        keep = judged[h_target] & ~np.isnan(h_float)
        t, v = h_target[keep], h_float[keep]
        order = np.lexsort((v, t))
        t, v = t[order], v[order]
        humans = np.bincount(t, minlength=targets)
        starts = np.cumsum(humans) - humans
        scored = humans > 0
        consensus = np.full(targets, np.nan)
        n, s = humans[scored], starts[scored]
        consensus[scored] = (v[s + (n - 1) // 2] + v[s + n // 2]) / 2
        votes = humans
        tied = 0
        j_value = j_float
        usable = scored[j_target] & ~np.isnan(j_value)
    several = int((humans >= 2).sum())
    pick = j_index[usable]
    pair_targets = j_target[usable]
    version_codes, versions = _version_codes(j_vers[pick].tolist())
    pairs = Pairs(
        judge_ids=j_ids[pick].tolist(),
        target_keys=j_keys[pick].tolist(),
        judge_values=j_value[usable],
        human_values=consensus[pair_targets],
        vocabulary=labels.vocabulary,
        micros=_micros(session, j_stamps[pick].tolist()),
        version_codes=version_codes,
        versions=versions,
        humans=humans[pair_targets],
        votes=votes[pair_targets],
        targets=len(np.unique(pair_targets)),
    )
    return Collected(pairs, kind, several, tied)
