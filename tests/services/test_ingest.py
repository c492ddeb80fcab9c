"""Merging ingested records into storage: idempotency, any arrival order, aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tests.conftest import ProjectFixture
from tracemark.db.engine import Database
from tracemark.db.models import Observation, TraceSession, TraceTag
from tracemark.ingest.records import Batch, ObservationUpsert, TraceUpsert
from tracemark.services import ingest, traces

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def obs(obs_id: str, trace_id: str = "t1", **fields: Any) -> ObservationUpsert:
    return ObservationUpsert(obs_id, trace_id, fields)


def store(db: Database, project: ProjectFixture, *records: Any) -> ingest.IngestResult:
    batch = Batch(
        traces=[r for r in records if isinstance(r, TraceUpsert)],
        observations=[r for r in records if isinstance(r, ObservationUpsert)],
    )
    with db.write() as session:
        return ingest.ingest_batch(session, project.project.id, batch)


def rag_trace() -> list[Any]:
    return [
        TraceUpsert(
            "t1", {"user_id": "u1", "session_id": "s1", "tags": ["prod"], "metadata": {"a": 1}}
        ),
        obs(
            "root",
            name="answer-question",
            start_time=at(0),
            end_time=at(2.5),
            input={"question": "q?"},
            output={"answer": "42"},
        ),
        obs(
            "retrieve",
            type="RETRIEVER",
            parent_observation_id="root",
            start_time=at(0.1),
            end_time=at(0.4),
            name="search",
        ),
        obs(
            "llm",
            type="GENERATION",
            parent_observation_id="root",
            start_time=at(0.5),
            end_time=at(2.4),
            model="gpt-4o",
            usage_details={"input": 100, "output": 20},
            cost_details={"input": 0.001, "output": 0.002},
            level="WARNING",
        ),
    ]


def test_trace_aggregates_and_root_derived_fields(db: Database, project: ProjectFixture) -> None:
    store(db, project, *rag_trace())
    with db.read() as session:
        trace = traces.get_trace(session, project.project.id, "t1")
        assert trace.name == "answer-question"  # from the root span
        assert trace.input == {"question": "q?"} and trace.output == {"answer": "42"}
        assert trace.timestamp == at(0)
        assert trace.latency == 2.5
        assert trace.total_cost is not None and abs(trace.total_cost - 0.003) < 1e-12
        assert (trace.input_tokens, trace.output_tokens, trace.total_tokens) == (100, 20, 120)
        assert trace.observation_count == 3
        assert trace.level == "WARNING" and trace.warning_count == 1
        assert trace.tags == ["prod"] and trace.user_id == "u1"
        assert session.scalar(select(func.count()).select_from(TraceSession)) == 1
        assert session.scalars(select(TraceTag.tag)).all() == ["prod"]


def test_resending_changes_nothing(db: Database, project: ProjectFixture) -> None:
    store(db, project, *rag_trace())
    with db.read() as session:
        before = traces.get_trace(session, project.project.id, "t1")
        first = (
            before.name,
            before.tags,
            before.metadata_,
            before.total_cost,
            before.observation_count,
        )
    store(db, project, *rag_trace())
    with db.read() as session:
        after = traces.get_trace(session, project.project.id, "t1")
        assert (
            after.name,
            after.tags,
            after.metadata_,
            after.total_cost,
            after.observation_count,
        ) == first
        assert session.scalar(select(func.count()).select_from(Observation)) == 3
        assert session.scalar(select(func.count()).select_from(TraceTag)) == 1


def test_children_first_root_last_across_requests(db: Database, project: ProjectFixture) -> None:
    records = rag_trace()
    store(db, project, records[3])  # the generation alone: trace does not exist yet
    with db.read() as session:
        early = traces.get_trace(session, project.project.id, "t1")
        assert early.observation_count == 1 and early.name is None
    store(db, project, records[2])
    store(db, project, records[1], records[0])  # root and trace attributes arrive last
    with db.read() as session:
        trace = traces.get_trace(session, project.project.id, "t1")
        assert trace.name == "answer-question"
        assert trace.observation_count == 3 and trace.latency == 2.5
        assert trace.user_id == "u1"


def test_update_before_create_is_merged(db: Database, project: ProjectFixture) -> None:
    store(db, project, obs("o1", end_time=at(5), output="done", metadata={"b": 2}))
    store(db, project, obs("o1", name="step", start_time=at(1), input="go", metadata={"a": 1}))
    with db.read() as session:
        row = traces.get_observation(session, project.project.id, "o1")
        assert (row.name, row.input, row.output) == ("step", "go", "done")
        assert row.start_time == at(1) and row.end_time == at(5)
        assert row.metadata_ == {"b": 2, "a": 1}


def test_explicit_trace_fields_beat_the_root(db: Database, project: ProjectFixture) -> None:
    store(
        db, project, TraceUpsert("t1", {"name": "chosen", "output": "explicit"}), *rag_trace()[1:]
    )
    with db.read() as session:
        trace = traces.get_trace(session, project.project.id, "t1")
        assert trace.name == "chosen" and trace.output == "explicit"
        assert trace.input == {"question": "q?"}  # not set explicitly: from the root


def test_tags_union_and_metadata_merge(db: Database, project: ProjectFixture) -> None:
    store(db, project, TraceUpsert("t1", {"tags": ["a", "b"], "metadata": {"x": 1}}))
    store(db, project, TraceUpsert("t1", {"tags": ["b", "c"], "metadata": {"y": 2}}))
    with db.read() as session:
        trace = traces.get_trace(session, project.project.id, "t1")
        assert trace.tags == ["a", "b", "c"]
        assert trace.metadata_ == {"x": 1, "y": 2}
        assert sorted(session.scalars(select(TraceTag.tag))) == ["a", "b", "c"]


def test_long_tags_sharing_a_prefix_are_stored_once(db: Database, project: ProjectFixture) -> None:
    # The tag index keeps 200 characters: two tags differing only after that are one entry.
    long_a, long_b = "x" * 200 + "a", "x" * 200 + "b"
    store(db, project, TraceUpsert("t1", {"tags": [long_a, long_b, "short"]}))
    with db.read() as session:
        trace = traces.get_trace(session, project.project.id, "t1")
        assert trace.tags == [long_a, long_b, "short"]
        assert sorted(session.scalars(select(TraceTag.tag))) == ["short", "x" * 200]


def test_envelope_start_time_applies_to_new_observations_only(
    db: Database, project: ProjectFixture
) -> None:
    store(db, project, obs("stored", start_time=at(5), name="first"))
    ingest.store(
        db,
        project.project.id,
        Batch(observations=[obs("stored", name="renamed"), obs("new", name="fresh")]),
        default_start_times={"stored": at(99), "new": at(7)},
    )
    with db.read() as session:
        rows = {o.id: o for o in session.scalars(select(Observation))}
    assert (rows["stored"].name, rows["stored"].start_time) == ("renamed", at(5))
    assert (rows["new"].name, rows["new"].start_time) == ("fresh", at(7))


def test_cost_computed_from_usage_when_not_sent(db: Database, project: ProjectFixture) -> None:
    store(
        db,
        project,
        obs(
            "g",
            type="GENERATION",
            start_time=at(0),
            model="gpt-4o",
            usage_details={"input": 1000, "output": 100},
        ),
    )
    with db.read() as session:
        row = traces.get_observation(session, project.project.id, "g")
        assert row.cost_computed is True
        assert row.cost_details is not None and row.total_cost is not None and row.total_cost > 0
        assert (
            abs(row.cost_details["total"] - row.cost_details["input"] - row.cost_details["output"])
            < 1e-12
        )
    # Costs sent later always win over computed ones.
    store(db, project, obs("g", cost_details={"total": 9.0}))
    with db.read() as session:
        row = traces.get_observation(session, project.project.id, "g")
        assert row.total_cost == 9.0 and row.cost_computed is False


def test_oversized_input_is_truncated_with_marker(db: Database, project: ProjectFixture) -> None:
    huge = "x" * (ingest.MAX_FIELD_BYTES + 10)
    store(db, project, obs("big", start_time=at(0), input=huge, output="small"))
    with db.read() as session:
        row = traces.get_observation(session, project.project.id, "big")
        assert isinstance(row.input, str) and len(row.input) < ingest.MAX_FIELD_BYTES
        assert "truncated by Tracemark" in row.input
        assert row.output == "small"
        assert row.metadata_["tracemark_truncated"]["input"]["original_bytes"] == len(huge)


def test_projects_do_not_share_ids(db: Database, project: ProjectFixture) -> None:
    from tests.conftest import make_project

    other = make_project(db, "Other", owner_email="o2@example.com")
    store(db, project, *rag_trace())
    store(db, other, TraceUpsert("t1", {"name": "theirs"}))
    with db.read() as session:
        assert traces.get_trace(session, project.project.id, "t1").name == "answer-question"
        assert traces.get_trace(session, other.project.id, "t1").name == "theirs"


def test_update_without_trace_id_resolves_or_is_reported(
    db: Database, project: ProjectFixture
) -> None:
    store(db, project, obs("o1", start_time=at(0)))
    result = store(db, project, obs("o1", "", output="later"), obs("ghost", "", output="x"))
    assert result.unresolved_observations == ["ghost"]
    with db.read() as session:
        assert traces.get_observation(session, project.project.id, "o1").output == "later"


def test_non_finite_numbers_do_not_break_storage(db: Database, project: ProjectFixture) -> None:
    store(db, project, obs("n", start_time=at(0), input={"score": float("inf"), "ok": 1.5}))
    with db.read() as session:
        row = traces.get_observation(session, project.project.id, "n")
        assert row.input == {"score": "inf", "ok": 1.5}
