"""OTLP/HTTP trace parser: real OpenTelemetry SDK exports (protobuf and JSON) to records.

Spans are built with the installed opentelemetry-sdk and encoded by its own OTLP encoder, with
the attribute keys and values captured from the Langfuse SDKs and plain exporters in
`langfuse-wire.md` §2.3 (v5), §4 (v3/v4) and §5.2 (GenAI semconv, OpenInference).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    KeyValue,
    KeyValueList,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from tracemark.ingest.otlp import parse_otlp
from tracemark.ingest.records import (
    OBSERVATION_FIELDS,
    TRACE_FIELDS,
    Batch,
    Level,
    ObservationType,
    ObservationUpsert,
    TraceUpsert,
)
from tracemark.services.errors import Invalid, PayloadTooLarge, UnsupportedMediaType

PB = "application/x-protobuf"
JSON = "application/json"
MAX = 16 << 20

TRACE_ID = "9e7160cffff384dcfc3854499cf72c7d"
T0 = 1_764_191_235_364_417_123  # 2025-11-26T21:07:15.364417123Z
T0_DT = datetime(2025, 11, 26, 21, 7, 15, 364417, tzinfo=UTC)


def at(ms: int) -> int:
    """T0 plus `ms` milliseconds, in unix nanoseconds."""
    return T0 + ms * 1_000_000


def dt(ms: int) -> datetime:
    return datetime.fromtimestamp(at(ms) // 1000 / 1e6, UTC)


class Ids(IdGenerator):
    """Deterministic ids: one trace id, span ids 0000000000000001, 0000000000000002, ..."""

    def __init__(self, trace_id: str = TRACE_ID) -> None:
        self.trace_id = int(trace_id, 16)
        self.n = 0

    def generate_span_id(self) -> int:
        self.n += 1
        return self.n

    def generate_trace_id(self) -> int:
        return self.trace_id


def sid(n: int) -> str:
    return f"{n:016x}"


class Export:
    """A TracerProvider whose ended spans are kept, to be encoded as one OTLP request."""

    def __init__(
        self,
        resource: Mapping[str, Any] | None = None,
        scope: tuple[str, str] = ("langfuse-sdk", "5.0.4"),
        scope_attributes: Mapping[str, Any] | None = None,
        trace_id: str = TRACE_ID,
    ) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(
            resource=Resource(dict(resource or {})), id_generator=Ids(trace_id)
        )
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer(
            scope[0], scope[1], attributes=dict(scope_attributes) if scope_attributes else None
        )

    def span(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        parent: trace_api.Span | None = None,
        start: int = 0,
        end: int | None = 1000,
        kind: SpanKind = SpanKind.INTERNAL,
        links: Sequence[Link] = (),
    ) -> trace_api.Span:
        """Start a span (ms after T0) and end it unless `end` is None."""
        context = trace_api.set_span_in_context(parent) if parent is not None else None
        span = self.tracer.start_span(
            name,
            context=context,
            kind=kind,
            attributes=dict(attributes or {}),
            start_time=at(start),
            links=links,
        )
        if end is not None:
            span.end(end_time=at(end))
        return span

    @property
    def spans(self) -> Sequence[ReadableSpan]:
        return self.exporter.get_finished_spans()

    def protobuf(self) -> bytes:
        return bytes(encode_spans(self.spans).SerializeToString())

    def parse(self) -> Batch:
        return parse(self.protobuf())


def check_contract(batch: Batch) -> None:
    """Every record carries only fields of records.py, with the declared Python types."""
    for t in batch.traces:
        assert isinstance(t, TraceUpsert)
        assert len(t.id) == 32 and t.id == t.id.lower()
        for key, value in t.fields.items():
            assert key in TRACE_FIELDS, key
            assert isinstance(value, TRACE_FIELDS[key]), (key, value)
        for tag in t.fields.get("tags", []):
            assert isinstance(tag, str)
    for o in batch.observations:
        assert isinstance(o, ObservationUpsert)
        assert len(o.id) == 16 and len(o.trace_id) == 32
        for key, value in o.fields.items():
            assert key in OBSERVATION_FIELDS, key
            assert isinstance(value, OBSERVATION_FIELDS[key]), (key, value)
        assert o.fields["type"] in set(ObservationType)
        assert o.fields.get("level", "DEFAULT") in set(Level)
        for key in ("start_time", "end_time", "completion_start_time"):
            if key in o.fields:
                assert o.fields[key].utcoffset().total_seconds() == 0
        for key in ("usage_details", "cost_details"):
            for v in o.fields.get(key, {}).values():
                assert type(v) in (int, float)
        json.dumps(o.fields.get("metadata"), allow_nan=False)  # storable as JSON


def parse(
    body: bytes, content_type: str | None = PB, encoding: str | None = None, max_bytes: int = MAX
) -> Batch:
    batch = parse_otlp(body, content_type, encoding, max_bytes=max_bytes)
    check_contract(batch)
    return batch


def by_name(batch: Batch) -> dict[str, ObservationUpsert]:
    out = {o.fields.get("name", ""): o for o in batch.observations}
    assert len(out) == len(batch.observations), "test spans need distinct names"
    return out


def only_trace(batch: Batch) -> dict[str, Any]:
    assert len(batch.traces) == 1
    fields: dict[str, Any] = batch.traces[0].fields
    return fields


# --- Langfuse v5 (wire §2.3) ---------------------------------------------------------------

V5_TRACE_ATTRS = {
    "user.id": "user-123",
    "session.id": "session-abc",
    "langfuse.trace.metadata.tenant": '"acme"',
    "langfuse.trace.metadata.n": '"5"',
    "langfuse.version": "1.2.3",
    "langfuse.trace.tags": ("t1", "t2"),
    "langfuse.trace.name": "my-trace",
}
V5_RESOURCE = {
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "1.45.2",
    "service.name": "unknown_service:python",
}


def v5_main_run() -> Export:
    """The two spans of wire §2.3, as the v5 SDK sends them (child ends first)."""
    exp = Export(V5_RESOURCE, scope_attributes={"public_key": "pk-lf-test"})
    root = exp.span(
        "outer-fn",
        {
            **V5_TRACE_ATTRS,
            "langfuse.internal.is_app_root": True,
            "langfuse.observation.type": "span",
            "langfuse.observation.input": '{"args": ["What is the answer?"], "kwargs": {}}',
        },
        end=None,
    )
    exp.span(
        "chat-completion",
        {
            **V5_TRACE_ATTRS,
            "langfuse.observation.input": '[{"role": "user", "content": "What is the answer?"}]',
            "langfuse.observation.model.name": "gpt-4o",
            "langfuse.observation.completion_start_time": '"2025-01-01T00:00:01Z"',
            "langfuse.observation.model.parameters": '{"temperature": 0.7}',
            "langfuse.observation.metadata.gen_meta": '{"a":1}',
            "langfuse.observation.type": "generation",
            "langfuse.observation.output": '{"role": "assistant", "content": "42"}',
            "langfuse.observation.usage_details": (
                '{"input": 100, "output": 20, "total": 120, "cache_read_input_tokens": 5}'
            ),
            "langfuse.observation.cost_details": (
                '{"input": 0.001, "output": 0.002, "total": 0.003}'
            ),
        },
        parent=root,
        start=100,
        end=900,
    )
    root.set_attribute("langfuse.observation.output", '{"answer": 42}')
    root.end(end_time=at(1000))
    return exp


def test_v5_generation_fields() -> None:
    batch = v5_main_run().parse()
    assert [o.fields["name"] for o in batch.observations] == ["chat-completion", "outer-fn"]
    gen = by_name(batch)["chat-completion"]
    assert gen.id == sid(2)
    assert gen.trace_id == TRACE_ID
    f = dict(gen.fields)
    metadata = f.pop("metadata")
    assert f == {
        "type": "GENERATION",
        "name": "chat-completion",
        "parent_observation_id": sid(1),
        "start_time": dt(100),
        "end_time": dt(900),
        "input": [{"role": "user", "content": "What is the answer?"}],
        "output": {"role": "assistant", "content": "42"},
        "model": "gpt-4o",
        "model_parameters": {"temperature": 0.7},
        "usage_details": {"input": 100, "output": 20, "total": 120, "cache_read_input_tokens": 5},
        "cost_details": {"input": 0.001, "output": 0.002, "total": 0.003},
        "completion_start_time": datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
        "version": "1.2.3",
    }
    assert metadata == {
        "gen_meta": {"a": 1},
        "resourceAttributes": V5_RESOURCE,
        "scope": {
            "name": "langfuse-sdk",
            "version": "5.0.4",
            "attributes": {"public_key": "pk-lf-test"},
        },
    }


def test_v5_root_span_and_trace() -> None:
    batch = v5_main_run().parse()
    root = by_name(batch)["outer-fn"]
    assert root.id == sid(1)
    assert "parent_observation_id" not in root.fields
    assert root.fields["type"] == "SPAN"
    assert root.fields["input"] == {"args": ["What is the answer?"], "kwargs": {}}
    assert root.fields["output"] == {"answer": 42}
    assert root.fields["start_time"] == T0_DT
    assert root.fields["metadata"]["attributes"] == {"langfuse.internal.is_app_root": True}
    assert only_trace(batch) == {
        "name": "my-trace",
        "user_id": "user-123",
        "session_id": "session-abc",
        "tags": ["t1", "t2"],
        "metadata": {"tenant": "acme", "n": "5"},
        "version": "1.2.3",
    }
    assert batch.traces[0].id == TRACE_ID


def test_v5_observation_types_levels_and_plain_values() -> None:
    exp = Export()
    root = exp.span("root", end=None)
    types = [t.value.lower() for t in ObservationType]
    for i, t in enumerate(types):
        exp.span(f"obs-{t}", {"langfuse.observation.type": t}, parent=root, start=i, end=i + 1)
    exp.span(
        "inner",
        {
            "langfuse.observation.level": "WARNING",
            "langfuse.observation.status_message": "inner warn",
            "langfuse.observation.output": "decorated answer",
            "langfuse.observation.metadata": '"plain-string-meta"',
            "langfuse.observation.prompt.name": "my-prompt",
            "langfuse.observation.prompt.version": 3,
            "langfuse.trace.public": True,
        },
        parent=root,
    )
    exp.span("my-event", {"langfuse.observation.type": "event"}, parent=root, start=5, end=5)
    root.end(end_time=at(2000))
    obs = by_name(exp.parse())
    for t in types:
        assert obs[f"obs-{t}"].fields["type"] == t.upper()
    inner = obs["inner"].fields
    assert inner["level"] == "WARNING"
    assert inner["status_message"] == "inner warn"
    assert inner["output"] == "decorated answer"
    assert inner["metadata"]["metadata"] == "plain-string-meta"
    assert inner["prompt_name"] == "my-prompt"
    assert inner["prompt_version"] == 3
    assert obs["my-event"].fields["type"] == "EVENT"
    assert obs["my-event"].fields["start_time"] == obs["my-event"].fields["end_time"]
    assert obs["root"].fields["type"] == "SPAN"


def test_v5_environment_and_release() -> None:
    """Variant run: resource staging/rel-9, propagate_attributes(environment='prod-eu')."""
    exp = Export({**V5_RESOURCE, "langfuse.environment": "staging", "langfuse.release": "rel-9"})
    root = exp.span("root", end=None)
    exp.span("child", {"langfuse.environment": "prod-eu"}, parent=root)
    exp.span("other", parent=root)
    root.end(end_time=at(1000))
    batch = exp.parse()
    obs = by_name(batch)
    assert obs["child"].fields["environment"] == "prod-eu"
    assert obs["other"].fields["environment"] == "staging"
    assert obs["root"].fields["environment"] == "staging"
    # The span's own value beats the resource fallback, whatever the span order.
    assert only_trace(batch) == {"environment": "prod-eu", "release": "rel-9"}


def test_trace_attributes_merge_across_spans() -> None:
    exp = Export()
    root = exp.span("root", {"langfuse.trace.tags": ("a", "b")}, end=None)
    exp.span(
        "c1",
        {"langfuse.trace.metadata.k1": '"v1"', "langfuse.trace.tags": ("b", "c")},
        parent=root,
    )
    exp.span(
        "c2",
        {"langfuse.trace.metadata.k2": "2", "user.id": "u-1", "langfuse.trace.name": "first"},
        parent=root,
    )
    exp.span("c3", {"user.id": "u-2", "langfuse.trace.name": "second"}, parent=root)
    root.end(end_time=at(1000))
    assert only_trace(exp.parse()) == {
        "tags": ["b", "c", "a"],
        "metadata": {"k1": "v1", "k2": 2},
        "user_id": "u-2",
        "name": "second",
    }


def test_one_trace_record_per_trace_in_order_of_first_appearance() -> None:
    a = Export(trace_id="11111111111111111111111111111111")
    a.span("a1", {"session.id": "s-a"})
    b = Export(trace_id="22222222222222222222222222222222")
    b.span("b1")
    b.span("b2", {"langfuse.trace.name": "bee"})
    a.span("a2")
    body = encode_spans([*b.spans, *a.spans]).SerializeToString()
    batch = parse(body)
    assert [(t.id, t.fields) for t in batch.traces] == [
        ("22222222222222222222222222222222", {"name": "bee"}),
        ("11111111111111111111111111111111", {"session_id": "s-a"}),
    ]
    assert [o.fields["name"] for o in batch.observations] == ["b1", "b2", "a1", "a2"]


# --- Langfuse v3/v4 (wire §4) ------------------------------------------------------------


def test_v3_v4_raw_string_metadata_and_trace_io() -> None:
    exp = Export(scope=("langfuse-sdk", "3.15.0"))
    exp.span(
        "root",
        {
            "langfuse.trace.metadata.tenant": "acme",
            "langfuse.trace.metadata.n": "5",
            "langfuse.observation.metadata.k": "v",
            "langfuse.trace.input": '{"question": "q?"}',
            "langfuse.trace.output": "plain answer",
            "langfuse.trace.public": True,
            "langfuse.user.id": "user-lf",
            "user.id": "user-otel",
        },
    )
    batch = exp.parse()
    trace = only_trace(batch)
    # Raw v3/v4 values that are not JSON stay strings; "5" is valid JSON, so it becomes 5.
    assert trace["metadata"] == {"tenant": "acme", "n": 5}
    assert trace["input"] == {"question": "q?"}
    assert trace["output"] == "plain answer"
    assert trace["public"] is True
    assert trace["user_id"] == "user-lf"  # the langfuse.* key wins over the convention
    obs = batch.observations[0].fields
    assert obs["metadata"]["k"] == "v"
    assert obs["metadata"]["attributes"] == {"user.id": "user-otel"}  # the loser is kept


# --- errors: OTLP status and exception events --------------------------------------------


def test_error_status_and_exception_event() -> None:
    exp = Export()
    span = exp.span("failing", end=None)
    span.record_exception(ValueError("boom"), timestamp=at(500))
    span.add_event("retry", {"attempt": 2}, timestamp=at(600))
    span.set_status(Status(StatusCode.ERROR, "ValueError: boom"))
    span.end(end_time=at(700))
    obs = exp.parse().observations[0].fields
    assert obs["level"] == "ERROR"
    assert obs["status_message"] == "ValueError: boom"
    [exc] = obs["metadata"]["exceptions"]
    assert exc["type"] == "ValueError"
    assert exc["message"] == "boom"
    assert exc["escaped"] == "False"
    assert isinstance(exc["stacktrace"], str)
    assert exc["time"] == dt(500).isoformat().replace("+00:00", "Z")
    assert obs["metadata"]["events"] == [
        {
            "name": "retry",
            "time": dt(600).isoformat().replace("+00:00", "Z"),
            "attributes": {"attempt": 2},
        }
    ]


def test_explicit_langfuse_level_wins_over_status() -> None:
    exp = Export()
    span = exp.span(
        "s",
        {"langfuse.observation.level": "warning", "langfuse.observation.status_message": "mine"},
        end=None,
    )
    span.set_status(Status(StatusCode.ERROR, "theirs"))
    span.end(end_time=at(1))
    obs = exp.parse().observations[0].fields
    assert (obs["level"], obs["status_message"]) == ("WARNING", "mine")


# --- OpenTelemetry GenAI semantic conventions (wire §5.2) -------------------------------

GENAI_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "openai",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.request.temperature": 0.7,
    "gen_ai.request.max_tokens": 100,
    "gen_ai.request.top_p": 1.0,
    "gen_ai.response.id": "chatcmpl-123",
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 20,
    "gen_ai.input.messages": json.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]}]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "4"}],
                "finish_reason": "stop",
            }
        ]
    ),
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are helpful."}]),
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "What is 2+2?",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "4",
    "gen_ai.usage.prompt_tokens": 100,
    "gen_ai.usage.completion_tokens": 20,
    "server.address": "api.openai.com",
}
OTEL_RESOURCE = {
    "service.name": "my-llm-app",
    "service.version": "0.1.0",
    "deployment.environment.name": "dev",
}


def genai_export(attributes: Mapping[str, Any], events: bool = False) -> Export:
    exp = Export(OTEL_RESOURCE, scope=("my.instrumentation", "9.9.9"))
    span = exp.span("chat gpt-4o", attributes, kind=SpanKind.CLIENT, end=None)
    if events:
        span.add_event(
            "gen_ai.user.message",
            {"gen_ai.system": "openai", "content": "What is 2+2?"},
            timestamp=at(1),
        )
        span.add_event(
            "gen_ai.choice",
            {
                "gen_ai.system": "openai",
                "index": 0,
                "finish_reason": "stop",
                "message": '{"role": "assistant", "content": "4"}',
            },
            timestamp=at(2),
        )
    span.end(end_time=at(1000))
    return exp


def test_genai_current_conventions() -> None:
    batch = genai_export(GENAI_CHAT, events=True).parse()
    f = batch.observations[0].fields
    assert f["type"] == "GENERATION"
    assert f["model"] == "gpt-4o-2024-08-06"
    assert f["model_parameters"] == {"temperature": 0.7, "max_tokens": 100, "top_p": 1.0}
    assert f["usage_details"] == {"input": 100, "output": 20}
    assert f["input"] == [
        {"role": "system", "parts": [{"type": "text", "content": "You are helpful."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]},
    ]
    assert f["output"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "4"}], "finish_reason": "stop"}
    ]
    assert f["environment"] == "dev"
    assert f["version"] == "0.1.0"  # resource service.version, observation only
    md = f["metadata"]
    assert md["spanKind"] == "CLIENT"
    assert md["scope"] == {"name": "my.instrumentation", "version": "9.9.9"}
    assert md["resourceAttributes"] == OTEL_RESOURCE
    # Everything that did not become a field is kept, decoded: the losing legacy forms too.
    assert md["attributes"] == {
        "gen_ai.system": "openai",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.id": "chatcmpl-123",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "What is 2+2?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "4",
        "gen_ai.usage.prompt_tokens": 100,
        "gen_ai.usage.completion_tokens": 20,
        "server.address": "api.openai.com",
    }
    # The attribute forms won, so the message events stay events.
    assert [e["name"] for e in md["events"]] == ["gen_ai.user.message", "gen_ai.choice"]
    assert only_trace(batch) == {"environment": "dev"}


def test_genai_legacy_flattened_messages() -> None:
    attrs: dict[str, Any] = {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-3.5-turbo",
        "gen_ai.usage.prompt_tokens": 12,
        "gen_ai.usage.completion_tokens": 3,
        "gen_ai.usage.total_tokens": 15,
        "gen_ai.usage.cache_read_input_tokens": 4,
        "gen_ai.usage.cost": 0.0002,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.finish_reason": "tool_calls",
        "gen_ai.completion.0.tool_calls.0.id": "call-1",
        "gen_ai.completion.0.tool_calls.0.name": "get_weather",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"city": "Paris"}',
        "gen_ai.completion.0.tool_calls.1.id": "call-2",
        "gen_ai.completion.0.tool_calls.1.name": "get_time",
    }
    for i in range(11):  # index 10 must sort after 9, not after 1
        attrs[f"gen_ai.prompt.{i}.role"] = "user" if i % 2 else "system"
        attrs[f"gen_ai.prompt.{i}.content"] = f"message {i}"
    f = genai_export(attrs).parse().observations[0].fields
    assert f["type"] == "GENERATION"  # model and usage, no explicit type
    assert f["model"] == "gpt-3.5-turbo"
    assert f["usage_details"] == {"input": 12, "output": 3, "total": 15, "input_cached_tokens": 4}
    assert f["cost_details"] == {"total": 0.0002}
    assert f["input"] == [
        {"role": "user" if i % 2 else "system", "content": f"message {i}"} for i in range(11)
    ]
    assert f["output"] == [
        {
            "role": "assistant",
            "finish_reason": "tool_calls",
            "tool_calls": [
                {"id": "call-1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
                {"id": "call-2", "name": "get_time"},
            ],
        }
    ]
    assert f["metadata"]["attributes"] == {"gen_ai.system": "openai"}


def test_genai_message_events_when_no_attribute_form() -> None:
    exp = Export()
    span = exp.span("chat", {"gen_ai.operation.name": "chat"}, end=None)
    span.add_event(
        "gen_ai.system.message",
        {"gen_ai.system": "openai", "content": "Be brief."},
        timestamp=at(1),
    )
    span.add_event(
        "gen_ai.user.message", {"gen_ai.system": "openai", "content": "Hi"}, timestamp=at(2)
    )
    span.add_event(
        "gen_ai.assistant.message",
        {"content": "", "tool_calls": '[{"id": "c1", "type": "function"}]'},
        timestamp=at(3),
    )
    span.add_event("gen_ai.tool.message", {"content": "sunny", "id": "c1"}, timestamp=at(4))
    span.add_event(
        "gen_ai.choice",
        {
            "index": 0,
            "finish_reason": "stop",
            "message": '{"role": "assistant", "content": "Hello"}',
        },
        timestamp=at(5),
    )
    span.add_event("log", {"text": "unrelated"}, timestamp=at(6))
    span.end(end_time=at(10))
    f = exp.parse().observations[0].fields
    assert f["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "content": "sunny", "id": "c1"},
    ]
    assert f["output"] == [
        {"role": "assistant", "content": "Hello", "index": 0, "finish_reason": "stop"}
    ]
    assert f["metadata"]["events"] == [
        {
            "name": "log",
            "time": dt(6).isoformat().replace("+00:00", "Z"),
            "attributes": {"text": "unrelated"},
        }
    ]


def test_genai_tool_span() -> None:
    exp = Export()
    exp.span(
        "execute_tool get_weather",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call-1",
            "gen_ai.tool.call.arguments": '{"city": "Paris"}',
            "gen_ai.tool.call.result": "sunny, 21C",
        },
    )
    o = exp.parse().observations[0].fields
    assert o["type"] == "TOOL"
    assert o["name"] == "get_weather"
    assert o["input"] == {"city": "Paris"}
    assert o["output"] == "sunny, 21C"
    assert o["metadata"]["spanName"] == "execute_tool get_weather"
    assert o["metadata"]["attributes"] == {"gen_ai.tool.call.id": "call-1"}


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("chat", "GENERATION"),
        ("text_completion", "GENERATION"),
        ("generate_content", "GENERATION"),
        ("embeddings", "EMBEDDING"),
        ("execute_tool", "TOOL"),
        ("invoke_agent", "AGENT"),
        ("create_agent", "AGENT"),
        ("something_else", "SPAN"),
    ],
)
def test_genai_operation_types(operation: str, expected: str) -> None:
    exp = Export()
    exp.span("op", {"gen_ai.operation.name": operation})
    assert exp.parse().observations[0].fields["type"] == expected


# --- OpenInference (wire §5.2) -----------------------------------------------------------


def test_openinference_agent_root_with_genai_keys() -> None:
    exp = Export(OTEL_RESOURCE, scope=("my.instrumentation", "9.9.9"))
    root = exp.span(
        "invoke_agent my-agent",
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "my-agent",
            "gen_ai.agent.id": "agent-1",
            "gen_ai.conversation.id": "conv-42",
            "openinference.span.kind": "AGENT",
            "input.value": '{"question": "What is 2+2?"}',
            "input.mime_type": "application/json",
            "session.id": "session-abc",
            "user.id": "user-123",
            "metadata": '{"tenant": "acme"}',
            "tag.tags": ("t1", "t2"),
            "output.value": "4",
        },
        end=None,
    )
    exp.span("child", {"metadata": '{"step": 1}'}, parent=root)
    root.end(end_time=at(1000))
    batch = exp.parse()
    obs = by_name(batch)
    f = obs["invoke_agent my-agent"].fields
    assert f["type"] == "AGENT"
    assert f["input"] == {"question": "What is 2+2?"}
    assert f["output"] == "4"  # text/plain by default: no JSON number
    assert f["metadata"]["tenant"] == "acme"
    assert f["metadata"]["attributes"] == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "my-agent",
        "gen_ai.agent.id": "agent-1",
        "gen_ai.conversation.id": "conv-42",
    }
    assert obs["child"].fields["metadata"]["step"] == 1
    # OpenInference metadata reaches the trace from the root span only.
    assert only_trace(batch) == {
        "session_id": "session-abc",
        "user_id": "user-123",
        "tags": ["t1", "t2"],
        "metadata": {"tenant": "acme"},
        "environment": "dev",
    }


def test_conversation_id_is_a_session_id() -> None:
    exp = Export()
    exp.span("s", {"gen_ai.conversation.id": "conv-42"})
    assert only_trace(exp.parse()) == {"session_id": "conv-42"}


OI_LLM = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "gpt-4o-mini",
    "llm.provider": "openai",
    "llm.system": "openai",
    "llm.invocation_parameters": '{"temperature": 0.2}',
    "input.value": '{"messages": [{"role": "user", "content": "hi"}]}',
    "input.mime_type": "application/json",
    "output.value": "hello there",
    "output.mime_type": "text/plain",
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.content": "hi",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "hello there",
    "llm.token_count.prompt": 11,
    "llm.token_count.completion": 7,
    "llm.token_count.total": 18,
    "llm.token_count.prompt_details.cache_read": 3,
    "llm.cost.prompt": 0.0011,
    "llm.cost.completion": 0.0014,
    "llm.cost.total": 0.0025,
}


def test_openinference_llm_span() -> None:
    exp = Export()
    exp.span("ChatCompletion", OI_LLM)
    f = exp.parse().observations[0].fields
    assert f["type"] == "GENERATION"
    assert f["model"] == "gpt-4o-mini"
    assert f["model_parameters"] == {"temperature": 0.2}
    # For a GENERATION the chat messages win over input.value (kept in the attributes).
    assert f["input"] == [{"role": "user", "content": "hi"}]
    assert f["output"] == [{"role": "assistant", "content": "hello there"}]
    assert f["usage_details"] == {"input": 11, "output": 7, "total": 18, "input_cached_tokens": 3}
    assert f["cost_details"] == {"input": 0.0011, "output": 0.0014, "total": 0.0025}
    assert f["metadata"]["attributes"] == {
        "llm.provider": "openai",
        "llm.system": "openai",
        "input.value": '{"messages": [{"role": "user", "content": "hi"}]}',
        "input.mime_type": "application/json",
        "output.value": "hello there",
        "output.mime_type": "text/plain",
    }


def test_openinference_tool_calls_and_contents_nest() -> None:
    exp = Export()
    exp.span(
        "llm",
        {
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.contents.0.message_content.type": "text",
            "llm.input_messages.0.message.contents.0.message_content.text": "Weather in Paris?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call-1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
            "llm.token_count.completion_details.reasoning": 9,
            "llm.token_count.prompt_details.audio": 2,
            "llm.token_count.prompt_details.cache_write": 1,
        },
    )
    f = exp.parse().observations[0].fields
    assert f["input"] == [
        {
            "role": "user",
            "contents": [{"message_content": {"type": "text", "text": "Weather in Paris?"}}],
        }
    ]
    assert f["output"] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "tool_call": {
                        "id": "call-1",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                }
            ],
        }
    ]
    assert f["usage_details"] == {
        "output_reasoning_tokens": 9,
        "input_audio_tokens": 2,
        "input_cache_creation_tokens": 1,
    }


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("LLM", "GENERATION"),
        ("CHAIN", "CHAIN"),
        ("TOOL", "TOOL"),
        ("RETRIEVER", "RETRIEVER"),
        ("EMBEDDING", "EMBEDDING"),
        ("AGENT", "AGENT"),
        ("RERANKER", "SPAN"),
        ("GUARDRAIL", "GUARDRAIL"),
        ("EVALUATOR", "EVALUATOR"),
        ("UNKNOWN", "SPAN"),
    ],
)
def test_openinference_span_kinds(kind: str, expected: str) -> None:
    exp = Export()
    exp.span("s", {"openinference.span.kind": kind})
    assert exp.parse().observations[0].fields["type"] == expected


def test_openinference_chain_and_tool_values() -> None:
    exp = Export()
    exp.span(
        "chain",
        {
            "openinference.span.kind": "CHAIN",
            "input.value": "plain question",
            "output.value": '{"answer": 4}',  # no mime type, but clearly a JSON object
        },
    )
    exp.span(
        "tool",
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "calc",
            "input.value": '"quoted"',
            "input.mime_type": "application/json",
            "llm.input_messages.0.message.role": "user",
        },
    )
    obs = by_name(exp.parse())
    assert obs["chain"].fields["input"] == "plain question"
    assert obs["chain"].fields["output"] == {"answer": 4}
    tool = obs["tool"].fields
    assert tool["type"] == "TOOL"
    assert tool["input"] == "quoted"
    assert tool["metadata"]["attributes"] == {
        "tool.name": "calc",
        "llm.input_messages.0.message.role": "user",
    }


def test_langfuse_keys_win_over_conventions() -> None:
    exp = Export()
    exp.span(
        "s",
        {
            "langfuse.observation.type": "agent",
            "langfuse.observation.model.name": "mine",
            "langfuse.observation.input": '"lf input"',
            "langfuse.observation.usage_details": '{"input": 1}',
            "openinference.span.kind": "LLM",
            "gen_ai.response.model": "theirs",
            "gen_ai.usage.input_tokens": 99,
            "input.value": "oi input",
        },
    )
    f = exp.parse().observations[0].fields
    assert (f["type"], f["model"], f["input"], f["usage_details"]) == (
        "AGENT",
        "mine",
        "lf input",
        {"input": 1},
    )
    assert f["metadata"]["attributes"] == {
        "openinference.span.kind": "LLM",
        "gen_ai.response.model": "theirs",
        "gen_ai.usage.input_tokens": 99,
        "input.value": "oi input",
    }


def test_plain_span_without_llm_data_is_a_span() -> None:
    exp = Export({"deployment.environment": "legacy-env"})
    exp.span("db query", {"db.system": "postgresql", "db.rows": 3, "cache.hit": False})
    batch = exp.parse()
    f = batch.observations[0].fields
    assert f["type"] == "SPAN"
    assert f["environment"] == "legacy-env"
    assert f["metadata"]["attributes"] == {
        "db.system": "postgresql",
        "db.rows": 3,
        "cache.hit": False,
    }
    assert "level" not in f and "version" not in f
    assert only_trace(batch) == {"environment": "legacy-env"}


# --- timestamps, links, ids -------------------------------------------------------------------


def test_timestamps_are_aware_utc_truncated_to_microseconds() -> None:
    exp = Export()
    exp.span("s", start=0, end=1)
    f = exp.parse().observations[0].fields
    assert f["start_time"] == T0_DT
    assert f["start_time"].tzinfo is UTC
    assert f["end_time"] == datetime(2025, 11, 26, 21, 7, 15, 365417, tzinfo=UTC)


def test_links_trace_state_and_remote_parent_are_kept() -> None:
    remote = SpanContext(
        int("ab" * 16, 16), int("cd" * 8, 16), is_remote=True, trace_flags=TraceFlags(1)
    )
    exp = Export()
    linked = SpanContext(int("12" * 16, 16), int("34" * 8, 16), is_remote=True)
    span = exp.tracer.start_span(
        "child-of-remote",
        context=trace_api.set_span_in_context(trace_api.NonRecordingSpan(remote)),
        links=[Link(linked, {"why": "batch"})],
        start_time=at(0),
        attributes={"langfuse.internal.as_root": True},
    )
    span.end(end_time=at(1))
    o = exp.parse().observations[0]
    assert o.trace_id == "ab" * 16
    assert o.fields["parent_observation_id"] == "cd" * 8  # as_root does not drop the parent
    assert o.fields["metadata"]["links"] == [
        {"traceId": "12" * 16, "spanId": "34" * 8, "attributes": {"why": "batch"}}
    ]


# --- AnyValue kinds ------------------------------------------------------------------------


def any_value_request() -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    span = (
        req.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=bytes.fromhex(TRACE_ID), span_id=bytes.fromhex(sid(7)), name="kinds")
    )
    values = {
        "s": AnyValue(string_value="text"),
        "empty": AnyValue(string_value=""),
        "b": AnyValue(bool_value=True),
        "i": AnyValue(int_value=-(2**62)),
        "d": AnyValue(double_value=0.5),
        "nan": AnyValue(double_value=float("nan")),
        "inf": AnyValue(double_value=float("-inf")),
        "a": AnyValue(
            array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(string_value="x")])
        ),
        "kv": AnyValue(
            kvlist_value=KeyValueList(
                values=[KeyValue(key="inner", value=AnyValue(bool_value=False))]
            )
        ),
        "bytes": AnyValue(bytes_value=b"\x00\x01\xff"),
        "unset": AnyValue(),
    }
    for key, value in values.items():
        span.attributes.append(KeyValue(key=key, value=value))
    return req


EXPECTED_KINDS = {
    "s": "text",
    "empty": "",
    "b": True,
    "i": -(2**62),
    "d": 0.5,
    "nan": "NaN",
    "inf": "-Infinity",
    "a": [1, "x"],
    "kv": {"inner": False},
    "bytes": base64.b64encode(b"\x00\x01\xff").decode(),
    "unset": None,
}


def test_any_value_kinds_protobuf() -> None:
    f = parse(any_value_request().SerializeToString()).observations[0].fields
    assert f["metadata"]["attributes"] == EXPECTED_KINDS


def test_any_value_kinds_json() -> None:
    doc = json_format.MessageToDict(any_value_request())
    f = parse(json.dumps(doc).encode(), JSON).observations[0].fields
    assert f["metadata"]["attributes"] == EXPECTED_KINDS


# --- OTLP/JSON --------------------------------------------------------------------------------


def test_json_as_the_fern_client_sends_it() -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual", "version": "1"},
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "json-span",
                                "kind": 1,
                                "startTimeUnixNano": 1700000000000000000,
                                "endTimeUnixNano": "1700000001000000000",
                                "attributes": [
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 5}},
                                    {"key": "big", "value": {"intValue": "9007199254740993"}},
                                ],
                                "status": {"code": 2, "message": "bad"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    batch = parse(json.dumps(body).encode(), "application/json; charset=utf-8")
    [o] = batch.observations
    assert (o.id, o.trace_id) == ("b7ad6b7169203331", "0af7651916cd43dd8448eb211c80319c")
    f = o.fields
    assert f["name"] == "json-span"
    assert f["type"] == "GENERATION"
    assert f["usage_details"] == {"input": 5}
    assert f["start_time"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert f["end_time"] == datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)
    assert (f["level"], f["status_message"]) == ("ERROR", "bad")
    assert f["metadata"]["attributes"] == {"big": 9007199254740993}
    assert f["metadata"]["scope"] == {"name": "manual", "version": "1"}
    assert [t.id for t in batch.traces] == ["0af7651916cd43dd8448eb211c80319c"]


def _hex_ids(node: Any) -> Any:
    """MessageToDict output with base64 ids rewritten as OTLP/JSON hex."""
    if isinstance(node, list):
        return [_hex_ids(x) for x in node]
    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex()
            if k in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
            else _hex_ids(v)
            for k, v in node.items()
        }
    return node


def rich_export() -> Export:
    """Spans using every convention, events, links and an error, for format comparisons."""
    exp = v5_main_run()
    root = exp.span("agent", {"openinference.span.kind": "AGENT", "metadata": '{"x": 1}'}, end=None)
    exp.span("chat", GENAI_CHAT, parent=root, kind=SpanKind.CLIENT)
    exp.span("llm", OI_LLM, parent=root)
    span = exp.span("err", parent=root, end=None, links=[Link(root.get_span_context())])
    span.record_exception(RuntimeError("tool failed"), timestamp=at(3))
    span.set_status(Status(StatusCode.ERROR, "RuntimeError: tool failed"))
    span.end(end_time=at(4))
    root.end(end_time=at(5))
    return exp


@pytest.mark.parametrize("form", ["base64-camel", "base64-snake", "hex-camel"])
def test_json_forms_parse_like_protobuf(form: str) -> None:
    exp = rich_export()
    request = encode_spans(exp.spans)
    expected = parse(request.SerializeToString())
    doc = json_format.MessageToDict(request, preserving_proto_field_name=form.endswith("snake"))
    if form.startswith("hex"):
        doc = _hex_ids(doc)
    got = parse(json.dumps(doc).encode(), JSON)
    assert got == expected
    assert len(got.observations) == 6


# --- content encoding --------------------------------------------------------------------------


def test_gzip_identity_and_multi_member_gzip_agree() -> None:
    body = v5_main_run().protobuf()
    plain = parse(body)
    assert parse(body, PB, "identity") == plain
    assert parse(gzip.compress(body), PB, "gzip") == plain
    assert parse(gzip.compress(body), "application/protobuf", "GZIP") == plain
    half = len(body) // 2  # protobuf messages concatenate, and so do gzip members
    two_members = gzip.compress(body[:half]) + gzip.compress(body[half:])
    assert parse(two_members, PB, "gzip") == plain


def test_empty_bodies_give_empty_batches() -> None:
    for body, content_type, encoding in [
        (b"", PB, None),
        (b"", PB, "gzip"),
        (b"", JSON, None),
        (b"{}", JSON, None),
        (b'{"resourceSpans": []}', JSON, None),
        (ExportTraceServiceRequest().SerializeToString(), PB, None),
        (gzip.compress(b""), PB, "gzip"),
    ]:
        assert parse(body, content_type, encoding) == Batch()


# --- rejected requests -------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/grpc", ""])
def test_unsupported_content_type(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as err:
        parse_otlp(b"x", content_type, None, max_bytes=MAX)
    assert "application/x-protobuf" in err.value.message
    assert "application/json" in err.value.message


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, br"])
def test_unsupported_content_encoding(encoding: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_otlp(b"x", PB, encoding, max_bytes=MAX)


def test_truncated_protobuf_is_invalid() -> None:
    body = v5_main_run().protobuf()
    with pytest.raises(Invalid) as err:
        parse_otlp(body[: len(body) - 7], PB, None, max_bytes=MAX)
    assert "ExportTraceServiceRequest" in err.value.message


def test_garbage_protobuf_is_invalid() -> None:
    with pytest.raises(Invalid):
        parse_otlp(b"\xff\xff\xff\xff garbage", PB, None, max_bytes=MAX)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"resourceSpans": [', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"resourceSpans": {}}', "resourceSpans must be an array"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": 3}]}]}', "spans must be an array"),
    ],
)
def test_invalid_json(body: bytes, message: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_otlp(body, JSON, None, max_bytes=MAX)
    assert message in err.value.message


def json_span(**span: Any) -> bytes:
    base = {"traceId": TRACE_ID, "spanId": sid(1), "name": "s"}
    base.update(span)
    base = {k: v for k, v in base.items() if v is not None}
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [base]}]}]}).encode()


@pytest.mark.parametrize(
    ("span", "message"),
    [
        ({"traceId": None}, "resourceSpans[0].scopeSpans[0].spans[0]: traceId is missing"),
        ({"traceId": "abcd"}, "traceId must be 16 bytes"),
        ({"traceId": "0" * 32}, "traceId must not be all zeros"),
        ({"spanId": "zz"}, "spanId must be 8 bytes"),
        ({"spanId": None}, "spanId is missing"),
        ({"parentSpanId": "0102"}, "parentSpanId must be 8 bytes"),
        ({"startTimeUnixNano": "soon"}, "startTimeUnixNano must be an integer"),
        ({"attributes": [{"key": "n", "value": {"intValue": "x"}}]}, "intValue must be an integer"),
        ({"attributes": {"key": "n"}}, "attributes must be an array"),
        ({"kind": "SPAN_KIND_WEIRD"}, "kind must be an enum"),
    ],
)
def test_invalid_json_spans(span: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_otlp(json_span(**span), JSON, None, max_bytes=MAX)
    assert message in err.value.message


def test_json_enum_names_and_string_ints_are_accepted() -> None:
    body = json_span(
        kind="SPAN_KIND_SERVER",
        startTimeUnixNano=str(T0),
        status={"code": "STATUS_CODE_ERROR"},
        parentSpanId="",
    )
    f = parse(body, JSON).observations[0].fields
    assert f["metadata"]["spanKind"] == "SERVER"
    assert f["level"] == "ERROR"
    assert f["start_time"] == T0_DT
    assert "parent_observation_id" not in f


def bad_id_request(trace_id: bytes, span_id: bytes = b"\x01" * 8) -> bytes:
    """Span [0][1][3] carries the ids under test; the others are fine."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.scope_spans.add().spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    spans = rs.scope_spans.add().spans
    for _ in range(3):
        spans.add(trace_id=b"\x01" * 16, span_id=b"\x03" * 8)
    spans.add(trace_id=trace_id, span_id=span_id)
    return bytes(req.SerializeToString())


@pytest.mark.parametrize(
    ("trace_id", "span_id", "message"),
    [
        (b"\x01" * 4, b"\x01" * 8, "traceId must be 16 bytes, got 4"),
        (b"", b"\x01" * 8, "traceId is missing"),
        (bytes(16), b"\x01" * 8, "traceId must not be all zeros"),
        (b"\x01" * 16, b"\x01" * 7, "spanId must be 8 bytes, got 7"),
        (b"\x01" * 16, b"", "spanId is missing"),
    ],
)
def test_invalid_protobuf_ids(trace_id: bytes, span_id: bytes, message: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_otlp(bad_id_request(trace_id, span_id), PB, None, max_bytes=MAX)
    assert err.value.message == f"resourceSpans[0].scopeSpans[1].spans[3]: {message}"


def test_corrupt_and_truncated_gzip_are_invalid() -> None:
    body = gzip.compress(v5_main_run().protobuf())
    with pytest.raises(Invalid) as err:
        parse_otlp(b"not gzip at all", PB, "gzip", max_bytes=MAX)
    assert "gzip" in err.value.message
    with pytest.raises(Invalid) as err:
        parse_otlp(body[: len(body) // 2], PB, "gzip", max_bytes=MAX)
    assert "gzip" in err.value.message


def test_gzip_bomb_is_too_large() -> None:
    bomb = gzip.compress(bytes(50 << 20))  # 50 MiB of zeros in ~50 KiB
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge):
        parse_otlp(bomb, PB, "gzip", max_bytes=1 << 20)


def test_size_cap_is_exact() -> None:
    body = v5_main_run().protobuf()
    assert parse(gzip.compress(body), PB, "gzip", max_bytes=len(body)).observations
    assert parse(body, PB, None, max_bytes=len(body)).observations
    with pytest.raises(PayloadTooLarge):
        parse_otlp(gzip.compress(body), PB, "gzip", max_bytes=len(body) - 1)
    with pytest.raises(PayloadTooLarge):
        parse_otlp(body, PB, None, max_bytes=len(body) - 1)


# --- robustness: odd values never fail the request ---------------------------------------


def test_odd_langfuse_values_stay_in_the_attributes() -> None:
    odd = {
        "langfuse.observation.type": "banana",
        "langfuse.observation.level": "LOUD",
        "langfuse.observation.model.parameters": "not json",
        "langfuse.observation.usage_details": "[1, 2]",
        "langfuse.observation.completion_start_time": '"yesterday"',
        "langfuse.observation.prompt.version": "v3",
        "langfuse.trace.public": "maybe",
        "langfuse.observation.input": '{"broken": ',
        "langfuse.trace.metadata.nan": "NaN",
        "llm.cost.total": "free",
    }
    exp = Export()
    exp.span("s", odd)
    batch = exp.parse()
    f = batch.observations[0].fields
    assert f["type"] == "SPAN"
    assert f["input"] == '{"broken": '  # not JSON: kept as the raw string
    assert only_trace(batch) == {"metadata": {"nan": "NaN"}}
    del odd["langfuse.observation.input"], odd["langfuse.trace.metadata.nan"]
    assert f["metadata"]["attributes"] == odd


def test_usage_values_are_numbers_only() -> None:
    exp = Export()
    exp.span(
        "g",
        {
            "langfuse.observation.usage_details": (
                '{"input": "12", "output": 3.5, "x": "n/a", "b": true}'
            )
        },
    )
    assert exp.parse().observations[0].fields["usage_details"] == {"input": 12, "output": 3.5}


def test_user_metadata_keys_win_over_reserved_ones() -> None:
    exp = Export({"service.name": "svc"})
    exp.span("s", {"langfuse.observation.metadata.scope": '"billing"', "extra": 1})
    md = exp.parse().observations[0].fields["metadata"]
    assert md["scope"] == "billing"
    assert md["attributes"] == {"extra": 1}
    assert md["resourceAttributes"] == {"service.name": "svc"}


def iter_requests() -> Iterator[bytes]:
    yield v5_main_run().protobuf()
    yield rich_export().protobuf()


def test_records_are_independent_objects() -> None:
    """Mutating one record's metadata must not change another's (shared resource dicts)."""
    for body in iter_requests():
        batch = parse(body)
        first, second = batch.observations[0], batch.observations[1]
        first.fields["metadata"]["resourceAttributes"]["x"] = 1
        assert "x" not in second.fields["metadata"]["resourceAttributes"]


def test_more_convention_forms() -> None:
    exp = Export()
    exp.span(
        "flat-params",
        {
            "openinference.span.kind": "LLM",
            "llm.invocation_parameters.temperature": 0.1,
            "llm.invocation_parameters.max_tokens": 6000,
            "llm.invocation_parameters.response_format": '{"type": "json_object"}',
        },
    )
    exp.span(
        "system-only",
        {"gen_ai.operation.name": "chat", "gen_ai.system_instructions": "Be brief."},
    )
    span = exp.span("content-events", end=None)
    span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": '[{"role": "user", "content": "q"}]'})
    span.add_event("gen_ai.content.completion", {"gen_ai.completion": "answer"})
    span.end(end_time=at(1))
    exp.span(
        "lf-metadata",
        {
            "langfuse.observation.metadata": '{"a": 1, "b": 2}',
            "langfuse.observation.metadata.b": "3",
        },
    )
    obs = by_name(exp.parse())
    assert obs["flat-params"].fields["model_parameters"] == {
        "temperature": 0.1,
        "max_tokens": 6000,
        "response_format": '{"type":"json_object"}',  # dict values become JSON text
    }
    assert obs["system-only"].fields["input"] == [{"role": "system", "content": "Be brief."}]
    content = obs["content-events"].fields
    assert content["input"] == [{"role": "user", "content": "q"}]
    assert content["output"] == "answer"
    assert "events" not in content["metadata"]
    md = obs["lf-metadata"].fields["metadata"]
    assert (md["a"], md["b"]) == (1, 3)


def test_json_legacy_instrumentation_library_spans() -> None:
    body = {
        "resourceSpans": [
            {
                "instrumentationLibrarySpans": [
                    {
                        "instrumentationLibrary": {"name": "old-lib", "version": "0.1"},
                        "spans": [{"traceId": TRACE_ID, "spanId": sid(3), "name": "old"}],
                    }
                ]
            }
        ]
    }
    [o] = parse(json.dumps(body).encode(), JSON).observations
    assert o.fields["metadata"] == {"scope": {"name": "old-lib", "version": "0.1"}}
    assert o.fields["name"] == "old"


def test_absurd_nesting_is_refused_or_kept_flat() -> None:
    deep = '{"arrayValue": {"values": [' * 400 + '{"stringValue": "leaf"}' + "]}}" * 400
    body = json_span(attributes=[{"key": "deep", "value": "DEEP"}]).replace(
        b'"DEEP"', deep.encode()
    )
    with pytest.raises(Invalid):
        parse_otlp(body, JSON, None, max_bytes=MAX)
    exp = Export()
    key = "gen_ai.prompt.0." + ".".join(["x"] * 2000)
    exp.span("s", {key: "v", "gen_ai.prompt.1.role": "user"})
    f = exp.parse().observations[0].fields
    assert f["input"] == [{"role": "user"}]
    assert f["metadata"]["attributes"] == {key: "v"}
