"""Langfuse batch ingestion parser: the wire bodies of langfuse 2.x (and 3.x/4.x scores) to records.

Bodies are those captured in docs `langfuse-wire.md` §3.2 and §4, with the shortened ids filled in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tracemark.ingest.langfuse import (
    EventError,
    IngestionParse,
    ScoreEvent,
    parse_ingestion,
)
from tracemark.ingest.records import ObservationType, ObservationUpsert, TraceUpsert
from tracemark.services.errors import Invalid

TRACE = "e7e3b0a4-6f1c-4c8e-9a57-2f3d1c0b9e11"
SPAN = "41571c2d-8b0e-4f3a-a6d2-7c9e5b1f0a22"
GEN = "8347aa10-2c4d-4e6f-8a9b-0c1d2e3f4a33"
LEGACY = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d44"
OPENAI = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e55"
EVENT = "eefe5d6c-7b8a-4c9d-8e0f-1a2b3c4d5e66"
ERR_SPAN = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f77"
TS = "2026-11-26T21:08:14.375546Z"
T0 = datetime(2026, 11, 26, 21, 8, 14, 375546, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def utc(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(event_type: str, body: Any, event_id: str | None = None, ts: str = TS) -> dict[str, Any]:
    n = next(_counter)
    return {"id": event_id or f"ev-{n:04d}", "type": event_type, "timestamp": ts, "body": body}


def _count() -> Any:
    n = 0
    while True:
        n += 1
        yield n


_counter = _count()


def parse(*events: dict[str, Any]) -> IngestionParse:
    return parse_ingestion({"batch": list(events), "metadata": {"batch_size": len(events)}})


def only_observation(result: IngestionParse) -> ObservationUpsert:
    assert result.errors == []
    assert len(result.batch.observations) == 1
    return result.batch.observations[0]


# ------------------------------------------------------------------------------------------------
# §3.2 langfuse 2.60.10: the captured sequence, record by record


V2_SEQUENCE = [
    ev(
        "trace-create",
        {
            "id": TRACE,
            "timestamp": at(0),
            "name": "v2-trace",
            "userId": "user-123",
            "input": {"question": "q?"},
            "sessionId": "session-abc",
            "release": "rel-2",
            "version": "1.0",
            "metadata": {"tenant": "acme"},
            "tags": ["t1", "t2"],
            "environment": "staging",
            "public": True,
        },
        "evt-trace",
    ),
    ev(
        "span-create",
        {
            "traceId": TRACE,
            "name": "retrieval",
            "startTime": at(1),
            "metadata": {"k": "v"},
            "input": {"query": "q"},
            "level": "DEBUG",
            "environment": "staging",
            "id": SPAN,
        },
        "evt-span",
    ),
    ev(
        "span-update",
        {"traceId": TRACE, "output": {"docs": ["d1", "d2"]}, "id": SPAN, "endTime": at(2)},
        "evt-span-upd",
    ),
    ev(
        "generation-create",
        {
            "traceId": TRACE,
            "name": "chat-completion",
            "startTime": at(3),
            "input": [{"role": "user", "content": "q?"}],
            "parentObservationId": SPAN,
            "environment": "staging",
            "id": GEN,
            "completionStartTime": "2025-01-01T00:00:01Z",
            "model": "gpt-4o",
            "modelParameters": {"temperature": "0.7", "max_tokens": 100},
        },
        "evt-gen",
    ),
    ev(
        "generation-update",
        {
            "traceId": TRACE,
            "output": {"role": "assistant", "content": "42"},
            "id": GEN,
            "endTime": at(4),
            "usageDetails": {"input": 100, "output": 20, "total": 120},
            "costDetails": {"input": 0.001, "output": 0.002, "total": 0.003},
        },
        "evt-gen-upd",
    ),
    ev(
        "generation-create",
        {
            "traceId": TRACE,
            "name": "legacy-usage",
            "startTime": at(5),
            "environment": "staging",
            "id": LEGACY,
            "model": "gpt-3.5-turbo",
            "input": "hi",
            "output": "hello",
            "usage": {
                "input": 5,
                "output": 6,
                "total": 11,
                "unit": "TOKENS",
                "inputCost": 0.1,
                "outputCost": 0.2,
                "totalCost": 0.3,
            },
        },
        "evt-legacy",
    ),
    ev(
        "generation-create",
        {
            "traceId": TRACE,
            "name": "openai-usage",
            "startTime": at(6),
            "environment": "staging",
            "id": OPENAI,
            "usage": {"input": 5, "output": 6, "total": 11, "unit": "TOKENS"},
        },
        "evt-openai",
    ),
    ev(
        "event-create",
        {
            "traceId": TRACE,
            "name": "my-event",
            "startTime": at(7),
            "input": {"e": 1},
            "output": {"o": 2},
            "level": "WARNING",
            "statusMessage": "warn",
            "environment": "staging",
            "id": EVENT,
        },
        "evt-event",
    ),
    ev(
        "span-create",
        {
            "traceId": TRACE,
            "name": "err-span",
            "startTime": at(8),
            "level": "ERROR",
            "statusMessage": "failed",
            "environment": "staging",
            "id": ERR_SPAN,
        },
        "evt-err",
    ),
    ev("trace-create", {"id": TRACE, "output": {"answer": 42}}, "evt-trace-upd"),
    ev(
        "score-create",
        {
            "id": "8500c4f1-1111-4222-8333-944455556666",
            "traceId": TRACE,
            "name": "accuracy",
            "environment": "staging",
            "value": 0.95,
            "comment": "numeric on trace",
            "dataType": "NUMERIC",
        },
        "evt-score-1",
    ),
    ev(
        "score-create",
        {
            "id": "2d05e6f7-1111-4222-8333-944455556666",
            "traceId": TRACE,
            "name": "sentiment",
            "environment": "staging",
            "value": "positive",
            "observationId": GEN,
            "comment": "categorical on observation",
            "dataType": "CATEGORICAL",
            "parent_observation_id": GEN,
        },
        "evt-score-2",
    ),
    ev(
        "score-create",
        {
            "id": "d2910a1b-1111-4222-8333-944455556666",
            "traceId": TRACE,
            "name": "is_correct",
            "environment": "staging",
            "value": 1.0,
            "comment": "boolean on trace",
            "dataType": "BOOLEAN",
        },
        "evt-score-3",
    ),
    ev(
        "score-create",
        {
            "id": "my-score-id",
            "traceId": TRACE,
            "name": "with-id",
            "environment": "staging",
            "value": 0.1,
            "configId": "sc1",
        },
        "evt-score-4",
    ),
]


def test_v2_sequence_records() -> None:
    result = parse(*V2_SEQUENCE)

    assert result.errors == []
    assert result.successes == [
        "evt-trace",
        "evt-span",
        "evt-span-upd",
        "evt-gen",
        "evt-gen-upd",
        "evt-legacy",
        "evt-openai",
        "evt-event",
        "evt-err",
        "evt-trace-upd",
    ]
    assert result.batch.traces == [
        TraceUpsert(
            TRACE,
            {
                "name": "v2-trace",
                "user_id": "user-123",
                "session_id": "session-abc",
                "release": "rel-2",
                "version": "1.0",
                "environment": "staging",
                "public": True,
                "tags": ["t1", "t2"],
                "metadata": {"tenant": "acme"},
                "input": {"question": "q?"},
                "timestamp": utc(0),
            },
        ),
        TraceUpsert(TRACE, {"output": {"answer": 42}}),
    ]
    assert result.batch.observations == [
        ObservationUpsert(
            SPAN,
            TRACE,
            {
                "type": "SPAN",
                "name": "retrieval",
                "start_time": utc(1),
                "level": "DEBUG",
                "environment": "staging",
                "input": {"query": "q"},
                "metadata": {"k": "v"},
            },
        ),
        ObservationUpsert(SPAN, TRACE, {"end_time": utc(2), "output": {"docs": ["d1", "d2"]}}),
        ObservationUpsert(
            GEN,
            TRACE,
            {
                "type": "GENERATION",
                "name": "chat-completion",
                "start_time": utc(3),
                "completion_start_time": datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
                "environment": "staging",
                "input": [{"role": "user", "content": "q?"}],
                "model": "gpt-4o",
                "model_parameters": {"temperature": 0.7, "max_tokens": 100},
                "parent_observation_id": SPAN,
            },
        ),
        ObservationUpsert(
            GEN,
            TRACE,
            {
                "end_time": utc(4),
                "output": {"role": "assistant", "content": "42"},
                "usage_details": {"input": 100, "output": 20, "total": 120},
                "cost_details": {"input": 0.001, "output": 0.002, "total": 0.003},
            },
        ),
        ObservationUpsert(
            LEGACY,
            TRACE,
            {
                "type": "GENERATION",
                "name": "legacy-usage",
                "start_time": utc(5),
                "environment": "staging",
                "input": "hi",
                "output": "hello",
                "model": "gpt-3.5-turbo",
                "usage_details": {"input": 5, "output": 6, "total": 11},
                "cost_details": {"input": 0.1, "output": 0.2, "total": 0.3},
            },
        ),
        ObservationUpsert(
            OPENAI,
            TRACE,
            {
                "type": "GENERATION",
                "name": "openai-usage",
                "start_time": utc(6),
                "environment": "staging",
                "usage_details": {"input": 5, "output": 6, "total": 11},
            },
        ),
        ObservationUpsert(
            EVENT,
            TRACE,
            {
                "type": "EVENT",
                "name": "my-event",
                "start_time": utc(7),
                "end_time": utc(7),
                "level": "WARNING",
                "status_message": "warn",
                "environment": "staging",
                "input": {"e": 1},
                "output": {"o": 2},
            },
        ),
        ObservationUpsert(
            ERR_SPAN,
            TRACE,
            {
                "type": "SPAN",
                "name": "err-span",
                "start_time": utc(8),
                "level": "ERROR",
                "status_message": "failed",
                "environment": "staging",
            },
        ),
    ]
    # Scores are handed over untouched (the score service validates them), in event order.
    assert [s.event_id for s in result.scores] == [
        "evt-score-1",
        "evt-score-2",
        "evt-score-3",
        "evt-score-4",
    ]
    assert [s.body for s in result.scores] == [e["body"] for e in V2_SEQUENCE[10:]]
    assert all(s.timestamp == T0 for s in result.scores)
    # Every body sent its own time: no envelope fallbacks are needed.
    assert result.default_trace_timestamps == {}
    assert result.default_start_times == {}


def test_decorator_sequence() -> None:
    """@observe: the top-level function is the trace; snake_case start/end_time are ignored."""
    fn_span = "5a6b7c8d-0000-4000-8000-000000000001"
    fn_gen = "5a6b7c8d-0000-4000-8000-000000000002"
    result = parse(
        ev(
            "trace-create",
            {
                "id": TRACE,
                "timestamp": at(0),
                "name": "outer-fn",
                "input": {"args": ["question"], "kwargs": {}},
                "start_time": at(0),
            },
            "d1",
        ),
        ev("trace-create", {"id": TRACE, "metadata": {"step": "one"}}, "d2", ts=at(0.1)),
        ev("trace-create", {"id": TRACE, "tags": ["decorated"]}, "d3", ts=at(0.2)),
        ev(
            "span-create",
            {
                "id": fn_span,
                "traceId": TRACE,
                "name": "inner-fn",
                "startTime": at(0.3),
                "input": {"args": [], "kwargs": {"x": 1}},
            },
            "d4",
        ),
        ev(
            "span-update",
            {"id": fn_span, "traceId": TRACE, "endTime": at(0.4), "output": "inner"},
            "d5",
        ),
        ev(
            "generation-create",
            {
                "id": fn_gen,
                "traceId": TRACE,
                "name": "llm-fn",
                "startTime": at(0.5),
                "parentObservationId": fn_span,
            },
            "d6",
        ),
        ev(
            "generation-update",
            {
                "id": fn_gen,
                "traceId": TRACE,
                "endTime": at(0.6),
                "model": "gpt-4o-mini",
                "usageDetails": {"input": 10, "output": 3},
                "costDetails": {"total": 0.0002},
                "output": "answer",
            },
            "d7",
        ),
        ev(
            "trace-create",
            {"id": TRACE, "name": "renamed", "userId": "u1", "sessionId": "s1"},
            "d8",
            ts=at(0.7),
        ),
        ev(
            "trace-create",
            {"id": TRACE, "output": "answer", "end_time": at(0.8)},
            "d9",
            ts=at(0.8),
        ),
    )
    assert result.errors == []
    assert result.successes == [f"d{i}" for i in range(1, 10)]
    assert result.batch.traces == [
        TraceUpsert(
            TRACE,
            {
                "name": "outer-fn",
                "input": {"args": ["question"], "kwargs": {}},
                "timestamp": utc(0),
            },
        ),
        TraceUpsert(TRACE, {"metadata": {"step": "one"}}),
        TraceUpsert(TRACE, {"tags": ["decorated"]}),
        TraceUpsert(TRACE, {"name": "renamed", "user_id": "u1", "session_id": "s1"}),
        TraceUpsert(TRACE, {"output": "answer"}),
    ]
    assert result.batch.observations == [
        ObservationUpsert(
            fn_span,
            TRACE,
            {
                "type": "SPAN",
                "name": "inner-fn",
                "start_time": utc(0.3),
                "input": {"args": [], "kwargs": {"x": 1}},
            },
        ),
        ObservationUpsert(fn_span, TRACE, {"end_time": utc(0.4), "output": "inner"}),
        ObservationUpsert(
            fn_gen,
            TRACE,
            {
                "type": "GENERATION",
                "name": "llm-fn",
                "start_time": utc(0.5),
                "parent_observation_id": fn_span,
            },
        ),
        ObservationUpsert(
            fn_gen,
            TRACE,
            {
                "end_time": utc(0.6),
                "output": "answer",
                "model": "gpt-4o-mini",
                # no total invented: the service computes totals
                "usage_details": {"input": 10, "output": 3},
                "cost_details": {"total": 0.0002},
            },
        ),
    ]
    # The first trace-create carried body.timestamp, so the later ones need no fallback.
    assert result.default_trace_timestamps == {}


# ------------------------------------------------------------------------------------------------
# usage, model parameters, quirks


def generation(**body: Any) -> dict[str, Any]:
    return ev("generation-create", {"id": GEN, "traceId": TRACE, "startTime": TS, **body})


def test_legacy_usage_maps_tokens_and_costs() -> None:
    obs = only_observation(
        parse(
            generation(
                usage={
                    "input": 5,
                    "output": 6,
                    "total": 11,
                    "unit": "TOKENS",
                    "inputCost": 0.1,
                    "outputCost": 0.2,
                    "totalCost": 0.3,
                }
            )
        )
    )
    assert obs.fields["usage_details"] == {"input": 5, "output": 6, "total": 11}
    assert obs.fields["cost_details"] == {"input": 0.1, "output": 0.2, "total": 0.3}


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {"promptTokens": 5, "completionTokens": 6, "totalTokens": 11},
            {"input": 5, "output": 6, "total": 11},
        ),
        (
            {
                "prompt_tokens": 50,
                "completion_tokens": 60,
                "total_tokens": 110,
                "prompt_tokens_details": {"cached_tokens": 20, "audio_tokens": None},
                "completion_tokens_details": {"reasoning_tokens": 30},
            },
            {
                "input": 50,
                "output": 60,
                "total": 110,
                "input_cached_tokens": 20,
                "output_reasoning_tokens": 30,
            },
        ),
        (  # OpenAI Responses API
            {
                "input_tokens": 7,
                "output_tokens": 8,
                "total_tokens": 15,
                "input_tokens_details": {"cached_tokens": 1},
                "output_tokens_details": {"reasoning_tokens": 2},
            },
            {
                "input": 7,
                "output": 8,
                "total": 15,
                "input_cached_tokens": 1,
                "output_reasoning_tokens": 2,
            },
        ),
    ],
)
@pytest.mark.parametrize("key", ["usage", "usageDetails"])
def test_openai_usage(key: str, usage: dict[str, Any], expected: dict[str, Any]) -> None:
    obs = only_observation(parse(generation(**{key: usage})))
    assert obs.fields["usage_details"] == expected
    assert "cost_details" not in obs.fields


def test_usage_details_free_keys_kept_and_merged_over_legacy_usage() -> None:
    obs = only_observation(
        parse(
            generation(
                usage={"input": 1, "output": 2, "inputCost": 0.5},
                usageDetails={"input": 10, "cache_read": 4, "audio": 1.5},
                costDetails={"input": 1, "cache_read": 0.25},
            )
        )
    )
    assert obs.fields["usage_details"] == {"input": 10, "output": 2, "cache_read": 4, "audio": 1.5}
    assert obs.fields["cost_details"] == {"input": 1.0, "cache_read": 0.25}
    assert isinstance(obs.fields["cost_details"]["input"], float)


def test_usage_without_values_is_not_emitted() -> None:
    obs = only_observation(
        parse(generation(usage={"unit": "TOKENS", "input": None}, usageDetails={}))
    )
    assert "usage_details" not in obs.fields
    assert "cost_details" not in obs.fields


def test_string_model_parameters_become_numbers() -> None:
    obs = only_observation(
        parse(
            generation(
                modelParameters={
                    "temperature": "0.7",
                    "top_p": "1",
                    "max_tokens": 100,
                    "presence_penalty": "-1.5",
                    "frequency_penalty": "2e-1",
                    "seed": "007",
                    "huge": "1e400",
                    "stop": ["\n"],
                    "stream": False,
                    "tool_choice": "auto",
                    "n": None,
                    "response_format": {"type": "json_object"},
                }
            )
        )
    )
    assert obs.fields["model_parameters"] == {
        "temperature": 0.7,
        "top_p": 1,
        "max_tokens": 100,
        "presence_penalty": -1.5,
        "frequency_penalty": 0.2,
        "seed": "007",
        "huge": "1e400",
        "stop": ["\n"],
        "stream": False,
        "tool_choice": "auto",
        "response_format": '{"type": "json_object"}',
    }
    assert isinstance(obs.fields["model_parameters"]["top_p"], int)


def test_snake_case_parent_observation_id_is_a_fallback() -> None:
    only_snake = only_observation(parse(generation(parent_observation_id=SPAN)))
    assert only_snake.fields["parent_observation_id"] == SPAN
    both = only_observation(parse(generation(parentObservationId=SPAN, parent_observation_id="x")))
    assert both.fields["parent_observation_id"] == SPAN
    empty = only_observation(parse(generation(parentObservationId="")))
    assert "parent_observation_id" not in empty.fields


def test_snake_case_times_are_fallbacks_for_observations() -> None:
    result = parse(
        ev(
            "span-create",
            {"id": SPAN, "traceId": TRACE, "start_time": at(1), "end_time": at(2)},
        ),
        ev(
            "span-update",
            {"id": SPAN, "traceId": TRACE, "endTime": at(3), "end_time": at(9)},
        ),
    )
    assert result.errors == []
    first, second = result.batch.observations
    assert first.fields == {"type": "SPAN", "start_time": utc(1), "end_time": utc(2)}
    assert second.fields == {"end_time": utc(3)}


def test_metadata_that_is_not_an_object_is_wrapped() -> None:
    result = parse(
        ev("trace-create", {"id": TRACE, "metadata": "plain"}),
        ev("span-create", {"id": SPAN, "traceId": TRACE, "metadata": [1, 2]}),
    )
    assert result.batch.traces[0].fields == {"metadata": {"metadata": "plain"}}
    assert result.batch.observations[0].fields["metadata"] == {"metadata": [1, 2]}


def test_null_fields_count_as_not_sent() -> None:
    result = parse(
        ev("trace-create", {"id": TRACE, "name": None, "output": None, "tags": None}),
        ev(
            "span-update",
            {"id": SPAN, "traceId": None, "output": None, "level": None, "endTime": at(1)},
        ),
    )
    assert result.errors == []
    assert result.batch.traces == [TraceUpsert(TRACE, {})]
    assert result.batch.observations == [ObservationUpsert(SPAN, "", {"end_time": utc(1)})]


def test_prompt_fields() -> None:
    obs = only_observation(parse(generation(promptName="qa", promptVersion=3)))
    assert obs.fields["prompt_name"] == "qa"
    assert obs.fields["prompt_version"] == 3
    assert only_observation(parse(generation(promptVersion=2.0))).fields["prompt_version"] == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T21:08:14.375546Z", T0),
        ("2026-11-26T23:08:14.375546+02:00", T0),
        ("2026-11-26T21:08:14.375546", T0),  # naive: UTC
        ("2026-11-26T21:08:14.375546123Z", T0),  # nanoseconds truncated
        ("2026-11-26T21:08:14Z", T0.replace(microsecond=0)),
    ],
)
def test_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    obs = only_observation(parse(generation(startTime=text)))
    start = obs.fields["start_time"]
    assert start == expected
    assert start.tzinfo is UTC


def test_offset_timestamp_is_converted_not_relabelled() -> None:
    obs = only_observation(parse(generation(startTime="2026-01-01T05:00:00-05:00")))
    assert obs.fields["start_time"] == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert obs.fields["start_time"].utcoffset() == timedelta(0)


# ------------------------------------------------------------------------------------------------
# envelope timestamps, ids, trace ids


def test_envelope_timestamp_is_a_default_only() -> None:
    result = parse(
        ev("trace-create", {"id": TRACE, "name": "no-time"}, ts=at(5)),
        ev("trace-create", {"id": TRACE, "output": 1}, ts=at(6)),
        ev("span-create", {"id": SPAN, "traceId": TRACE}, ts=at(7)),
        ev("event-create", {"id": EVENT, "traceId": TRACE}, ts=at(8)),
        ev("span-update", {"id": ERR_SPAN, "traceId": TRACE, "output": 2}, ts=at(9)),
    )
    assert result.errors == []
    assert all("timestamp" not in t.fields for t in result.batch.traces)
    assert result.default_trace_timestamps == {TRACE: utc(5)}
    # creates only; an EVENT without a start gets its end from the service's default too
    assert result.default_start_times == {SPAN: utc(7), EVENT: utc(8)}
    assert result.batch.observations[1].fields == {"type": "EVENT"}


def test_default_dropped_when_the_batch_sends_the_field() -> None:
    result = parse(
        ev("trace-create", {"id": TRACE, "name": "first"}, ts=at(5)),
        ev("trace-create", {"id": TRACE, "timestamp": at(1)}, ts=at(6)),
    )
    assert result.default_trace_timestamps == {}


def test_missing_envelope_timestamp_is_tolerated() -> None:
    result = parse_ingestion(
        {"batch": [{"id": "e1", "type": "trace-create", "body": {"id": TRACE, "name": "n"}}]}
    )
    assert result.successes == ["e1"]
    assert result.default_trace_timestamps == {}


def test_creates_without_body_id_use_the_event_id() -> None:
    result = parse(
        ev("trace-create", {"name": "anonymous"}, "evt-t"),
        ev("span-create", {"traceId": TRACE, "name": "anonymous"}, "evt-s"),
    )
    assert result.errors == []
    assert result.batch.traces[0].id == "evt-t"
    assert result.batch.observations[0].id == "evt-s"


def test_update_before_create() -> None:
    """An update may arrive first, without traceId; it carries only what it sent."""
    result = parse(
        ev("generation-update", {"id": GEN, "endTime": at(2), "output": "late"}, "u1"),
        ev(
            "generation-create",
            {"id": GEN, "traceId": TRACE, "name": "gen", "startTime": at(1)},
            "c1",
        ),
    )
    assert result.errors == []
    assert result.successes == ["u1", "c1"]
    assert result.batch.observations == [
        # trace id filled in from the create of the same batch
        ObservationUpsert(GEN, TRACE, {"end_time": utc(2), "output": "late"}),
        ObservationUpsert(GEN, TRACE, {"type": "GENERATION", "name": "gen", "start_time": utc(1)}),
    ]


def test_update_without_trace_id_alone_leaves_it_to_the_service() -> None:
    obs = only_observation(parse(ev("span-update", {"id": SPAN, "endTime": at(1)})))
    assert obs == ObservationUpsert(SPAN, "", {"end_time": utc(1)})


# ------------------------------------------------------------------------------------------------
# observation types


@pytest.mark.parametrize("obs_type", [t.value for t in ObservationType])
def test_observation_create_with_each_type(obs_type: str) -> None:
    obs = only_observation(
        parse(
            ev(
                "observation-create",
                {"id": SPAN, "traceId": TRACE, "type": obs_type, "name": "n", "startTime": at(1)},
            )
        )
    )
    expected: dict[str, Any] = {"type": obs_type, "name": "n", "start_time": utc(1)}
    if obs_type == "EVENT":
        expected["end_time"] = utc(1)
    assert obs == ObservationUpsert(SPAN, TRACE, expected)


@pytest.mark.parametrize(
    "obs_type", ["AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR", "EMBEDDING", "GUARDRAIL"]
)
def test_typed_create_events(obs_type: str) -> None:
    event = ev(f"{obs_type.lower()}-create", {"id": SPAN, "traceId": TRACE, "model": "m"})
    obs = only_observation(parse(event))
    assert obs.fields == {"type": obs_type, "model": "m"}


def test_observation_update_type_only_when_sent() -> None:
    result = parse(
        ev("observation-update", {"id": SPAN, "traceId": TRACE, "output": 1}),
        ev("observation-update", {"id": SPAN, "traceId": TRACE, "type": "TOOL"}),
        ev("span-update", {"id": SPAN, "traceId": TRACE, "output": 2}),
        ev("generation-update", {"id": SPAN, "traceId": TRACE, "output": 3}),
    )
    assert [o.fields for o in result.batch.observations] == [
        {"output": 1},
        {"type": "TOOL"},
        {"output": 2},
        {"output": 3},
    ]


# ------------------------------------------------------------------------------------------------
# scores, sdk-log


def test_v3_score_create_is_handed_over() -> None:
    """§4: langfuse 3.x/4.x send scores as score-create events (32-hex event id, 16-hex ids)."""
    body = {
        "id": "3aff5d76dcd146d0",
        "traceId": "1069aa2b3c4d5e6f7a8b9c0d1e2f8542",
        "observationId": "c55ac2c7a7b58de2",
        "name": "obs-numeric",
        "value": 0.9,
        "comment": "good",
        "dataType": "NUMERIC",
    }
    result = parse_ingestion(
        {
            "batch": [
                {
                    "id": "24e86f3d5eae90165b2d0772c4426971",
                    "type": "score-create",
                    "timestamp": TS,
                    "body": body,
                }
            ],
            "metadata": {
                "batch_size": 1,
                "sdk_name": "python",
                "sdk_version": "3.15.0",
                "public_key": "pk-lf-test",
            },
        }
    )
    assert result.scores == [ScoreEvent("24e86f3d5eae90165b2d0772c4426971", body, T0)]
    assert result.successes == []
    assert result.errors == []
    assert result.batch.traces == []
    assert result.batch.observations == []


def test_score_create_needs_an_object_body() -> None:
    result = parse(ev("score-create", "nope", "s1"))
    assert result.scores == []
    assert result.errors == [
        EventError("s1", 400, "body: must be an object, got string", "InvalidRequest")
    ]


def test_sdk_log_is_accepted_and_ignored() -> None:
    result = parse(
        ev("sdk-log", {"log": "flush failed"}, "log-1"),
        ev("sdk-log", "free text", "log-2", ts="not a time"),
    )
    assert result.successes == ["log-1", "log-2"]
    assert result.errors == []
    assert result.batch.traces == []
    assert result.batch.observations == []
    assert result.scores == []


# ------------------------------------------------------------------------------------------------
# validation


def test_mixed_batch_keeps_good_events_and_reports_bad_ones() -> None:
    batch: list[Any] = [
        ev("trace-create", {"id": TRACE, "name": "ok"}, "good-1"),
        {"type": "trace-create", "timestamp": TS, "body": {"id": TRACE}},
        ev("trace-foo", {"id": TRACE}, "bad-type"),
        ev("span-create", ["not", "an", "object"], "bad-body"),
        ev("span-update", {"traceId": TRACE, "output": 1}, "no-body-id"),
        ev("span-create", {"id": SPAN, "name": "x"}, "no-trace-id"),
        ev("span-create", {"id": SPAN, "traceId": TRACE, "name": 42}, "bad-name"),
        ev("span-create", {"id": SPAN, "traceId": TRACE}, "bad-envelope-ts", ts="yesterday"),
        ev("span-create", {"id": SPAN, "traceId": TRACE, "startTime": "26/11/2026"}, "bad-start"),
        ev("span-create", {"id": SPAN, "traceId": TRACE, "level": "INFO"}, "bad-level"),
        ev("observation-create", {"id": SPAN, "traceId": TRACE, "type": "STEP"}, "bad-type2"),
        ev("observation-create", {"id": SPAN, "traceId": TRACE}, "no-type"),
        ev("generation-create", generation(usageDetails={"input": -1})["body"], "neg-usage"),
        ev("generation-create", generation(usage={"input": "5"})["body"], "str-usage"),
        ev("generation-create", generation(costDetails={"total": -0.1})["body"], "neg-cost"),
        ev("trace-create", {"id": TRACE, "tags": ["a", 1]}, "bad-tags"),
        ev("trace-create", {"id": TRACE, "public": "yes"}, "bad-public"),
        ev("trace-create", {"id": 7}, "bad-id"),
        ev("generation-create", generation(promptVersion="1")["body"], "bad-prompt-version"),
        "not an event",
        ev("span-create", {"id": SPAN, "traceId": TRACE, "name": "fine"}, "good-2"),
    ]
    result = parse_ingestion({"batch": batch})

    assert result.successes == ["good-1", "good-2"]
    assert result.batch.traces == [TraceUpsert(TRACE, {"name": "ok"})]
    assert result.batch.observations == [
        ObservationUpsert(SPAN, TRACE, {"type": "SPAN", "name": "fine"})
    ]
    assert all(e.status == 400 and e.error == "InvalidRequest" for e in result.errors)
    assert [(e.id, e.message) for e in result.errors] == [
        ("#1", "id: required (the event id, a non-empty string)"),
        (
            "bad-type",
            "type: unknown event type 'trace-foo'; expected one of trace-create, span-create, "
            "span-update, generation-create, generation-update, event-create, agent-create, "
            "tool-create, chain-create, retriever-create, evaluator-create, embedding-create, "
            "guardrail-create, observation-create, observation-update, score-create, sdk-log",
        ),
        ("bad-body", "body: must be an object, got array"),
        ("no-body-id", "body.id: required on span-update"),
        ("no-trace-id", "body.traceId: required on span-create"),
        ("bad-name", "body.name: must be a string, got number"),
        ("bad-envelope-ts", "timestamp: not an ISO 8601 date-time: 'yesterday'"),
        ("bad-start", "body.startTime: not an ISO 8601 date-time: '26/11/2026'"),
        ("bad-level", "body.level: must be one of DEBUG, DEFAULT, WARNING, ERROR, got 'INFO'"),
        (
            "bad-type2",
            "body.type: must be one of SPAN, GENERATION, EVENT, AGENT, TOOL, CHAIN, RETRIEVER, "
            "EVALUATOR, EMBEDDING, GUARDRAIL, got 'STEP'",
        ),
        ("no-type", "body.type: required on observation-create"),
        ("neg-usage", "body.usageDetails.input: must be a non-negative number, got -1"),
        ("str-usage", "body.usage.input: must be a non-negative number, got string"),
        ("neg-cost", "body.costDetails.total: must be a non-negative number, got -0.1"),
        ("bad-tags", "body.tags[1]: must be a string, got number"),
        ("bad-public", "body.public: must be a boolean, got string"),
        ("bad-id", "body.id: must be a non-empty string, got number"),
        ("bad-prompt-version", "body.promptVersion: must be an integer, got string"),
        ("#19", "event: must be an object, got string"),
    ]


def test_empty_ids_are_rejected() -> None:
    result = parse(
        ev("trace-create", {"id": ""}, "t"),
        {"id": "", "type": "sdk-log", "timestamp": TS, "body": {}},
        ev("span-create", {"id": SPAN, "traceId": ""}, "s"),
    )
    assert [(e.id, e.message) for e in result.errors] == [
        ("t", "body.id: must be a non-empty string, got an empty string"),
        ("#1", "id: must be a non-empty string, got an empty string"),
        ("s", "body.traceId: must be a non-empty string, got an empty string"),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "batch",
        {},
        {"batch": None},
        {"batch": {"id": "e1"}},
        {"events": []},
    ],
)
def test_top_level_must_be_an_object_with_a_batch_array(payload: Any) -> None:
    with pytest.raises(Invalid) as caught:
        parse_ingestion(payload)
    assert caught.value.message == "body must be a JSON object with a 'batch' array"
    assert caught.value.status == 400


def test_empty_batch() -> None:
    result = parse_ingestion({"batch": []})
    assert result == IngestionParse(result.batch, [], [], [])
    assert result.batch.traces == []
    assert result.batch.observations == []


def test_large_io_is_not_truncated() -> None:
    big = "x" * 2_000_000
    obs = only_observation(parse(generation(input=big)))
    assert obs.fields["input"] is big
