"""The statistics behind calibration and agreement, against independent references.

References: scikit-learn (Cohen's kappa plain and quadratic-weighted, precision / recall),
numpy (Pearson; Spearman as Pearson of ranks), a bootstrap of scikit-learn's kappa for the
analytic standard error, and Krippendorff's published worked examples of alpha.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from tracemark.services import agreement_stats as st

NAN = float("nan")
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: four observers,
# twelve units, values 1..5, missing values. Published: nominal .743, ordinal .815,
# interval .849.
EXAMPLE_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
# The three-coder, fifteen-unit example of Krippendorff's alpha with missing values (used on
# Wikipedia's page on alpha): nominal 0.691, interval 0.811.
EXAMPLE_15 = [
    [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
    [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
    [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
]


def alpha_of(data: list[list[float]], level: str) -> float | None:
    matrix = np.asarray(data, dtype=float)
    units = [[v for v in matrix[:, u] if not np.isnan(v)] for u in range(matrix.shape[1])]
    domain = sorted({v for unit in units for v in unit})
    return st.krippendorff_alpha(st.value_counts(units, domain), domain, level)


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_alpha_matches_krippendorffs_example_c_with_missing_values(
    level: str, published: float
) -> None:
    value = alpha_of(EXAMPLE_C, level)
    assert value is not None
    assert round(value, 3) == published


@pytest.mark.parametrize(("level", "published"), [("nominal", 0.691), ("interval", 0.811)])
def test_alpha_matches_the_fifteen_unit_example(level: str, published: float) -> None:
    value = alpha_of(EXAMPLE_15, level)
    assert value is not None
    assert round(value, 3) == published


def test_alpha_is_undefined_for_one_value_or_no_overlap() -> None:
    assert alpha_of([[1, 1, 1], [1, 1, NAN]], "nominal") is None  # a single category
    assert alpha_of([[1, NAN], [NAN, 2]], "nominal") is None  # no unit with two values
    assert alpha_of([[1, 2, 2]], "interval") is None  # one annotator


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("classes", [2, 3, 5])
def test_kappa_and_per_class_scores_match_scikit_learn(seed: int, classes: int) -> None:
    rng = np.random.default_rng(seed)
    human = rng.integers(0, classes, 300)
    noise = rng.integers(0, classes, 300)
    judge = np.where(rng.random(300) < 0.7, human, noise)
    matrix = st.confusion_matrix(human, judge, classes)
    kappa = st.cohen_kappa(matrix)
    assert kappa is not None
    assert kappa.value == pytest.approx(cohen_kappa_score(human, judge), abs=1e-12)
    assert kappa.ci_low < kappa.value < kappa.ci_high
    precision, recall, _, _ = precision_recall_fscore_support(
        human, judge, labels=list(range(classes)), zero_division=np.nan
    )
    scores = st.per_class(matrix, [str(c) for c in range(classes)])
    for k, score in enumerate(scores):
        assert score.precision == pytest.approx(precision[k])
        assert score.recall == pytest.approx(recall[k])
        assert score.human_count == int((human == k).sum())


def test_kappa_standard_error_agrees_with_a_bootstrap_of_scikit_learn() -> None:
    rng = np.random.default_rng(11)
    human = rng.integers(0, 3, 500)
    judge = np.where(rng.random(500) < 0.6, human, rng.integers(0, 3, 500))
    kappa = st.cohen_kappa(st.confusion_matrix(human, judge, 3))
    assert kappa is not None
    draws = []
    for _ in range(400):
        pick = rng.integers(0, 500, 500)
        draws.append(cohen_kappa_score(human[pick], judge[pick]))
    bootstrap_se = float(np.std(draws, ddof=1))
    assert kappa.standard_error == pytest.approx(bootstrap_se, rel=0.15)
    assert kappa.ci_high - kappa.ci_low == pytest.approx(2 * 1.959964 * kappa.standard_error)


def test_kappa_is_undefined_for_a_single_category_and_no_pairs() -> None:
    assert st.cohen_kappa(np.array([[7, 0], [0, 0]])) is None
    assert st.cohen_kappa(np.zeros((2, 2), dtype=np.int64)) is None


def test_precision_is_none_for_a_class_the_judge_never_gives() -> None:
    scores = st.per_class(np.array([[3, 0], [2, 0]]), ["yes", "no"])
    assert scores[1].precision is None
    assert scores[1].recall == 0.0


@pytest.mark.parametrize("seed", [4, 5])
def test_weighted_kappa_matches_scikit_learn_quadratic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    human = rng.integers(1, 6, 200)
    judge = np.clip(human + rng.integers(-1, 2, 200), 1, 5)
    scale = [1.0, 2.0, 3.0, 4.0, 5.0]
    matrix = st.confusion_matrix(human - 1, judge - 1, 5)
    expected = cohen_kappa_score(human, judge, labels=[1, 2, 3, 4, 5], weights="quadratic")
    assert st.weighted_kappa(matrix, scale) == pytest.approx(expected, abs=1e-12)


def test_correlations_match_numpy_and_are_none_when_constant() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=100)
    y = x + rng.normal(size=100)
    assert st.pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert st.spearman(x, y) == pytest.approx(np.corrcoef(rankdata(x), rankdata(y))[0, 1])
    assert st.pearson(x, np.ones(100)) is None
    assert st.spearman(np.ones(1), np.ones(1)) is None


def test_majority_has_no_winner_on_a_tie() -> None:
    assert st.majority(["a", "b", "a"]) == "a"
    assert st.majority(["a", "b"]) is None
    assert st.majority(["a"]) == "a"


def test_finite_turns_nan_into_none() -> None:
    assert st.finite(float("nan")) is None
    assert st.finite(float("inf")) is None
    assert st.finite(0.5) == 0.5
