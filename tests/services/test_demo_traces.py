"""The demo traces: valid Langfuse ingestion bodies, realistic shape, deterministic."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tracemark.ingest.langfuse import parse_ingestion
from tracemark.services.demo_traces import (
    FLAWED_ANSWER_HINTS,
    KNOWLEDGE_BASE,
    MAX_EVENTS_PER_PAYLOAD,
    QUESTIONS,
    demo_ingestion_payloads,
)

NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)


@dataclass
class Parsed:
    events: int = 0
    errors: list[Any] = field(default_factory=list)
    traces: dict[str, dict[str, Any]] = field(default_factory=dict)
    observations: dict[str, dict[str, Any]] = field(default_factory=dict)  # + id, trace_id

    def of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [o for o in self.observations.values() if o["trace_id"] == trace_id]


def parse(payloads: list[dict[str, Any]]) -> Parsed:
    """Every payload through `parse_ingestion`, records merged per id (later fields win)."""
    parsed = Parsed()
    for payload in payloads:
        result = parse_ingestion(payload)
        parsed.events += len(payload["batch"])
        parsed.errors += result.errors
        assert not result.default_trace_timestamps  # every trace sends its own timestamp
        assert not result.default_start_times
        for trace in result.batch.traces:
            parsed.traces.setdefault(trace.id, {}).update(trace.fields)
        for obs in result.batch.observations:
            record = parsed.observations.setdefault(
                obs.id, {"id": obs.id, "trace_id": obs.trace_id}
            )
            assert record["trace_id"] == obs.trace_id
            record.update(obs.fields)
    return parsed


@pytest.fixture(scope="module")
def payloads() -> list[dict[str, Any]]:
    return demo_ingestion_payloads(NOW)


@pytest.fixture(scope="module")
def parsed(payloads: list[dict[str, Any]]) -> Parsed:
    return parse(payloads)


def test_payloads_parse_without_errors(payloads: list[dict[str, Any]], parsed: Parsed) -> None:
    assert parsed.errors == []
    assert all(set(p) == {"batch"} for p in payloads)
    assert all(0 < len(p["batch"]) <= MAX_EVENTS_PER_PAYLOAD for p in payloads)
    event_ids = [event["id"] for p in payloads for event in p["batch"]]
    assert len(event_ids) == len(set(event_ids)) == parsed.events


def test_exactly_the_requested_traces(parsed: Parsed) -> None:
    assert len(parsed.traces) == 200
    for trace in parsed.traces.values():
        assert trace["name"] == "support-chat"
        assert trace["user_id"].startswith("cust-")
        assert trace["release"].startswith("2026.11.")
        assert set(trace["metadata"]) == {"channel", "locale", "app_version"}
        assert set(trace["tags"]) <= {"production", "beta", "mobile", "web", "escalated"}
        assert trace["input"]["question"]
        assert trace["output"]["answer"]
    environments = Counter(t["environment"] for t in parsed.traces.values())
    assert set(environments) == {"production", "staging"}
    assert environments["staging"] < 20


def test_sessions(parsed: Parsed) -> None:
    sessions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trace in parsed.traces.values():
        if "session_id" in trace:
            sessions[trace["session_id"]].append(trace)
    assert 10 <= len(sessions) <= 14
    for traces in sessions.values():
        assert 3 <= len(traces) <= 8
        assert len({t["user_id"] for t in traces}) == 1
        assert len({t["timestamp"] for t in traces}) == len(traces)
    single = len(parsed.traces) - sum(len(t) for t in sessions.values())
    assert single > 100


def test_later_turns_carry_the_earlier_ones(parsed: Parsed) -> None:
    """The answer generation of turn n gets the n-1 earlier question/answer pairs."""
    by_session: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for trace_id, trace in parsed.traces.items():
        if "session_id" in trace:
            by_session[trace["session_id"]].append((trace["timestamp"], trace_id))
    for turns in by_session.values():
        turns.sort()
        for n, (_, trace_id) in enumerate(turns):
            answer = next(
                o
                for o in parsed.of_trace(trace_id)
                if o["type"] == "GENERATION" and "usage_details" in o
            )
            roles = [m["role"] for m in answer["input"]]
            assert roles == ["system", *["user", "assistant"] * n, "user"]


def test_every_parent_is_in_the_same_trace(parsed: Parsed) -> None:
    for obs in parsed.observations.values():
        assert obs["trace_id"] in parsed.traces
        parent = obs.get("parent_observation_id")
        if parent is not None:
            assert parsed.observations[parent]["trace_id"] == obs["trace_id"]
            assert parsed.observations[parent]["start_time"] <= obs["start_time"]
            assert obs["end_time"] <= parsed.observations[parent]["end_time"]


def test_trace_structure(parsed: Parsed) -> None:
    names: Counter[str] = Counter()
    for trace_id in parsed.traces:
        observations = parsed.of_trace(trace_id)
        by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for obs in observations:
            by_name[obs["name"]].append(obs)
            names[obs["name"]] += 1
        (root,) = by_name["handle-question"]
        assert "parent_observation_id" not in root
        (retrieve,) = by_name["retrieve-docs"]
        assert retrieve["type"] == "RETRIEVER"
        assert retrieve["parent_observation_id"] == root["id"]
        (embed,) = by_name["embed-query"]
        assert embed["type"] == "EMBEDDING"
        assert embed["parent_observation_id"] == retrieve["id"]
        assert embed["model"] == "text-embedding-3-small"
        assert embed["usage_details"]["input"] > 0
        assert len(by_name["rerank"]) == 1
        for doc in retrieve["output"]["documents"]:
            assert doc["id"] in KNOWLEDGE_BASE
        answers = [o for o in by_name["answer"] if o["type"] == "GENERATION"]
        assert 1 <= len(answers) <= 2
        final = max(answers, key=lambda o: o["start_time"])
        usage = final["usage_details"]
        assert 600 <= usage["input"] <= 2500
        assert 80 <= usage["output"] <= 400
        assert usage["total"] == usage["input"] + usage["output"]
        assert final["model"] in {"gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"}
        assert final["output"]["role"] == "assistant"
        assert final["input"][0]["role"] == "system"
        ttft = (final["completion_start_time"] - final["start_time"]).total_seconds()
        assert 0.3 <= ttft <= 0.9
        assert 0.8 <= (final["end_time"] - final["start_time"]).total_seconds() <= 6.0
        total = (root["end_time"] - root["start_time"]).total_seconds()
        assert 0.9 <= total <= 15
    assert names["lookup_order"] + names["check_inventory"] > 10


def test_every_trace_has_a_generation_with_usage(parsed: Parsed) -> None:
    with_usage = {
        o["trace_id"]
        for o in parsed.observations.values()
        if o["type"] == "GENERATION" and o.get("usage_details", {}).get("output")
    }
    assert with_usage == set(parsed.traces)


def test_costs_are_mostly_left_to_the_server(parsed: Parsed) -> None:
    generations = [o for o in parsed.observations.values() if "usage_details" in o]
    generations = [o for o in generations if o["type"] == "GENERATION"]
    with_cost = [o for o in generations if "cost_details" in o]
    assert 0 < len(with_cost) < len(generations) * 0.25
    models = Counter(o["model"] for o in generations)
    assert models.most_common(1)[0][0] == "gpt-4o-mini"
    assert set(models) == {"gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"}


def test_errors_and_warnings(parsed: Parsed) -> None:
    levels = Counter(o.get("level", "DEFAULT") for o in parsed.observations.values())
    assert levels["ERROR"] > 0
    assert levels["WARNING"] > 0
    errors = [o for o in parsed.observations.values() if o.get("level") == "ERROR"]
    assert all(
        o["status_message"].split(":")[0] in {"TimeoutError", "RateLimitError"} for o in errors
    )
    error_traces = {o["trace_id"] for o in errors}
    assert 1 <= len(error_traces) <= 20  # about 4 %
    for obs in errors:  # a rate-limited call is retried
        if obs["type"] == "GENERATION":
            retries = [
                o
                for o in parsed.of_trace(obs["trace_id"])
                if o["type"] == "GENERATION" and o["start_time"] > obs["end_time"]
            ]
            assert len(retries) == 1 and "usage_details" in retries[0]


def test_timestamps_lie_in_the_last_14_days(parsed: Parsed) -> None:
    earliest = NOW - timedelta(days=14)
    moments = [t["timestamp"] for t in parsed.traces.values()]
    for obs in parsed.observations.values():
        assert obs["start_time"] <= obs["end_time"]
        moments += [obs["start_time"], obs["end_time"]]
        if "completion_start_time" in obs:
            assert obs["start_time"] < obs["completion_start_time"] < obs["end_time"]
    assert all(earliest <= moment <= NOW for moment in moments)
    days = {(NOW - t["timestamp"]).days for t in parsed.traces.values()}
    assert len(days) >= 12  # spread over the period


def test_deterministic(payloads: list[dict[str, Any]]) -> None:
    assert demo_ingestion_payloads(NOW) == payloads
    later = demo_ingestion_payloads(NOW + timedelta(days=3))
    ids = [[e["id"] for e in p["batch"]] for p in payloads]
    assert [[e["id"] for e in p["batch"]] for p in later] == ids
    assert later != payloads  # only the timestamps moved
    other_seed = demo_ingestion_payloads(NOW, seed=8)
    assert other_seed[0]["batch"][0]["id"] != payloads[0]["batch"][0]["id"]


def test_naive_now_is_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert demo_ingestion_payloads(naive, traces=20) == demo_ingestion_payloads(NOW, traces=20)


def test_pasted_html_is_there(parsed: Parsed) -> None:
    with_html = [t for t in parsed.traces.values() if "<" in t["input"]["question"]]
    assert len(with_html) == 3
    assert any("<script>alert(1)</script>" in t["input"]["question"] for t in with_html)
    assert all("<" in t["output"]["answer"] for t in with_html)


def test_flawed_answers_are_served_and_listed(parsed: Parsed) -> None:
    assert len(QUESTIONS) >= 40
    assert set(FLAWED_ANSWER_HINTS) <= set(range(len(QUESTIONS)))
    answers = Counter(t["output"]["answer"] for t in parsed.traces.values())
    for index in FLAWED_ANSWER_HINTS:
        assert "{" not in QUESTIONS[index].answer
        assert answers[QUESTIONS[index].answer] >= 1
    assert len({q.question for q in QUESTIONS}) == len(QUESTIONS)
    assert len({q.answer for q in QUESTIONS}) == len(QUESTIONS)


@pytest.mark.parametrize("count", [0, 1, 7, 30, 450])
def test_other_trace_counts(count: int) -> None:
    parsed = parse(demo_ingestion_payloads(NOW, traces=count))
    assert parsed.errors == []
    assert len(parsed.traces) == count


def test_negative_count_is_rejected() -> None:
    with pytest.raises(ValueError):
        demo_ingestion_payloads(NOW, traces=-1)
