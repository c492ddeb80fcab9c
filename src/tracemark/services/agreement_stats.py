"""Agreement statistics on numpy arrays, shared by calibration and annotator agreement.

Pure functions: no database, no web. Every result that can be undefined (a constant side, a
single category, too few pairs) is `None`, never NaN, so nothing downstream prints "nan".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import numpy.typing as npt

# scipy.stats.norm.ppf(0.975); scipy and krippendorff are imported where used: importing them
# at start-up doubled the server's start time and memory.
Z_95 = 1.959963984540054
LEVELS = ("nominal", "ordinal", "interval")
Level = Literal["nominal", "ordinal", "interval"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def finite(value: float | np.floating | None) -> float | None:
    """A float, or None for None / NaN / infinity."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def confusion_matrix(human: IntArray, judge: IntArray, classes: int) -> IntArray:
    """Rows: the human class; columns: the judge class."""
    counts = np.bincount(human * classes + judge, minlength=classes * classes)
    return counts.reshape(classes, classes).astype(np.int64)


@dataclass(frozen=True)
class Kappa:
    value: float
    standard_error: float
    ci_low: float
    ci_high: float


def cohen_kappa(matrix: IntArray) -> Kappa | None:
    """Cohen's kappa of a confusion matrix, with a 95% CI from its large-sample standard error.

    The standard error is the Fleiss, Cohen & Everitt (1969) asymptotic one (the one most
    statistics packages report). None when chance agreement is 1 (a single category on both
    sides) or there are no pairs.
    """
    n = float(matrix.sum())
    if n == 0:
        return None
    p = matrix / n
    rows = p.sum(axis=1)
    cols = p.sum(axis=0)
    observed = float(np.trace(p))
    expected = float(rows @ cols)
    if expected >= 1.0 - 1e-12:
        return None
    kappa = (observed - expected) / (1.0 - expected)
    diagonal = np.diag(p) * (1.0 - (rows + cols) * (1.0 - kappa)) ** 2
    off = p.copy()
    np.fill_diagonal(off, 0.0)
    # Cell (i, j) off the diagonal weighs (column share of i + row share of j) squared.
    spread = (1.0 - kappa) ** 2 * float((off * (cols[:, None] + rows[None, :]) ** 2).sum())
    correction = (kappa - expected * (1.0 - kappa)) ** 2
    variance = (float(diagonal.sum()) + spread - correction) / (n * (1.0 - expected) ** 2)
    se = math.sqrt(max(variance, 0.0))
    return Kappa(
        value=kappa,
        standard_error=se,
        ci_low=max(-1.0, kappa - Z_95 * se),
        ci_high=min(1.0, kappa + Z_95 * se),
    )


def weighted_kappa(matrix: IntArray, scale: Sequence[float]) -> float | None:
    """Quadratic-weighted kappa over a confusion matrix whose classes are the ordered `scale`."""
    n = float(matrix.sum())
    if n == 0 or len(scale) < 2:
        return None
    values = np.asarray(scale, dtype=np.float64)
    weights = (values[:, None] - values[None, :]) ** 2
    expected = np.outer(matrix.sum(axis=1), matrix.sum(axis=0)) / n
    disagreement_by_chance = float((weights * expected).sum())
    if disagreement_by_chance == 0:
        return None
    return 1.0 - float((weights * matrix).sum()) / disagreement_by_chance


@dataclass(frozen=True)
class ClassScore:
    label: str
    human_count: int
    judge_count: int
    precision: float | None  # of the judge's answers of this class, the share humans agree with
    recall: float | None  # of the humans' answers of this class, the share the judge found


def per_class(matrix: IntArray, labels: Sequence[str]) -> list[ClassScore]:
    out = []
    for k, label in enumerate(labels):
        hit = int(matrix[k, k])
        judged = int(matrix[:, k].sum())
        truth = int(matrix[k, :].sum())
        out.append(
            ClassScore(
                label=label,
                human_count=truth,
                judge_count=judged,
                precision=hit / judged if judged else None,
                recall=hit / truth if truth else None,
            )
        )
    return out


def _constant(values: FloatArray) -> bool:
    return values.size < 2 or bool(np.ptp(values) == 0)


def pearson(x: FloatArray, y: FloatArray) -> float | None:
    if x.size < 2 or _constant(x) or _constant(y):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scipy import stats

        return finite(stats.pearsonr(x, y).statistic)


def spearman(x: FloatArray, y: FloatArray) -> float | None:
    if x.size < 2 or _constant(x) or _constant(y):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scipy import stats

        return finite(stats.spearmanr(x, y).statistic)


def majority(labels: Sequence[str]) -> str | None:
    """The most frequent label, or None when two or more labels share the top count (a tie)."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    top = max(counts.values())
    winners = [label for label, count in counts.items() if count == top]
    return winners[0] if len(winners) == 1 else None


def median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


def value_counts(units: Sequence[Sequence[float]], domain: Sequence[float]) -> IntArray:
    """Units x values matrix: how many annotators gave each value of `domain` to each unit."""
    index = {v: i for i, v in enumerate(domain)}
    counts = np.zeros((len(units), len(domain)), dtype=np.int64)
    for row, unit in enumerate(units):
        for value in unit:
            counts[row, index[value]] += 1
    return counts


# Guard against the library's units x values x values intermediate growing past ~400 MB.
MAX_ALPHA_CELLS = 50_000_000


def krippendorff_alpha(counts: IntArray, domain: Sequence[float], level: str) -> float | None:
    """Krippendorff's alpha from a units x values count matrix (units with < 2 values ignored).

    None when undefined: fewer than two distinct values, or no unit with two values.
    """
    pairable = counts[counts.sum(axis=1) >= 2]
    if pairable.shape[0] == 0 or len(domain) < 2:
        return None
    used = pairable.sum(axis=0) > 0
    if int(used.sum()) < 2:
        return None
    if level == "nominal":
        # Unused values change nothing for nominal alpha; dropping them keeps the matrix small.
        pairable = pairable[:, used]
        domain = [v for v, keep in zip(domain, used, strict=True) if keep]
    if pairable.shape[0] * len(domain) ** 2 > MAX_ALPHA_CELLS:
        raise ValueError(
            f"too many distinct values ({len(domain)}) for alpha over {pairable.shape[0]} items"
        )
    import krippendorff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = krippendorff.alpha(
            value_counts=pairable,
            value_domain=np.asarray(domain, dtype=np.float64),
            level_of_measurement=cast(Level, level),
        )
    return finite(value)


def pair_disagreement(values: Sequence[float], level: str) -> float:
    """Mean disagreement over all pairs of values given to one unit.

    Nominal: the share of pairs that differ. Ordinal / interval: the mean absolute difference.
    """
    arr = np.asarray(values, dtype=np.float64)
    i, j = np.triu_indices(arr.size, k=1)
    if i.size == 0:
        return 0.0
    if level == "nominal":
        return float(np.mean(arr[i] != arr[j]))
    return float(np.mean(np.abs(arr[i] - arr[j])))
