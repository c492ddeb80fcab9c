"""Agreement between annotators on both engines, checked against published alpha values."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from tests.calibration_world import annotate, make_queue, people
from tests.conftest import ProjectFixture, make_project
from tracemark.db.engine import Database
from tracemark.services import agreement, score_configs
from tracemark.services.errors import Invalid

NAN = math.nan
# Krippendorff (2011) example C (see tests/services/test_agreement_stats.py): published
# alpha nominal .743, ordinal .815, interval .849.
EXAMPLE_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def run(db: Database, project_id: str, **kw: object) -> agreement.Agreement:
    with db.read() as session:
        return agreement.agreement(session, project_id, agreement.AgreementRequest(**kw))  # type: ignore[arg-type]


@pytest.fixture
def example_c(db: Database, project: ProjectFixture) -> tuple[str, str, str]:
    """Example C as NUMERIC scores 1..5 of four annotators in a queue."""
    pid = project.project.id
    with db.write() as session:
        config = score_configs.create(
            session, pid, {"name": "rating", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5}
        ).id
    queue = make_queue(db, pid, [config])
    annotators = people(db, project, 4)
    for person, row in zip(annotators, EXAMPLE_C, strict=True):
        for unit, value in enumerate(row):
            if not math.isnan(value):
                annotate(db, pid, person, config, f"u{unit}", value, queue_id=queue)
    return pid, config, queue


@pytest.mark.parametrize(
    ("level", "published"), [("interval", 0.849), ("ordinal", 0.815), ("nominal", 0.743)]
)
def test_alpha_of_example_c_through_the_database(
    db: Database, example_c: tuple[str, str, str], level: str, published: float
) -> None:
    pid, config, queue = example_c
    result = run(db, pid, config_id=config, queue_id=queue, level=level)
    assert round(result.alpha, 3) == published
    assert result.level == level
    assert result.items == 12
    assert result.items_with_two_or_more == 11  # u11 has one value only
    assert len(result.annotators) == 4


def test_default_level_follows_the_data_type(db: Database, example_c: tuple[str, str, str]) -> None:
    pid, config, _ = example_c
    assert run(db, pid, config_id=config).level == "interval"


def test_pairwise_versus_others_and_worst_items(
    db: Database, example_c: tuple[str, str, str]
) -> None:
    pid, config, queue = example_c
    result = run(db, pid, config_id=config, queue_id=queue, level="nominal", items_limit=3)
    data = np.array(EXAMPLE_C)
    order = [a.user_id for a in result.annotators]
    # Annotator annN scored row N of EXAMPLE_C.
    rows = {a.user_id: int(a.name.removeprefix("ann")) for a in result.annotators}
    assert len(rows) == 4 and sorted(rows.values()) == [0, 1, 2, 3]
    for pair in result.pairwise:
        a, b = data[rows[pair.first]], data[rows[pair.second]]
        both = ~np.isnan(a) & ~np.isnan(b)
        assert pair.items == int(both.sum())
        assert pair.agreement == pytest.approx(float(np.mean(a[both] == b[both])))
        reference = krippendorff.alpha(
            reliability_data=np.vstack([a[both], b[both]]), level_of_measurement="nominal"
        )
        assert pair.alpha == pytest.approx(reference)
    assert len(result.pairwise) == 6 and order == sorted(order)
    # Unit u5 (values 1, 2, 3, 4) disagrees most: every pair differs.
    worst = result.most_disagreement
    assert worst[0].object_id == "u5" and worst[0].disagreement == 1.0
    assert sorted(worst[0].values.values()) == ["1", "2", "3", "4"]
    assert len(worst) == 3
    # Observer D (row 3) against the majority of the others, item by item.
    versus = {v.user_id: v for v in result.versus_others}
    d = next(uid for uid, row in rows.items() if row == 3)
    agree = total = tied = 0
    for unit in range(12):
        if np.isnan(data[3, unit]):
            continue
        others = [data[r, unit] for r in range(3) if not np.isnan(data[r, unit])]
        if not others:
            continue
        counts = {v: others.count(v) for v in others}
        top = max(counts.values())
        winners = [v for v, c in counts.items() if c == top]
        if len(winners) > 1:
            tied += 1
            continue
        total += 1
        agree += winners[0] == data[3, unit]
    assert (versus[d].items, versus[d].tied_items) == (total, tied)
    assert versus[d].agreement == pytest.approx(agree / total)


def test_categorical_labels_are_shown_and_scope_is_the_queue(
    db: Database, project: ProjectFixture
) -> None:
    pid = project.project.id
    with db.write() as session:
        config = score_configs.create(
            session,
            pid,
            {
                "name": "tone",
                "dataType": "CATEGORICAL",
                "categories": [{"label": "<b>calm</b>", "value": 0}, {"label": "rude", "value": 1}],
            },
        ).id
    queue = make_queue(db, pid, [config])
    first, second = people(db, project, 2)
    for ref, a, b in (
        ("x", "<b>calm</b>", "rude"),
        ("y", "rude", "rude"),
        ("z", "<b>calm</b>", "<b>calm</b>"),
    ):
        annotate(db, pid, first, config, ref, a, queue_id=queue)
        annotate(db, pid, second, config, ref, b, queue_id=queue)
    annotate(db, pid, first, config, "outside", "rude")  # not in the queue
    result = run(db, pid, config_id=config, queue_id=queue)
    assert result.level == "nominal" and result.items == 3
    assert result.most_disagreement[0].object_id == "x"
    assert set(result.most_disagreement[0].values.values()) == {"<b>calm</b>", "rude"}
    reference = krippendorff.alpha(
        reliability_data=[[0, 1, 0], [1, 1, 0]], level_of_measurement="nominal"
    )
    assert result.alpha == pytest.approx(reference)
    assert run(db, pid, config_id=config).items == 4


def invalid(db: Database, project_id: str, **kw: object) -> str:
    with pytest.raises(Invalid) as caught:
        run(db, project_id, **kw)
    return caught.value.message


def test_bad_input(db: Database, project: ProjectFixture) -> None:
    pid = project.project.id
    with db.write() as session:
        config = score_configs.create(session, pid, {"name": "ok", "dataType": "BOOLEAN"}).id
        text = score_configs.create(session, pid, {"name": "notes", "dataType": "TEXT"}).id
    first, second = people(db, project, 2)
    assert "no scores" in invalid(db, pid, config_id=config)
    assert "TEXT" in invalid(db, pid, config_id=text)
    assert "no score config" in invalid(db, pid, config_id="nope")
    assert "level" in invalid(db, pid, config_id=config, level="ratio")
    assert "queueId" in invalid(db, pid, config_id=config, queue_id="nope")
    annotate(db, pid, first, config, "a", True)
    annotate(db, pid, first, config, "b", False)
    assert "one annotator" in invalid(db, pid, config_id=config)
    annotate(db, pid, second, config, "c", True)
    assert "no overlap" in invalid(db, pid, config_id=config)
    annotate(db, pid, second, config, "a", True)
    assert "one category only" in invalid(db, pid, config_id=config)
    annotate(db, pid, second, config, "b", True)
    assert run(db, pid, config_id=config).items_with_two_or_more == 2
    other = make_project(db, "Other", "other-owner@example.com")
    assert "no score config" in invalid(db, other.project.id, config_id=config)
