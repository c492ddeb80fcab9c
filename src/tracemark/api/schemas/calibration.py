"""Wire shapes of judge calibration and annotator agreement (camelCase, nulls not NaN)."""

from __future__ import annotations

from datetime import date

from tracemark.api.schemas.common import WireModel
from tracemark.api.schemas.tracing import iso
from tracemark.services import agreement as agreement_service
from tracemark.services import calibration as calibration_service
from tracemark.services.agreement_stats import finite


class KappaOut(WireModel):
    value: float
    standard_error: float
    ci_low: float
    ci_high: float
    ci_method: str = "analytic (Fleiss, Cohen & Everitt 1969 large-sample SE), 95%"


class ClassOut(WireModel):
    label: str
    human_count: int
    judge_count: int
    precision: float | None
    recall: float | None


class CategoricalOut(WireModel):
    agreement: float
    kappa: KappaOut | None
    labels: list[str]
    confusion_matrix: list[list[int]]
    per_class: list[ClassOut]


class NumericOut(WireModel):
    pearson: float | None
    spearman: float | None
    mean_absolute_error: float
    bias: float
    human_mean: float
    judge_mean: float
    weighted_kappa: float | None
    weighted_kappa_scale: list[float] | None


class TrendPointOut(WireModel):
    week_start: date
    version: str | None
    pairs: int
    value: float | None


class DisagreementOut(WireModel):
    judge_score_id: str
    object_type: str
    object_id: str
    trace_id: str | None
    human_value: str
    humans: int
    human_votes: int
    judge_value: str
    judge_comment: str | None
    severity: float
    timestamp: str | None
    version: str | None


class CalibrationOut(WireModel):
    config_id: str
    config_name: str
    data_type: str
    judge_score_name: str
    judge_sources: list[str]
    judge_data_type: str
    pairs: int
    targets: int
    targets_with_several_humans: int
    tied_targets: int
    consensus: str
    version_keys: list[str]
    categorical: CategoricalOut | None
    numeric: NumericOut | None
    trend_metric: str
    trend: list[TrendPointOut]
    notes: list[str]
    disagreement_count: int
    disagreements: list[DisagreementOut] | None = None


def calibration_out(
    result: calibration_service.Calibration, *, with_disagreements: bool
) -> CalibrationOut:
    categorical = None
    if result.categorical is not None:
        c = result.categorical
        kappa = (
            KappaOut(
                value=c.kappa.value,
                standard_error=c.kappa.standard_error,
                ci_low=c.kappa.ci_low,
                ci_high=c.kappa.ci_high,
            )
            if c.kappa
            else None
        )
        categorical = CategoricalOut(
            agreement=c.agreement,
            kappa=kappa,
            labels=c.labels,
            confusion_matrix=c.matrix,
            per_class=[
                ClassOut(
                    label=k.label,
                    human_count=k.human_count,
                    judge_count=k.judge_count,
                    precision=k.precision,
                    recall=k.recall,
                )
                for k in c.classes
            ],
        )
    numeric = None
    if result.numeric is not None:
        n = result.numeric
        numeric = NumericOut(
            pearson=finite(n.pearson),
            spearman=finite(n.spearman),
            mean_absolute_error=n.mean_absolute_error,
            bias=n.bias,
            human_mean=n.human_mean,
            judge_mean=n.judge_mean,
            weighted_kappa=finite(n.weighted_kappa),
            weighted_kappa_scale=n.weighted_kappa_scale,
        )
    return CalibrationOut(
        config_id=result.config.id,
        config_name=result.config.name,
        data_type=result.config.data_type,
        judge_score_name=result.judge_score_name,
        judge_sources=list(result.judge_sources),
        judge_data_type=result.judge_data_type,
        pairs=result.pairs,
        targets=result.targets,
        targets_with_several_humans=result.targets_with_several_humans,
        tied_targets=result.tied_targets,
        consensus=result.consensus,
        version_keys=[f"metadata.{k}" for k in calibration_service.VERSION_KEYS],
        categorical=categorical,
        numeric=numeric,
        trend_metric=result.trend_metric,
        trend=[
            TrendPointOut(
                week_start=p.week_start, version=p.version, pairs=p.pairs, value=finite(p.value)
            )
            for p in result.trend
        ],
        notes=result.notes,
        disagreement_count=result.disagreement_count,
        disagreements=(
            [
                DisagreementOut(
                    judge_score_id=d.judge_score_id,
                    object_type=d.object_type,
                    object_id=d.object_id,
                    trace_id=d.trace_id,
                    human_value=d.human_value,
                    humans=d.humans,
                    human_votes=d.human_votes,
                    judge_value=d.judge_value,
                    judge_comment=d.judge_comment,
                    severity=d.severity,
                    timestamp=iso(d.timestamp),
                    version=d.version,
                )
                for d in result.disagreements
            ]
            if with_disagreements
            else None
        ),
    )


class AnnotatorOut(WireModel):
    user_id: str
    name: str
    items: int


class PairOut(WireModel):
    first_user_id: str
    second_user_id: str
    items: int
    agreement: float | None
    alpha: float | None


class VersusOthersOut(WireModel):
    user_id: str
    items: int
    tied_items: int
    agreement: float | None
    mean_absolute_difference: float | None


class ItemOut(WireModel):
    object_type: str
    object_id: str
    trace_id: str | None
    disagreement: float
    values: dict[str, str]


class AgreementOut(WireModel):
    config_id: str
    config_name: str
    data_type: str
    queue_id: str | None
    queue_name: str | None
    level: str
    alpha: float
    items: int
    items_with_two_or_more: int
    scores: int
    unattributed_scores: int
    consensus: str
    annotators: list[AnnotatorOut]
    pairwise: list[PairOut]
    versus_others: list[VersusOthersOut]
    most_disagreement: list[ItemOut]


def agreement_out(result: agreement_service.Agreement) -> AgreementOut:
    return AgreementOut(
        config_id=result.config.id,
        config_name=result.config.name,
        data_type=result.config.data_type,
        queue_id=result.queue_id,
        queue_name=result.queue_name,
        level=result.level,
        alpha=result.alpha,
        items=result.items,
        items_with_two_or_more=result.items_with_two_or_more,
        scores=result.scores,
        unattributed_scores=result.unattributed_scores,
        consensus=result.consensus,
        annotators=[
            AnnotatorOut(user_id=a.user_id, name=a.name, items=a.items) for a in result.annotators
        ],
        pairwise=[
            PairOut(
                first_user_id=p.first,
                second_user_id=p.second,
                items=p.items,
                agreement=finite(p.agreement),
                alpha=finite(p.alpha),
            )
            for p in result.pairwise
        ],
        versus_others=[
            VersusOthersOut(
                user_id=v.user_id,
                items=v.items,
                tied_items=v.tied_items,
                agreement=finite(v.agreement),
                mean_absolute_difference=finite(v.mean_absolute_difference),
            )
            for v in result.versus_others
        ],
        most_disagreement=[
            ItemOut(
                object_type=i.object_type,
                object_id=i.object_id,
                trace_id=i.trace_id,
                disagreement=i.disagreement,
                values=i.values,
            )
            for i in result.most_disagreement
        ],
    )
