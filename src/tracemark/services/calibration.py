"""Judge calibration: how well an automated score (EVAL or API) agrees with human annotation.

Pairs are formed in one set-based query: the judge's scores joined to the ANNOTATION scores of
one score config on the same target (trace, observation or session). Where several people
scored a target their consensus stands for the humans: the majority label for CATEGORICAL and
BOOLEAN (a tie has no majority: the target is left out and counted in `tied_targets`), the
median for NUMERIC. Each judge score is one pair, so a judge that scored a target twice (two
evaluator versions, say) gives two pairs. Statistics are computed with numpy / scipy in
`agreement_stats`.

Humans are people: ANNOTATION scores with an author. (ANNOTATION scores sent with a project
API key have no author; they are left out here as in the agreement between annotators.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from tracemark.db.models import Score, ScoreConfig, ScoreDataType, ScoreSource
from tracemark.services import agreement_stats as st
from tracemark.services import score_configs
from tracemark.services.errors import Invalid, NotFound

JUDGE_SOURCES = (ScoreSource.EVAL.value, ScoreSource.API.value)
# The evaluator version of a judge score: metadata.evaluatorVersion, else metadata.version.
VERSION_KEYS = ("evaluatorVersion", "version")
MAX_DISAGREEMENTS = 500
MAX_WEIGHTED_SCALE = 21  # integer points on a scale for weighted kappa (e.g. 0..20)
CATEGORY_KINDS = (ScoreDataType.CATEGORICAL.value, ScoreDataType.BOOLEAN.value)
BOOLEAN_LABELS = ("True", "False")


@dataclass(frozen=True)
class CalibrationRequest:
    config_id: str
    judge_score_name: str
    judge_sources: tuple[str, ...] = JUDGE_SOURCES
    from_timestamp: datetime | None = None
    to_timestamp: datetime | None = None
    disagreements_limit: int = 0


@dataclass(frozen=True)
class CategoricalStats:
    agreement: float
    kappa: st.Kappa | None
    labels: list[str]
    matrix: list[list[int]]  # rows: human consensus; columns: judge
    classes: list[st.ClassScore]


@dataclass(frozen=True)
class NumericStats:
    pearson: float | None
    spearman: float | None
    mean_absolute_error: float
    bias: float  # judge mean minus human mean
    human_mean: float
    judge_mean: float
    weighted_kappa: float | None
    weighted_kappa_scale: list[float] | None


@dataclass(frozen=True)
class TrendPoint:
    week_start: date
    version: str | None
    pairs: int
    value: float | None


@dataclass
class Disagreement:
    judge_score_id: str
    target_key: str
    human_value: str
    humans: int
    human_votes: int  # how many humans gave the consensus (categorical) or scored (numeric)
    judge_value: str
    severity: float
    timestamp: datetime
    version: str | None
    object_type: str = ""
    object_id: str = ""
    trace_id: str | None = None
    judge_comment: str | None = None


@dataclass
class Calibration:
    config: ScoreConfig
    judge_score_name: str
    judge_sources: tuple[str, ...]
    judge_data_type: str
    pairs: int
    targets: int
    targets_with_several_humans: int
    tied_targets: int
    consensus: str
    trend_metric: str
    categorical: CategoricalStats | None = None
    numeric: NumericStats | None = None
    trend: list[TrendPoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    disagreement_count: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)


def _config(session: Session, project_id: str, config_id: str) -> ScoreConfig:
    try:
        config = score_configs.get(session, project_id, config_id)
    except NotFound:
        raise Invalid(f"configId: no score config {config_id!r} in this project") from None
    if config.data_type == ScoreDataType.TEXT.value:
        raise Invalid(
            f"configId: {config.name!r} is a TEXT config; calibration needs a NUMERIC, "
            "CATEGORICAL or BOOLEAN one"
        )
    return config


def check_request(req: CalibrationRequest) -> None:
    if not req.judge_score_name:
        raise Invalid("judgeScoreName: required (the name of the EVAL or API score)")
    bad = [s for s in req.judge_sources if s not in JUDGE_SOURCES]
    if bad or not req.judge_sources:
        raise Invalid(f"judgeSource: must be EVAL or API, got {', '.join(bad) or 'nothing'}")
    if not 0 <= req.disagreements_limit <= MAX_DISAGREEMENTS:
        raise Invalid(f"limit: must be between 0 and {MAX_DISAGREEMENTS}")
    if req.from_timestamp and req.to_timestamp and req.from_timestamp > req.to_timestamp:
        raise Invalid("fromTimestamp: must not be after toTimestamp")


def _pair_rows(session: Session, project_id: str, config: ScoreConfig, req: CalibrationRequest):  # type: ignore[no-untyped-def]
    judge = aliased(Score)
    human = aliased(Score)
    version = func.coalesce(*(judge.metadata_[key].as_string() for key in VERSION_KEYS))
    stmt = (
        select(
            judge.id,
            judge.target_key,
            judge.value,
            judge.string_value,
            judge.data_type,
            judge.timestamp,
            version,
            human.id,
            human.value,
            human.string_value,
        )
        .join(
            human,
            and_(human.project_id == judge.project_id, human.target_key == judge.target_key),
        )
        .where(
            judge.project_id == project_id,
            judge.name == req.judge_score_name,
            judge.source.in_(req.judge_sources),
            human.config_id == config.id,
            # Spelled as the partial unique index's condition (literal, not a parameter) so
            # that SQLite finds each target's human scores through that index.
            human.source == literal_column("'ANNOTATION'"),
            human.author_user_id.is_not(None),
        )
    )
    if req.from_timestamp is not None:
        stmt = stmt.where(judge.timestamp >= req.from_timestamp)
    if req.to_timestamp is not None:
        stmt = stmt.where(judge.timestamp < req.to_timestamp)
    return session.execute(stmt).all()


@dataclass
class _Pairs:
    judge_ids: list[str]
    target_keys: list[str]
    judge_values: list[Any]  # labels or floats
    timestamps: list[datetime]
    versions: list[str | None]
    human_values: list[Any]
    humans: list[int]
    votes: list[int]


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


def _label_of(config: ScoreConfig, value: float | None, string: str | None) -> str | None:
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


def _collect(config: ScoreConfig, rows: Sequence[Any]) -> tuple[_Pairs, str, int, int]:
    categorical = config.data_type in CATEGORY_KINDS
    judges: dict[str, tuple[str, float | None, str | None, datetime, Any]] = {}
    humans: dict[str, dict[str, Any]] = {}
    kinds: set[str] = set()
    judge_numbers: set[float] = set()
    for jid, tkey, jval, jstr, jkind, ts, ver, hid, hval, hstr in rows:
        if jid not in judges:
            judges[jid] = (tkey, jval, jstr, ts, ver)
            kinds.add(jkind)
            if jval is not None and len(judge_numbers) < 3:
                judge_numbers.add(jval)
        value = _label_of(config, hval, hstr) if categorical else hval
        if value is not None:
            humans.setdefault(tkey, {})[hid] = value
    kind = _judge_kind(config, kinds, judge_numbers)
    consensus: dict[str, tuple[Any, int, int]] = {}  # target -> value, humans, votes
    tied = 0
    for tkey, by_score in humans.items():
        values = list(by_score.values())
        if categorical:
            winner = st.majority(values)
            if winner is None:
                tied += 1
                continue
            consensus[tkey] = (winner, len(values), values.count(winner))
        else:
            consensus[tkey] = (st.median(values), len(values), len(values))
    several = sum(1 for by_score in humans.values() if len(by_score) >= 2)
    pairs = _Pairs([], [], [], [], [], [], [], [])
    for jid, (tkey, jval, jstr, ts, ver) in judges.items():
        agreed = consensus.get(tkey)
        judge_value = _label_of(config, jval, jstr) if categorical else jval
        if agreed is None or judge_value is None:
            continue
        pairs.judge_ids.append(jid)
        pairs.target_keys.append(tkey)
        pairs.judge_values.append(judge_value)
        pairs.timestamps.append(ts)
        pairs.versions.append(None if ver is None else str(ver))
        pairs.human_values.append(agreed[0])
        pairs.humans.append(agreed[1])
        pairs.votes.append(agreed[2])
    return pairs, kind, several, tied


def _class_labels(config: ScoreConfig, pairs: _Pairs) -> list[str]:
    if config.data_type == ScoreDataType.BOOLEAN.value:
        known = list(BOOLEAN_LABELS)
    else:
        known = [str(c["label"]) for c in config.categories or []]
    seen = set(pairs.human_values) | set(pairs.judge_values)
    extra = sorted(seen - set(known))
    return [label for label in known if label in seen] + extra


def _weeks(timestamps: Sequence[datetime]) -> np.ndarray:
    seconds = np.fromiter((t.timestamp() for t in timestamps), dtype=np.float64)
    days = np.floor(seconds / 86400).astype(np.int64)
    return (days - 4) // 7  # weeks since Monday 1970-01-05


def _week_start(week: int) -> date:
    return date(1970, 1, 5) + timedelta(days=int(week) * 7)


def _trend(pairs: _Pairs, metric: Any, h: np.ndarray, j: np.ndarray) -> list[TrendPoint]:
    weeks = _weeks(pairs.timestamps)
    versions = sorted({v for v in pairs.versions if v is not None})
    code: dict[str | None, int] = {v: i + 1 for i, v in enumerate(versions)}
    version_codes = np.fromiter((code.get(v, 0) for v in pairs.versions), dtype=np.int64)
    groups = weeks * (len(versions) + 1) + version_codes
    out = []
    for group in np.unique(groups):
        mask = groups == group
        week, vcode = divmod(int(group), len(versions) + 1)
        out.append(
            TrendPoint(
                week_start=_week_start(week),
                version=versions[vcode - 1] if vcode else None,
                pairs=int(mask.sum()),
                value=metric(h[mask], j[mask]),
            )
        )
    return out


def _categorical(result: Calibration, pairs: _Pairs) -> tuple[np.ndarray, np.ndarray]:
    labels = _class_labels(result.config, pairs)
    if len(labels) < 2:
        raise Invalid(
            f"one category only: all {result.pairs} pairs are {labels[0]!r} on both sides "
            "(agreement 100%); Cohen's kappa is undefined without a second category"
        )
    index = {label: i for i, label in enumerate(labels)}
    h = np.fromiter((index[v] for v in pairs.human_values), dtype=np.int64)
    j = np.fromiter((index[v] for v in pairs.judge_values), dtype=np.int64)
    k = len(labels)
    matrix = st.confusion_matrix(h, j, k)
    kappa = st.cohen_kappa(matrix)
    if kappa is None:
        result.notes.append("Cohen's kappa is undefined: chance agreement is 100%.")
    result.categorical = CategoricalStats(
        agreement=float(np.trace(matrix)) / result.pairs,
        kappa=kappa,
        labels=labels,
        matrix=matrix.tolist(),
        classes=st.per_class(matrix, labels),
    )

    def trend_kappa(hh: np.ndarray, jj: np.ndarray) -> float | None:
        found = st.cohen_kappa(st.confusion_matrix(hh, jj, k))
        return None if found is None else found.value

    result.trend = _trend(pairs, trend_kappa, h, j)
    return h, j


def _scale(config: ScoreConfig, h: np.ndarray, j: np.ndarray) -> list[float] | None:
    both = np.concatenate([h, j])
    if not np.all(both == np.round(both)):
        return None
    low = min(float(both.min()), config.min_value if config.min_value is not None else np.inf)
    high = max(float(both.max()), config.max_value if config.max_value is not None else -np.inf)
    if high - low + 1 > MAX_WEIGHTED_SCALE or high == low:
        return None
    return [float(v) for v in range(int(low), int(high) + 1)]


def _numeric(result: Calibration, pairs: _Pairs) -> None:
    h = np.asarray(pairs.human_values, dtype=np.float64)
    j = np.asarray(pairs.judge_values, dtype=np.float64)
    if np.ptp(np.concatenate([h, j])) == 0:
        raise Invalid(
            f"one value only: all {result.pairs} pairs are {h[0]:g} on both sides; "
            "correlation and kappa are undefined without variation"
        )
    scale = _scale(result.config, h, j)
    weighted = None
    if scale is not None:
        low = int(scale[0])
        matrix = st.confusion_matrix(h.astype(np.int64) - low, j.astype(np.int64) - low, len(scale))
        weighted = st.weighted_kappa(matrix, scale)
    else:
        result.notes.append(
            "Weighted kappa needs both sides on one integer scale of at most "
            f"{MAX_WEIGHTED_SCALE} points (a median of two people can fall between points)."
        )
    pearson = st.pearson(h, j)
    if pearson is None:
        result.notes.append("Correlations are undefined: one side has a single value.")
    result.numeric = NumericStats(
        pearson=pearson,
        spearman=st.spearman(h, j),
        mean_absolute_error=float(np.mean(np.abs(j - h))),
        bias=float(j.mean() - h.mean()),
        human_mean=float(h.mean()),
        judge_mean=float(j.mean()),
        weighted_kappa=weighted,
        weighted_kappa_scale=scale if weighted is not None else None,
    )
    result.trend = _trend(pairs, st.pearson, h, j)


def _category_value(config: ScoreConfig) -> dict[str, float]:
    if config.data_type == ScoreDataType.BOOLEAN.value:
        return {"True": 1.0, "False": 0.0}
    return {str(c["label"]): float(c["value"]) for c in config.categories or []}


def _disagreements(
    session: Session, project_id: str, result: Calibration, pairs: _Pairs, limit: int
) -> None:
    categorical = result.categorical is not None
    values = _category_value(result.config)
    found: list[Disagreement] = []
    for i, (hv, jv) in enumerate(zip(pairs.human_values, pairs.judge_values, strict=True)):
        if hv == jv:
            continue
        if categorical:
            known = hv in values and jv in values
            severity = abs(values[str(hv)] - values[str(jv)]) if known else 1.0
            shown_h, shown_j = str(hv), str(jv)
        else:
            severity = abs(float(jv) - float(hv))
            shown_h, shown_j = f"{hv:g}", f"{jv:g}"
        found.append(
            Disagreement(
                judge_score_id=pairs.judge_ids[i],
                target_key=pairs.target_keys[i],
                human_value=shown_h,
                humans=pairs.humans[i],
                human_votes=pairs.votes[i],
                judge_value=shown_j,
                severity=severity,
                timestamp=pairs.timestamps[i],
                version=pairs.versions[i],
            )
        )
    result.disagreement_count = len(found)
    # Worst first: the largest gap, then the humans' strongest consensus, then the newest.
    found.sort(
        key=lambda d: (d.severity, d.human_votes / d.humans, d.timestamp.timestamp()),
        reverse=True,
    )
    shown = found[:limit]
    if shown:
        details = {
            row.id: row
            for row in session.execute(
                select(
                    Score.id, Score.trace_id, Score.observation_id, Score.session_id, Score.comment
                ).where(
                    Score.project_id == project_id,
                    Score.id.in_([d.judge_score_id for d in shown]),
                )
            )
        }
        for d in shown:
            row = details[d.judge_score_id]
            d.trace_id = row.trace_id
            d.judge_comment = row.comment
            if row.session_id is not None:
                d.object_type, d.object_id = "SESSION", row.session_id
            elif row.observation_id is not None:
                d.object_type, d.object_id = "OBSERVATION", row.observation_id
            else:
                d.object_type, d.object_id = "TRACE", row.trace_id or ""
    result.disagreements = shown


def calibrate(session: Session, project_id: str, req: CalibrationRequest) -> Calibration:
    """Pair the judge's scores with the humans' consensus and compute the agreement."""
    check_request(req)
    config = _config(session, project_id, req.config_id)
    rows = _pair_rows(session, project_id, config, req)
    where = " in this time range" if req.from_timestamp or req.to_timestamp else ""
    if not rows:
        raise Invalid(
            f"no pairs: no {' or '.join(req.judge_sources)} score named "
            f"{req.judge_score_name!r} shares a target with an ANNOTATION score of "
            f"{config.name!r}{where}"
        )
    pairs, kind, several, tied = _collect(config, rows)
    if not pairs.judge_ids:
        raise Invalid(
            f"no pairs: the humans' scores are tied on all {tied} matched targets, so none has "
            "a majority label to compare with"
        )
    categorical = config.data_type in CATEGORY_KINDS
    result = Calibration(
        config=config,
        judge_score_name=req.judge_score_name,
        judge_sources=req.judge_sources,
        judge_data_type=kind,
        pairs=len(pairs.judge_ids),
        targets=len(set(pairs.target_keys)),
        targets_with_several_humans=several,
        tied_targets=tied,
        consensus=(
            "majority label of the people who scored the target; a tie has no majority and "
            "the target is left out"
            if categorical
            else "median of the people who scored the target"
        ),
        trend_metric="kappa" if categorical else "pearson",
    )
    if categorical:
        _categorical(result, pairs)
    else:
        _numeric(result, pairs)
    _disagreements(session, project_id, result, pairs, req.disagreements_limit)
    return result


def judge_names(session: Session, project_id: str, limit: int = 200) -> list[str]:
    """Names of the project's EVAL and API scores: the judges one can calibrate."""
    stmt = (
        select(Score.name)
        .where(Score.project_id == project_id, Score.source.in_(JUDGE_SOURCES))
        .distinct()
        .order_by(Score.name)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def calibration_configs(session: Session, project_id: str) -> list[ScoreConfig]:
    """The configs a human dimension can be picked from (all but TEXT), active first."""
    stmt = (
        select(ScoreConfig)
        .where(
            ScoreConfig.project_id == project_id,
            ScoreConfig.data_type != ScoreDataType.TEXT.value,
        )
        .order_by(ScoreConfig.is_archived, ScoreConfig.name_key)
    )
    return list(session.scalars(stmt))
