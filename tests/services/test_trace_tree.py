"""The execution tree: nesting, order, one time axis, and odd parents (missing, cycles)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracemark.db.models import Observation, Trace
from tracemark.services import trace_tree

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def obs(obs_id: str, parent: str | None, start: float, end: float | None) -> Observation:
    return Observation(
        id=obs_id,
        trace_id="t",
        parent_observation_id=parent,
        type="SPAN",
        start_time=T0 + timedelta(seconds=start),
        end_time=T0 + timedelta(seconds=end) if end is not None else None,
    )


def trace() -> Trace:
    return Trace(id="t", timestamp=T0)


def test_rows_are_depth_first_by_start_time_on_one_axis() -> None:
    tree = trace_tree.build(
        trace(),
        [
            obs("late-child", "root", 6, 8),
            obs("root", None, 0, 10),
            obs("early-child", "root", 1, 3),
            obs("grandchild", "early-child", 2, None),
        ],
    )
    assert [(r.observation.id, r.depth) for r in tree.rows] == [
        ("root", 0),
        ("early-child", 1),
        ("grandchild", 2),
        ("late-child", 1),
    ]
    assert tree.span == 10.0
    late = tree.rows[3]
    assert (late.offset, late.width, late.duration) == (0.6, 0.2, 2.0)
    assert tree.rows[2].duration is None and tree.rows[2].width == 0.0
    assert tree.rows[0].children == 2


def test_missing_parents_and_cycles_lose_nothing() -> None:
    tree = trace_tree.build(
        trace(),
        [
            obs("orphan", "not-arrived-yet", 1, 2),
            obs("a", "b", 2, 3),
            obs("b", "a", 3, 4),
            obs("self", "self", 4, 5),
        ],
    )
    ids = [r.observation.id for r in tree.rows]
    assert sorted(ids) == ["a", "b", "orphan", "self"] and len(ids) == 4
    assert all(r.depth == 0 for r in tree.rows if r.observation.id in ("orphan", "self"))


def test_large_trees_are_cut_and_counted() -> None:
    many = [obs(f"o{i:04d}", None, i, i + 1) for i in range(30)]
    tree = trace_tree.build(trace(), many, max_rows=10)
    assert len(tree.rows) == 10 and tree.hidden == 20


def test_a_trace_without_observations() -> None:
    tree = trace_tree.build(trace(), [])
    assert tree.rows == [] and tree.span == 0.0
