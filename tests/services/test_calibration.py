"""Judge calibration on both engines: pairs, consensus, statistics, trend, disagreements."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from tests.calibration_world import (
    CONSENSUS,
    JUDGE,
    JUDGE_SAYS,
    WEEK_A,
    WEEK_B,
    World,
    annotate,
    judge,
    make_world,
    people,
)
from tests.conftest import ProjectFixture, make_project
from tracemark.db.engine import Database
from tracemark.services import calibration, score_configs
from tracemark.services.errors import Invalid


@pytest.fixture
def world(db: Database, project: ProjectFixture) -> World:
    return make_world(db, project)


def run(db: Database, project_id: str, **kw: object) -> calibration.Calibration:
    req = calibration.CalibrationRequest(**kw)  # type: ignore[arg-type]
    with db.read() as session:
        return calibration.calibrate(session, project_id, req)


def test_categorical_calibration_against_scikit_learn(db: Database, world: World) -> None:
    result = run(
        db,
        world.project_id,
        config_id=world.quality,
        judge_score_name=JUDGE,
        judge_sources=("EVAL",),
        disagreements_limit=10,
    )
    assert result.pairs == 8
    assert result.tied_targets == 1  # t3: good vs bad
    assert result.targets_with_several_humans == 4  # t0, t2, t3, t6 (t10 has no judge)
    cat = result.categorical
    assert cat is not None
    assert cat.labels == ["good", "ok", "bad"]
    assert cat.agreement == pytest.approx(5 / 8)
    assert cat.kappa is not None
    assert cat.kappa.value == pytest.approx(cohen_kappa_score(CONSENSUS, JUDGE_SAYS))
    assert cat.kappa.ci_low < cat.kappa.value < cat.kappa.ci_high
    # rows: humans good/ok/bad; columns: judge good/ok/bad
    assert cat.matrix == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]
    good = cat.classes[0]
    assert (good.precision, good.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_disagreements_worst_first_with_targets_and_comments(db: Database, world: World) -> None:
    result = run(
        db,
        world.project_id,
        config_id=world.quality,
        judge_score_name=JUDGE,
        judge_sources=("EVAL",),
        disagreements_limit=10,
    )
    assert result.disagreement_count == 3
    shown = [
        (d.object_type, d.object_id, d.human_value, d.judge_value) for d in result.disagreements
    ]
    # bad vs good is two category steps: worst. Then one step each, newest first.
    assert shown == [
        ("TRACE", "t1", "bad", "good"),
        ("OBSERVATION", "o7", "good", "ok"),
        ("TRACE", "t4", "ok", "bad"),
    ]
    assert result.disagreements[1].trace_id == "t7"
    assert "<script>" in (result.disagreements[0].judge_comment or "")
    limited = run(
        db,
        world.project_id,
        config_id=world.quality,
        judge_score_name=JUDGE,
        judge_sources=("EVAL",),
        disagreements_limit=1,
    )
    assert [d.object_id for d in limited.disagreements] == ["t1"]
    assert limited.disagreement_count == 3


def test_trend_by_week_and_evaluator_version(db: Database, world: World) -> None:
    result = run(
        db,
        world.project_id,
        config_id=world.quality,
        judge_score_name=JUDGE,
        judge_sources=("EVAL",),
    )
    points = {(p.week_start.isoformat(), p.version): p for p in result.trend}
    assert set(points) == {
        ("2026-11-02", "v1"),
        ("2026-11-02", "v2"),
        ("2026-11-09", "v1"),
        ("2026-11-09", "v2"),
    }
    assert [p.pairs for p in points.values()] == [2, 1, 2, 3]
    # Week B, v2: o7 (good/ok), t6 (bad/bad), s8 (bad/bad).
    expected = cohen_kappa_score(["bad", "good", "bad"], ["bad", "ok", "bad"])
    assert points[("2026-11-09", "v2")].value == pytest.approx(expected)
    # Week A, v2 has one pair (ok/ok): kappa undefined, None (never NaN).
    assert points[("2026-11-02", "v2")].value is None


def test_sources_and_time_range_filter_the_pairs(db: Database, world: World) -> None:
    both = run(db, world.project_id, config_id=world.quality, judge_score_name=JUDGE)
    assert both.pairs == 9  # the API score on t2 is a pair of its own
    api = run(
        db,
        world.project_id,
        config_id=world.quality,
        judge_score_name=JUDGE,
        judge_sources=("API",),
    )
    assert api.pairs == 1
    week_b = run(
        db,
        world.project_id,
        config_id=world.quality,
        judge_score_name=JUDGE,
        judge_sources=("EVAL",),
        from_timestamp=WEEK_B - timedelta(days=1),
    )
    assert week_b.pairs == 5  # t4, t5, t6, o7, s8 (t9 has no human)
    assert {p.week_start.isoformat() for p in week_b.trend} == {"2026-11-09"}


def test_numeric_calibration(db: Database, project: ProjectFixture) -> None:
    pid = project.project.id
    with db.write() as session:
        config = score_configs.create(
            session,
            pid,
            {"name": "helpfulness", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
        ).id
    humans = people(db, project, 3)
    human_sets = {"n0": [1, 2, 3], "n1": [2], "n2": [4, 4, 5], "n3": [5], "n4": [3, 3], "n5": [1]}
    judged = {"n0": 2, "n1": 3, "n2": 4, "n3": 4, "n4": 3, "n5": 2}
    for ref, values in human_sets.items():
        for person, value in zip(humans, values, strict=False):
            annotate(db, pid, person, config, ref, value)
        judge(db, pid, ref, judged[ref], WEEK_A, name="judge-help")
    result = run(db, pid, config_id=config, judge_score_name="judge-help")
    h = np.array([2, 2, 4, 5, 3, 1], dtype=float)  # medians
    j = np.array([2, 3, 4, 4, 3, 2], dtype=float)
    num = result.numeric
    assert num is not None and result.categorical is None
    assert result.pairs == 6
    assert num.pearson == pytest.approx(stats.pearsonr(h, j).statistic)
    assert num.spearman == pytest.approx(stats.spearmanr(h, j).statistic)
    assert num.mean_absolute_error == pytest.approx(np.mean(np.abs(j - h)))
    assert num.bias == pytest.approx(j.mean() - h.mean())
    assert num.weighted_kappa_scale == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert num.weighted_kappa == pytest.approx(
        cohen_kappa_score(h, j, labels=[1, 2, 3, 4, 5], weights="quadratic")
    )
    assert result.trend_metric == "pearson"


def test_numeric_median_between_points_has_no_weighted_kappa(
    db: Database, project: ProjectFixture
) -> None:
    pid = project.project.id
    with db.write() as session:
        config = score_configs.create(session, pid, {"name": "stars", "dataType": "NUMERIC"}).id
    humans = people(db, project, 2)
    for ref, values, said in (("a", [1, 2], 2), ("b", [3, 3], 3), ("c", [5, 5], 4)):
        for person, value in zip(humans, values, strict=True):
            annotate(db, pid, person, config, ref, value)
        judge(db, pid, ref, said, WEEK_A, name="judge-stars")
    result = run(db, pid, config_id=config, judge_score_name="judge-stars")
    assert result.numeric is not None
    assert result.numeric.weighted_kappa is None  # median 1.5 is off the integer scale
    assert any("Weighted kappa" in note for note in result.notes)


def test_boolean_config_with_a_numeric_zero_one_judge(
    db: Database, project: ProjectFixture
) -> None:
    pid = project.project.id
    with db.write() as session:
        config = score_configs.create(session, pid, {"name": "correct", "dataType": "BOOLEAN"}).id
    (person,) = people(db, project, 1)
    for i, (truth, said) in enumerate([(1, 1), (0, 0), (1, 0), (0, 0), (1, 1)]):
        annotate(db, pid, person, config, f"b{i}", truth)
        judge(db, pid, f"b{i}", said, WEEK_A, name="judge-correct", source="API")
    result = run(db, pid, config_id=config, judge_score_name="judge-correct")
    assert result.categorical is not None
    assert result.categorical.labels == ["True", "False"]
    assert result.categorical.kappa is not None
    assert result.categorical.kappa.value == pytest.approx(
        cohen_kappa_score([1, 0, 1, 0, 1], [1, 0, 0, 0, 1])
    )


def invalid(db: Database, project_id: str, **kw: object) -> str:
    with pytest.raises(Invalid) as caught:
        run(db, project_id, **kw)
    return caught.value.message


def test_bad_input_gets_a_clear_message(db: Database, world: World) -> None:
    pid = world.project_id
    assert "no pairs" in invalid(db, pid, config_id=world.quality, judge_score_name="nobody")
    assert "no score config" in invalid(db, pid, config_id="missing", judge_score_name=JUDGE)
    assert "judgeSource" in invalid(
        db, pid, config_id=world.quality, judge_score_name=JUDGE, judge_sources=("ANNOTATION",)
    )
    assert "fromTimestamp" in invalid(
        db,
        pid,
        config_id=world.quality,
        judge_score_name=JUDGE,
        from_timestamp=WEEK_B,
        to_timestamp=WEEK_A,
    )
    # The judge name now carries two data types: NUMERIC on t5 besides the CATEGORICAL ones.
    judge(db, pid, "t5", 0.3, WEEK_B, name=JUDGE, source="EVAL", dataType="NUMERIC")
    assert "mixed data types" in invalid(db, pid, config_id=world.quality, judge_score_name=JUDGE)


def test_a_config_of_another_project_is_refused(db: Database, world: World) -> None:
    other = make_project(db, "Other", "other-owner@example.com")
    message = invalid(db, other.project.id, config_id=world.quality, judge_score_name=JUDGE)
    assert "no score config" in message


def test_text_config_and_human_judge_type_mismatch(db: Database, project: ProjectFixture) -> None:
    pid = project.project.id
    with db.write() as session:
        text = score_configs.create(session, pid, {"name": "notes", "dataType": "TEXT"}).id
        numeric = score_configs.create(session, pid, {"name": "score", "dataType": "NUMERIC"}).id
    (person,) = people(db, project, 1)
    annotate(db, pid, person, numeric, "x", 3)
    judge(db, pid, "x", "good", WEEK_A, name="judge-label")
    assert "TEXT" in invalid(db, pid, config_id=text, judge_score_name="judge-label")
    message = invalid(db, pid, config_id=numeric, judge_score_name="judge-label")
    assert "mixed data types" in message and "CATEGORICAL" in message


def test_one_category_only_and_all_ties(db: Database, project: ProjectFixture) -> None:
    pid = project.project.id
    with db.write() as session:
        config = score_configs.create(session, pid, {"name": "ok", "dataType": "BOOLEAN"}).id
    first, second = people(db, project, 2)
    for i in range(3):
        annotate(db, pid, first, config, f"u{i}", True)
        judge(db, pid, f"u{i}", True, WEEK_A, name="judge-ok")
    assert "one category only" in invalid(db, pid, config_id=config, judge_score_name="judge-ok")
    annotate(db, pid, first, config, "tie", True)
    annotate(db, pid, second, config, "tie", False)
    judge(db, pid, "tie", True, WEEK_A, name="judge-tie")
    assert "tied" in invalid(db, pid, config_id=config, judge_score_name="judge-tie")
