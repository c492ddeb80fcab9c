"""Judge calibration: how well an automated score (EVAL or API) agrees with human annotation.

Pairs match the judge's scores with the ANNOTATION scores of one score config on the same
target (trace, observation or session); `calibration_pairs` reads both and forms them. Where
several people scored a target their consensus stands for the humans: the majority label for
CATEGORICAL and BOOLEAN (a tie has no majority: the target is left out and counted in
`tied_targets`), the median for NUMERIC. Each judge score is one pair, so a judge that
scored a target twice (two evaluator versions, say) gives two pairs. Statistics are computed
with numpy / scipy in `agreement_stats`.

Humans are people: ANNOTATION scores with an author. (ANNOTATION scores sent with a project
API key have no author; they are left out here as in the agreement between annotators.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracemark.db.models import Score, ScoreConfig, ScoreDataType, ScoreSource
from tracemark.services import agreement_stats as st
from tracemark.services import calibration_pairs, score_configs
from tracemark.services.calibration_pairs import (
    CATEGORY_KINDS,
    MICROS_PER_DAY,
    Pairs,
)
from tracemark.services.calibration_pairs import VERSION_KEYS as VERSION_KEYS
from tracemark.services.errors import Invalid, NotFound

JUDGE_SOURCES = (ScoreSource.EVAL.value, ScoreSource.API.value)
MAX_DISAGREEMENTS = 500
MAX_WEIGHTED_SCALE = 21  # integer points on a scale for weighted kappa (e.g. 0..20)
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


def _class_labels(config: ScoreConfig, pairs: Pairs) -> list[str]:
    if config.data_type == ScoreDataType.BOOLEAN.value:
        known = list(BOOLEAN_LABELS)
    else:
        known = [str(c["label"]) for c in config.categories or []]
    codes = np.union1d(pairs.human_values, pairs.judge_values).astype(np.int64)
    seen = {pairs.vocabulary[c] for c in codes}
    extra = sorted(seen - set(known))
    return [label for label in known if label in seen] + extra


def _weeks(micros: np.ndarray) -> np.ndarray:
    days = micros // MICROS_PER_DAY
    return (days - 4) // 7  # weeks since Monday 1970-01-05


def _week_start(week: int) -> date:
    return date(1970, 1, 5) + timedelta(days=int(week) * 7)


def _trend(pairs: Pairs, metric: Any, h: np.ndarray, j: np.ndarray) -> list[TrendPoint]:
    weeks = _weeks(pairs.micros)
    versions = pairs.versions
    groups = weeks * (len(versions) + 1) + pairs.version_codes
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


def _categorical(result: Calibration, pairs: Pairs) -> tuple[np.ndarray, np.ndarray]:
    labels = _class_labels(result.config, pairs)
    if len(labels) < 2:
        raise Invalid(
            f"one category only: all {result.pairs} pairs are {labels[0]!r} on both sides "
            "(agreement 100%); Cohen's kappa is undefined without a second category"
        )
    index = {label: i for i, label in enumerate(labels)}
    remap = np.array([index.get(label, -1) for label in pairs.vocabulary], dtype=np.int64)
    h = remap[pairs.human_values]
    j = remap[pairs.judge_values]
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


def _numeric(result: Calibration, pairs: Pairs) -> None:
    h = pairs.human_values.astype(np.float64)
    j = pairs.judge_values.astype(np.float64)
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
    session: Session, project_id: str, result: Calibration, pairs: Pairs, limit: int
) -> None:
    categorical = result.categorical is not None
    h, j = pairs.human_values, pairs.judge_values
    if categorical:
        values = _category_value(result.config)
        known = np.array([values.get(label, np.nan) for label in pairs.vocabulary])
        severity = np.abs(known[h] - known[j])
        severity[np.isnan(severity)] = 1.0
    else:
        severity = np.abs(j - h)
    wrong = np.flatnonzero(h != j)
    result.disagreement_count = len(wrong)
    # Worst first: the largest gap, then the humans' strongest consensus, then the newest;
    # equal keys keep the pairs' order (a stable sort).
    strength = pairs.votes / pairs.humans
    order = np.lexsort((-pairs.micros[wrong], -strength[wrong], -severity[wrong]))
    found = []
    for i in wrong[order[:limit]].tolist():
        if categorical:
            shown_h, shown_j = pairs.vocabulary[h[i]], pairs.vocabulary[j[i]]
        else:
            shown_h, shown_j = f"{float(h[i]):g}", f"{float(j[i]):g}"
        found.append(
            Disagreement(
                judge_score_id=pairs.judge_ids[i],
                target_key=pairs.target_keys[i],
                human_value=shown_h,
                humans=int(pairs.humans[i]),
                human_votes=int(pairs.votes[i]),
                judge_value=shown_j,
                severity=float(severity[i]),
                timestamp=pairs.timestamp(i),
                version=pairs.version(i),
            )
        )
    shown = found
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
    collected = calibration_pairs.collect(session, project_id, config, req)
    where = " in this time range" if req.from_timestamp or req.to_timestamp else ""
    if collected is None:
        raise Invalid(
            f"no pairs: no {' or '.join(req.judge_sources)} score named "
            f"{req.judge_score_name!r} shares a target with an ANNOTATION score of "
            f"{config.name!r}{where}"
        )
    pairs, kind, several, tied = (
        collected.pairs,
        collected.kind,
        collected.several,
        collected.tied,
    )
    if not len(pairs):
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
        pairs=len(pairs),
        targets=pairs.targets,
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
