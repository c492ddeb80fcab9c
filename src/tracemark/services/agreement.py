"""Agreement between annotators on one score config (optionally within one queue).

Krippendorff's alpha (the `krippendorff` package) at a level of measurement chosen from the
config's data type: nominal for CATEGORICAL and BOOLEAN, interval for NUMERIC; ordinal when
asked. Values are the stored numbers (a category's value, 0/1 for BOOLEAN), so ordinal and
interval follow the order of the categories' values. One annotator's value per item: the
database keeps one ANNOTATION score per person, target and config. Scores without an author
(sent over the API) belong to nobody and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracemark.db.models import Score, ScoreConfig, ScoreDataType, ScoreSource, User
from tracemark.services import agreement_stats as st
from tracemark.services import queues, score_configs
from tracemark.services.errors import Invalid, NotFound

MAX_ITEMS_SHOWN = 200
DEFAULT_LEVEL = {
    ScoreDataType.NUMERIC.value: "interval",
    ScoreDataType.CATEGORICAL.value: "nominal",
    ScoreDataType.BOOLEAN.value: "nominal",
}


@dataclass(frozen=True)
class AgreementRequest:
    config_id: str
    queue_id: str | None = None
    level: str | None = None
    items_limit: int = 20


@dataclass(frozen=True)
class Annotator:
    user_id: str
    name: str
    items: int


@dataclass(frozen=True)
class PairAgreement:
    first: str  # user ids
    second: str
    items: int  # items both scored
    agreement: float | None  # share of those items with the same value
    alpha: float | None  # Krippendorff's alpha of the two alone


@dataclass(frozen=True)
class VersusOthers:
    user_id: str
    items: int  # items this person and at least one other scored, with a consensus
    tied_items: int  # items where the others had no majority (nominal only)
    agreement: float | None  # share of items equal to the others' consensus
    mean_absolute_difference: float | None  # ordinal / interval: |value - others' median|


@dataclass(frozen=True)
class ItemDisagreement:
    target_key: str
    object_type: str
    object_id: str
    trace_id: str | None
    disagreement: float
    values: dict[str, str]  # user id -> value as shown


@dataclass
class Agreement:
    config: ScoreConfig
    queue_id: str | None
    queue_name: str | None
    level: str
    alpha: float
    annotators: list[Annotator]
    items: int  # items with at least one score
    items_with_two_or_more: int
    scores: int
    unattributed_scores: int
    consensus: str
    pairwise: list[PairAgreement] = field(default_factory=list)
    versus_others: list[VersusOthers] = field(default_factory=list)
    most_disagreement: list[ItemDisagreement] = field(default_factory=list)


def _config(session: Session, project_id: str, config_id: str) -> ScoreConfig:
    try:
        config = score_configs.get(session, project_id, config_id)
    except NotFound:
        raise Invalid(f"configId: no score config {config_id!r} in this project") from None
    if config.data_type not in DEFAULT_LEVEL:
        raise Invalid(
            f"configId: {config.name!r} is a {config.data_type} config; agreement needs a "
            "NUMERIC, CATEGORICAL or BOOLEAN one"
        )
    return config


def _level(config: ScoreConfig, level: str | None) -> str:
    if level is None or level == "":
        return DEFAULT_LEVEL[config.data_type]
    if level not in st.LEVELS:
        raise Invalid(f"level: must be one of {', '.join(st.LEVELS)}, got {level!r}")
    return level


def _shown(config: ScoreConfig, value: float) -> str:
    if config.data_type == ScoreDataType.BOOLEAN.value:
        return "True" if value == 1.0 else "False"
    for category in config.categories or []:
        if float(category["value"]) == value:
            return str(category["label"])
    return f"{value:g}"


def _object(
    trace_id: str | None, observation_id: str | None, session_id: str | None
) -> tuple[str, str]:
    if session_id is not None:
        return "SESSION", session_id
    if observation_id is not None:
        return "OBSERVATION", observation_id
    return "TRACE", trace_id or ""


def _counts(matrix: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Units x values counts from an annotators x units matrix (NaN where missing)."""
    counts = np.zeros((matrix.shape[1], domain.size), dtype=np.int64)
    rater, unit = np.nonzero(~np.isnan(matrix))
    np.add.at(counts, (unit, np.searchsorted(domain, matrix[rater, unit])), 1)
    return counts


def _alpha(matrix: np.ndarray, domain: np.ndarray, level: str) -> float | None:
    try:
        return st.krippendorff_alpha(_counts(matrix, domain), domain.tolist(), level)
    except ValueError as exc:
        raise Invalid(f"alpha: {exc}") from None


def _pairwise(
    matrix: np.ndarray, domain: np.ndarray, level: str, ids: list[str]
) -> list[PairAgreement]:
    out = []
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            both = ~np.isnan(matrix[a]) & ~np.isnan(matrix[b])
            n = int(both.sum())
            pair = matrix[[a, b]][:, both]
            out.append(
                PairAgreement(
                    first=ids[a],
                    second=ids[b],
                    items=n,
                    agreement=float(np.mean(pair[0] == pair[1])) if n else None,
                    alpha=_alpha(pair, domain, level) if n else None,
                )
            )
    return out


def _versus_others(
    matrix: np.ndarray, domain: np.ndarray, level: str, ids: list[str]
) -> list[VersusOthers]:
    present = ~np.isnan(matrix)
    counts = _counts(matrix, domain)
    out = []
    for a, user_id in enumerate(ids):
        others = present.sum(axis=0) - present[a]
        mine = present[a] & (others >= 1)
        tied = 0
        if level == "nominal":
            own = np.zeros_like(counts)
            cols = np.nonzero(present[a])[0]
            own[cols, np.searchsorted(domain, matrix[a, cols])] = 1
            rest = (counts - own)[mine]
            top = rest.max(axis=1)
            unique = (rest == top[:, None]).sum(axis=1) == 1
            tied = int((~unique).sum())
            consensus = domain[rest.argmax(axis=1)][unique]
            values = matrix[a][mine][unique]
            diff = None
        else:
            rest_matrix = np.delete(matrix, a, axis=0)[:, mine]
            consensus = np.nanmedian(rest_matrix, axis=0) if rest_matrix.size else np.array([])
            values = matrix[a][mine]
            diff = float(np.mean(np.abs(values - consensus))) if values.size else None
        n = int(values.size)
        out.append(
            VersusOthers(
                user_id=user_id,
                items=n,
                tied_items=tied,
                agreement=float(np.mean(values == consensus)) if n else None,
                mean_absolute_difference=diff,
            )
        )
    return out


def _names(session: Session, user_ids: list[str]) -> dict[str, str]:
    rows = session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
    return {uid: name for uid, name in rows}


def agreement(session: Session, project_id: str, req: AgreementRequest) -> Agreement:
    """Krippendorff's alpha and the agreement tables for one config (and queue)."""
    if not 0 <= req.items_limit <= MAX_ITEMS_SHOWN:
        raise Invalid(f"limit: must be between 0 and {MAX_ITEMS_SHOWN}")
    config = _config(session, project_id, req.config_id)
    level = _level(config, req.level)
    queue_name = None
    if req.queue_id:
        try:
            queue_name = queues.get_queue(session, project_id, req.queue_id).name
        except NotFound:
            raise Invalid(
                f"queueId: no annotation queue {req.queue_id!r} in this project"
            ) from None
    stmt = select(
        Score.target_key,
        Score.author_user_id,
        Score.value,
        Score.data_type,
        Score.trace_id,
        Score.observation_id,
        Score.session_id,
    ).where(
        Score.project_id == project_id,
        Score.config_id == config.id,
        Score.source == ScoreSource.ANNOTATION.value,
    )
    if req.queue_id:
        stmt = stmt.where(Score.queue_id == req.queue_id)
    rows = session.execute(stmt).all()
    where = f" in queue {queue_name!r}" if queue_name else ""
    if not rows:
        raise Invalid(f"no scores: nobody has scored {config.name!r}{where} yet")
    kinds = {r.data_type for r in rows}
    if kinds != {config.data_type}:
        raise Invalid(
            f"mixed data types: the scores of {config.name!r} have data types "
            f"{', '.join(sorted(kinds))}; agreement needs one"
        )
    attributed = [r for r in rows if r.author_user_id is not None and r.value is not None]
    annotator_ids = sorted({r.author_user_id for r in attributed})
    if len(annotator_ids) < 2:
        raise Invalid(
            f"one annotator: only {len(annotator_ids)} person has scored {config.name!r}{where}; "
            "agreement needs at least two"
        )
    targets: dict[str, int] = {}
    links: list[tuple[str, str, str | None]] = []
    for r in attributed:
        if r.target_key not in targets:
            targets[r.target_key] = len(targets)
            links.append((*_object(r.trace_id, r.observation_id, r.session_id), r.trace_id))
    rater = {uid: i for i, uid in enumerate(annotator_ids)}
    matrix = np.full((len(annotator_ids), len(targets)), np.nan)
    for r in attributed:
        matrix[rater[r.author_user_id], targets[r.target_key]] = r.value
    present = ~np.isnan(matrix)
    per_item = present.sum(axis=0)
    several = int((per_item >= 2).sum())
    if several == 0:
        raise Invalid(
            f"no overlap: no item{where} has scores of {config.name!r} from two or more "
            "annotators; set the queue's annotators per item to 2 or more"
        )
    domain = np.unique(matrix[present])
    shared = per_item >= 2
    if np.unique(matrix[:, shared][present[:, shared]]).size < 2:
        value = _shown(config, float(matrix[:, shared][present[:, shared]][0]))
        raise Invalid(
            f"one category only: on all {several} items with two or more annotators every "
            f"score is {value!r} (agreement 100%); alpha is undefined without variation"
        )
    alpha = _alpha(matrix, domain, level)
    if alpha is None:
        raise Invalid("alpha is undefined for these scores (no variation between values)")
    names = _names(session, annotator_ids)
    keys = list(targets)
    scored = [
        (i, st.pair_disagreement(matrix[present[:, i], i], level)) for i in np.nonzero(shared)[0]
    ]
    scored.sort(key=lambda pair: pair[1], reverse=True)
    worst = []
    for i, score in scored[: req.items_limit]:
        if score <= 0:
            break
        object_type, object_id, trace_id = links[i]
        worst.append(
            ItemDisagreement(
                target_key=keys[i],
                object_type=object_type,
                object_id=object_id,
                trace_id=trace_id,
                disagreement=score,
                values={
                    annotator_ids[a]: _shown(config, float(matrix[a, i]))
                    for a in np.nonzero(present[:, i])[0]
                },
            )
        )
    return Agreement(
        config=config,
        queue_id=req.queue_id or None,
        queue_name=queue_name,
        level=level,
        alpha=alpha,
        annotators=[
            Annotator(uid, names.get(uid, "(deleted user)"), int(present[rater[uid]].sum()))
            for uid in annotator_ids
        ],
        items=len(targets),
        items_with_two_or_more=several,
        scores=len(attributed),
        unattributed_scores=len(rows) - len(attributed),
        consensus=(
            "majority value of the other annotators (a tie has no consensus and is counted "
            "in tiedItems)"
            if level == "nominal"
            else "median of the other annotators' values"
        ),
        pairwise=_pairwise(matrix, domain, level, annotator_ids),
        versus_others=_versus_others(matrix, domain, level, annotator_ids),
        most_disagreement=worst,
    )
