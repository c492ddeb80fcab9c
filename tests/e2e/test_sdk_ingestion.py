"""Real clients (langfuse 2.x/4.x/5.x, the plain OpenTelemetry exporter, raw HTTP) against a
real `tracemark serve`, checked through the public read API.

A 2xx answer to an ingestion request means the data is committed, and the SDKs' `flush()`
returns only after their HTTP request completed, so every read below is a single read: no
polling.
"""

from __future__ import annotations

import base64
import gzip
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.conftest import ProjectFixture, Server, make_project, start_server
from tests.sdk import LANGFUSE_2, LANGFUSE_4, LANGFUSE_5, OTEL, run_script
from tracemark.db.engine import Database

# --- helpers ----------------------------------------------------------------------------------


def _sdk_env(server: Server, project: ProjectFixture) -> dict[str, str]:
    return {
        "LANGFUSE_PUBLIC_KEY": project.public_key,
        "LANGFUSE_SECRET_KEY": project.secret_key,
        "LANGFUSE_HOST": server.url,
        "LANGFUSE_BASE_URL": server.url,
    }


def _basic(project: ProjectFixture) -> str:
    token = base64.b64encode(f"{project.public_key}:{project.secret_key}".encode()).decode()
    return f"Basic {token}"


def _read(server: Server, project: ProjectFixture, path: str, **params: Any) -> Any:
    response = httpx.get(
        server.url + "/api/public" + path, params=params, auth=project.auth, timeout=30
    )
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def _trace(server: Server, project: ProjectFixture, trace_id: str) -> dict[str, Any]:
    trace: dict[str, Any] = _read(server, project, f"/traces/{trace_id}")
    return trace


def _by_id(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in trace["observations"]}


def _tree(trace: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    """(name, type, parent name) of every observation of a trace."""
    names = {o["id"]: o["name"] for o in trace["observations"]}
    return {
        (
            o["name"],
            o["type"],
            names.get(o["parentObservationId"]) if o["parentObservationId"] else None,
        )
        for o in trace["observations"]
    }


def _assert_no_server_errors(server: Server) -> None:
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, list):
        array = AnyValue()
        array.array_value.values.extend(AnyValue(string_value=str(v)) for v in value)
        return KeyValue(key=key, value=array)
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _otlp_request(trace_id: str, spans: list[dict[str, Any]]) -> bytes:
    """A protobuf ExportTraceServiceRequest: spans given as {id, parent, name, attrs, error}."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(_kv("service.name", "durability-test"))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "test-scope"
    start = time.time_ns() - 2_000_000_000
    for n, spec in enumerate(spans):
        span = Span(
            trace_id=bytes.fromhex(trace_id),
            span_id=bytes.fromhex(spec["id"]),
            name=spec["name"],
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=start + n * 1_000_000,
            end_time_unix_nano=start + 500_000_000 + n * 1_000_000,
        )
        if spec.get("parent"):
            span.parent_span_id = bytes.fromhex(spec["parent"])
        span.attributes.extend(_kv(k, v) for k, v in spec.get("attrs", {}).items())
        if spec.get("error"):
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message=spec["error"]))
        scope_spans.spans.append(span)
    data: bytes = request.SerializeToString()
    return data


def _post_otlp(
    server: Server, project: ProjectFixture, body: bytes, **headers: str
) -> httpx.Response:
    all_headers = {
        "Content-Type": "application/x-protobuf",
        "Authorization": _basic(project),
        **headers,
    }
    return httpx.post(
        server.url + "/api/public/otel/v1/traces", content=body, headers=all_headers, timeout=30
    )


def _post_batch(
    server: Server, project: ProjectFixture, batch: list[dict[str, Any]]
) -> httpx.Response:
    return httpx.post(
        server.url + "/api/public/ingestion",
        json={"batch": batch, "metadata": {"sdk_name": "test"}},
        auth=project.auth,
        timeout=30,
    )


def _now_iso(offset_s: float = 0.0) -> str:
    moment = time.time() + offset_s
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"
    )


# --- 1. langfuse 5.x --------------------------------------------------------------------------

LANGFUSE5_SCENARIO = """
import json
from langfuse import get_client, observe, propagate_attributes

client = get_client()
ids = {}

@observe(name="inner-step")
def inner(question):
    ids["inner"] = client.get_current_observation_id()
    with client.start_as_current_observation(
        as_type="generation",
        name="chat-completion",
        model="gpt-4o",
        model_parameters={"temperature": 0.7},
        input=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}],
        usage_details={"input": 100, "output": 20},
        cost_details={"input": 0.001, "output": 0.002, "total": 0.003},
    ) as generation:
        ids["generation"] = generation.id
        generation.update(output={"role": "assistant", "content": "The answer is 42"})
    return "The answer is 42"

@observe(name="outer-fn")
def outer(question):
    ids["trace"] = client.get_current_trace_id()
    ids["outer"] = client.get_current_observation_id()
    with propagate_attributes(
        user_id="user-123", session_id="session-abc", tags=["t1", "t2"], metadata={"tenant": "acme"}
    ):
        answer = inner(question)
        # A long-running app exports finished spans before the root ends: the trace then
        # arrives in two requests, children first.
        client.flush()
        event = client.create_event(name="cache-lookup", input={"key": "q1"}, output={"hit": False})
        ids["event"] = event.id
        try:
            with client.start_as_current_observation(
                name="failing-span", input={"attempt": 1}
            ) as span:
                ids["failing"] = span.id
                raise ValueError("boom")
        except ValueError:
            pass
    return {"answer": answer}

result = outer("What is the answer?")
client.flush()
print(json.dumps({"ids": ids, "result": result}))
"""


def test_langfuse5_decorators_generation_event_error(server: Server, db: Database) -> None:
    project = make_project(db)
    out = run_script(LANGFUSE_5, LANGFUSE5_SCENARIO, _sdk_env(server, project))
    ids = out["ids"]

    trace = _trace(server, project, ids["trace"])
    assert trace["name"] == "outer-fn"  # v5 sends no trace name: the root span's
    assert trace["userId"] == "user-123"
    assert trace["sessionId"] == "session-abc"
    assert trace["tags"] == ["t1", "t2"]
    assert trace["metadata"] == {"tenant": "acme"}  # sent JSON-encoded as "\"acme\""
    # v5 has no trace I/O attributes: they come from the root span (the @observe function).
    assert trace["input"] == {"args": ["What is the answer?"], "kwargs": {}}
    assert trace["output"] == {"answer": "The answer is 42"}
    assert trace["totalCost"] == pytest.approx(0.003)
    assert trace["latency"] > 0
    assert trace["level"] == "ERROR"

    assert _tree(trace) == {
        ("outer-fn", "SPAN", None),
        ("inner-step", "SPAN", "outer-fn"),
        ("chat-completion", "GENERATION", "inner-step"),
        ("cache-lookup", "EVENT", "outer-fn"),
        ("failing-span", "SPAN", "outer-fn"),
    }
    observations = _by_id(trace)
    assert set(observations) == {
        ids[k] for k in ("outer", "inner", "generation", "event", "failing")
    }
    assert observations[ids["inner"]]["parentObservationId"] == ids["outer"]
    assert observations[ids["generation"]]["parentObservationId"] == ids["inner"]

    generation = observations[ids["generation"]]
    assert generation["model"] == "gpt-4o"
    assert generation["modelParameters"] == {"temperature": 0.7}
    assert generation["usageDetails"] == {"input": 100, "output": 20}
    assert generation["costDetails"] == {"input": 0.001, "output": 0.002, "total": 0.003}
    assert generation["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the answer?"},
    ]
    assert generation["output"] == {"role": "assistant", "content": "The answer is 42"}
    assert generation["level"] == "DEFAULT"
    assert generation["endTime"] >= generation["startTime"]

    event = observations[ids["event"]]
    assert event["input"] == {"key": "q1"}
    assert event["output"] == {"hit": False}
    assert event["endTime"] == event["startTime"]

    failing = observations[ids["failing"]]
    assert failing["level"] == "ERROR"
    assert failing["statusMessage"] == "ValueError: boom"
    assert failing["input"] == {"attempt": 1}
    [exception] = failing["metadata"]["exceptions"]
    assert (exception["type"], exception["message"]) == ("ValueError", "boom")

    inner = observations[ids["inner"]]
    assert inner["input"] == {"args": ["What is the answer?"], "kwargs": {}}
    assert inner["output"] == "The answer is 42"

    listed = _read(server, project, "/traces", userId="user-123")
    assert [t["id"] for t in listed["data"]] == [ids["trace"]]
    assert listed["data"][0]["totalCost"] == pytest.approx(0.003)
    generations = _read(server, project, "/observations", traceId=ids["trace"], type="GENERATION")
    assert [o["id"] for o in generations["data"]] == [ids["generation"]]

    session = _read(server, project, "/sessions/session-abc")
    assert session["id"] == "session-abc"
    assert [t["id"] for t in session["traces"]] == [ids["trace"]]
    assert [s["id"] for s in _read(server, project, "/sessions")["data"]] == ["session-abc"]
    _assert_no_server_errors(server)


# --- 2. langfuse 2.x --------------------------------------------------------------------------

LANGFUSE2_SCENARIO = """
import json
from langfuse import Langfuse
from langfuse.decorators import langfuse_context, observe

QUESTION = "What is the answer?"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]
REPLY = {"role": "assistant", "content": "The answer is 42"}

# -- low-level client -----------------------------------------------------------------------
lf = Langfuse()
trace = lf.trace(
    name="v2-trace",
    user_id="user-123",
    session_id="session-abc",
    tags=["t1", "t2"],
    metadata={"tenant": "acme"},
    input={"question": QUESTION},
)
span = trace.span(name="retrieval", input={"query": QUESTION})
generation = span.generation(
    name="chat-completion", model="gpt-4o", input=MESSAGES, model_parameters={"temperature": 0.7}
)
generation.end(
    output=REPLY,
    usage={"input": 100, "output": 20, "unit": "TOKENS",
           "input_cost": 0.001, "output_cost": 0.002, "total_cost": 0.003},
)
span.end(output={"docs": ["d1", "d2"]})
event = trace.event(name="cache-lookup", input={"key": "q1"}, output={"hit": False})
failing = trace.span(name="failing-span", input={"attempt": 1})
failing.end(level="ERROR", status_message="ValueError: boom")
trace.update(output={"answer": "The answer is 42"})
lf.flush()
low = {
    "trace": trace.id, "span": span.id, "generation": generation.id,
    "event": event.id, "failing": failing.id,
}

# -- decorators -----------------------------------------------------------------------------
deco = {}

@observe(as_type="generation", name="chat-completion")
def chat(messages):
    deco["generation"] = langfuse_context.get_current_observation_id()
    langfuse_context.update_current_observation(
        model="gpt-4o",
        input=messages,
        usage_details={"input": 100, "output": 20},
        cost_details={"input": 0.001, "output": 0.002, "total": 0.003},
    )
    return REPLY

@observe(name="inner-step")
def inner(question):
    deco["inner"] = langfuse_context.get_current_observation_id()
    return chat(MESSAGES)["content"]

@observe(name="failing-step")
def fail():
    deco["failing"] = langfuse_context.get_current_observation_id()
    raise ValueError("boom")

@observe(name="outer-fn")
def outer(question):
    deco["trace"] = langfuse_context.get_current_trace_id()
    langfuse_context.update_current_trace(
        user_id="user-123", session_id="session-abc", tags=["t1", "t2"], metadata={"tenant": "acme"}
    )
    answer = inner(question)
    try:
        fail()
    except ValueError:
        pass
    return {"answer": answer}

outer(QUESTION)
langfuse_context.flush()
print(json.dumps({"low": low, "deco": deco}))
"""


def test_langfuse2_client_and_decorators(server: Server, db: Database) -> None:
    project = make_project(db)
    out = run_script(LANGFUSE_2, LANGFUSE2_SCENARIO, _sdk_env(server, project))
    low, deco = out["low"], out["deco"]
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the answer?"},
    ]
    reply = {"role": "assistant", "content": "The answer is 42"}

    # -- low-level client: trace I/O sent explicitly.
    trace = _trace(server, project, low["trace"])
    assert trace["name"] == "v2-trace"
    assert trace["userId"] == "user-123"
    assert trace["sessionId"] == "session-abc"
    assert trace["tags"] == ["t1", "t2"]
    assert trace["metadata"] == {"tenant": "acme"}
    assert trace["input"] == {"question": "What is the answer?"}
    assert trace["output"] == {"answer": "The answer is 42"}
    assert trace["totalCost"] == pytest.approx(0.003)
    assert trace["latency"] > 0
    assert trace["level"] == "ERROR"
    assert _tree(trace) == {
        ("retrieval", "SPAN", None),
        ("chat-completion", "GENERATION", "retrieval"),
        ("cache-lookup", "EVENT", None),
        ("failing-span", "SPAN", None),
    }
    observations = _by_id(trace)
    assert set(observations) == {low[k] for k in ("span", "generation", "event", "failing")}
    generation = observations[low["generation"]]
    assert generation["parentObservationId"] == low["span"]
    assert generation["model"] == "gpt-4o"
    assert generation["modelParameters"] == {"temperature": 0.7}
    assert generation["usageDetails"] == {"input": 100, "output": 20}
    assert generation["costDetails"] == {"input": 0.001, "output": 0.002, "total": 0.003}
    assert generation["input"] == messages
    assert generation["output"] == reply
    assert generation["endTime"] is not None
    span = observations[low["span"]]
    assert span["output"] == {"docs": ["d1", "d2"]}
    assert span["endTime"] is not None
    event = observations[low["event"]]
    assert (event["input"], event["output"]) == ({"key": "q1"}, {"hit": False})
    failing = observations[low["failing"]]
    assert failing["level"] == "ERROR"
    assert failing["statusMessage"] == "ValueError: boom"

    # -- decorators: the top-level function is the trace itself.
    trace = _trace(server, project, deco["trace"])
    assert trace["name"] == "outer-fn"
    assert trace["userId"] == "user-123"
    assert trace["sessionId"] == "session-abc"
    assert trace["tags"] == ["t1", "t2"]
    assert trace["metadata"] == {"tenant": "acme"}
    assert trace["input"] == {"args": ["What is the answer?"], "kwargs": {}}
    assert trace["output"] == {"answer": "The answer is 42"}
    assert trace["totalCost"] == pytest.approx(0.003)
    assert trace["latency"] > 0
    assert trace["level"] == "ERROR"
    assert _tree(trace) == {
        ("inner-step", "SPAN", None),
        ("chat-completion", "GENERATION", "inner-step"),
        ("failing-step", "SPAN", None),
    }
    observations = _by_id(trace)
    assert set(observations) == {deco[k] for k in ("inner", "generation", "failing")}
    generation = observations[deco["generation"]]
    assert generation["model"] == "gpt-4o"
    assert generation["usageDetails"] == {"input": 100, "output": 20}
    assert generation["costDetails"] == {"input": 0.001, "output": 0.002, "total": 0.003}
    assert generation["input"] == messages
    assert generation["output"] == reply
    failing = observations[deco["failing"]]
    assert failing["level"] == "ERROR"
    assert failing["statusMessage"] == "boom"  # the v2 decorator sends str(exception)

    session = _read(server, project, "/sessions/session-abc")
    assert {t["id"] for t in session["traces"]} == {low["trace"], deco["trace"]}
    _assert_no_server_errors(server)


# --- 3. langfuse 4.x --------------------------------------------------------------------------

LANGFUSE4_SCENARIO = """
import json
import warnings
from langfuse import get_client, observe, propagate_attributes

warnings.simplefilter("ignore")
client = get_client()
ids = {}

@observe(name="v4-root")
def root(question):
    ids["trace"] = client.get_current_trace_id()
    ids["root"] = client.get_current_observation_id()
    with propagate_attributes(
        trace_name="v4-trace", user_id="user-4", metadata={"tenant": "acme", "plan": "gold"}
    ):
        client.set_current_trace_io(
            input={"question": question}, output={"answer": "explicit trace output"}
        )
    return {"answer": "root span output"}

root("What is the answer?")
client.flush()
print(json.dumps(ids))
"""


def test_langfuse4_raw_metadata_and_trace_io(server: Server, db: Database) -> None:
    project = make_project(db)
    ids = run_script(LANGFUSE_4, LANGFUSE4_SCENARIO, _sdk_env(server, project))
    trace = _trace(server, project, ids["trace"])
    assert trace["name"] == "v4-trace"
    assert trace["userId"] == "user-4"
    # v3/v4 send metadata values raw (not JSON-encoded): they must stay as they are.
    assert trace["metadata"] == {"tenant": "acme", "plan": "gold"}
    # Explicit trace I/O wins over the root span's.
    assert trace["input"] == {"question": "What is the answer?"}
    assert trace["output"] == {"answer": "explicit trace output"}
    [root] = trace["observations"]
    assert root["id"] == ids["root"]
    assert root["output"] == {"answer": "root span output"}
    _assert_no_server_errors(server)


# --- 4. plain OpenTelemetry exporter ----------------------------------------------------------

OTEL_SCENARIO = """
import json
import os

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind

BASE = os.environ["TM_URL"]
AUTH = os.environ["TM_AUTH"]


class Recording(SpanExporter):
    def __init__(self, inner):
        self.inner = inner
        self.results = []

    def export(self, spans):
        result = self.inner.export(spans)
        self.results.append(result.name)
        return result

    def shutdown(self):
        self.inner.shutdown()


def hexid(span, width):
    ctx = span.get_span_context()
    return format(ctx.trace_id if width == 32 else ctx.span_id, f"0{width}x")


def run(label, endpoint, compression):
    exporter = Recording(
        OTLPSpanExporter(
            endpoint=endpoint, headers={"Authorization": AUTH}, compression=compression
        )
    )
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "my-llm-app", "deployment.environment.name": "dev"}
        )
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("my.instrumentation", "9.9.9")
    ids = {}
    with tracer.start_as_current_span(
        f"agent-{label}",
        attributes={
            "openinference.span.kind": "AGENT",
            "input.value": json.dumps({"question": "What is 2+2?"}),
            "input.mime_type": "application/json",
            "output.value": "4",
            "user.id": "otel-user",
            "session.id": "otel-session",
            "tag.tags": ["otel", label],
        },
    ) as root:
        ids["trace"] = hexid(root, 32)
        ids["root"] = hexid(root, 16)
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.request.temperature": 0.7,
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.output_tokens": 20,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": "4"}],
                      "finish_reason": "stop"}]
                ),
            },
        ) as span:
            ids["chat"] = hexid(span, 16)
        with tracer.start_as_current_span(
            "ChatCompletion",
            attributes={
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "input.value": json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
                "input.mime_type": "application/json",
                "output.value": "hello there",
                "output.mime_type": "text/plain",
                "llm.token_count.prompt": 11,
                "llm.token_count.completion": 7,
                "llm.token_count.total": 18,
            },
        ) as span:
            ids["llm"] = hexid(span, 16)
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.id": "call-1",
                "gen_ai.tool.call.arguments": json.dumps({"city": "Paris"}),
                "gen_ai.tool.call.result": "sunny",
            },
        ) as span:
            ids["tool"] = hexid(span, 16)
        try:
            with tracer.start_as_current_span("flaky-step") as span:
                ids["error"] = hexid(span, 16)
                raise RuntimeError("tool failed")
        except RuntimeError:
            pass
    flushed = provider.force_flush()
    provider.shutdown()
    return {"ids": ids, "results": exporter.results, "flushed": flushed}


print(json.dumps({
    "gzip": run("gzip", BASE + "/api/public/otel/v1/traces", Compression.Gzip),
    "plain": run("plain", BASE + "/api/public/otel/v1/traces", Compression.NoCompression),
    "root_path": run("root-path", BASE + "/v1/traces", Compression.NoCompression),
}))
"""


def _assert_otel_trace(trace: dict[str, Any], ids: dict[str, str], label: str) -> None:
    assert trace["name"] == f"agent-{label}"
    assert trace["userId"] == "otel-user"
    assert trace["sessionId"] == "otel-session"
    assert trace["tags"] == ["otel", label]
    assert trace["environment"] == "dev"
    assert trace["input"] == {"question": "What is 2+2?"}
    assert trace["output"] == "4"
    assert trace["level"] == "ERROR"
    assert trace["latency"] > 0
    observations = _by_id(trace)
    assert set(observations) == {ids[k] for k in ("root", "chat", "llm", "tool", "error")}
    for key in ("chat", "llm", "tool", "error"):
        assert observations[ids[key]]["parentObservationId"] == ids["root"]

    root = observations[ids["root"]]
    assert root["type"] == "AGENT"
    assert root["parentObservationId"] is None

    chat = observations[ids["chat"]]
    assert chat["type"] == "GENERATION"
    assert chat["name"] == "chat gpt-4o"
    assert chat["model"] == "gpt-4o"
    assert chat["modelParameters"] == {"temperature": 0.7}
    assert chat["usageDetails"] == {"input": 100, "output": 20}
    assert chat["usage"]["input"] == 100 and chat["usage"]["output"] == 20
    assert chat["input"] == [
        {"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]}
    ]
    assert chat["output"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "4"}], "finish_reason": "stop"}
    ]

    llm = observations[ids["llm"]]
    assert llm["type"] == "GENERATION"
    assert llm["model"] == "gpt-4o-mini"
    assert llm["usageDetails"] == {"input": 11, "output": 7, "total": 18}
    assert llm["input"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert llm["output"] == "hello there"

    tool = observations[ids["tool"]]
    assert tool["type"] == "TOOL"
    assert tool["name"] == "get_weather"
    assert tool["input"] == {"city": "Paris"}
    assert tool["output"] == "sunny"

    error = observations[ids["error"]]
    assert error["type"] == "SPAN"
    assert error["level"] == "ERROR"
    assert error["statusMessage"] == "RuntimeError: tool failed"
    [exception] = error["metadata"]["exceptions"]
    assert exception["type"] == "RuntimeError"
    assert exception["message"] == "tool failed"


def test_opentelemetry_exporter_and_otlp_json(server: Server, db: Database) -> None:
    project = make_project(db)
    env = {"TM_URL": server.url, "TM_AUTH": _basic(project)}
    runs = run_script(OTEL, OTEL_SCENARIO, env)
    for label, key in (("gzip", "gzip"), ("plain", "plain"), ("root-path", "root_path")):
        run = runs[key]
        assert run["results"] == ["SUCCESS"], (label, run)
        _assert_otel_trace(_trace(server, project, run["ids"]["trace"]), run["ids"], label)

    # OTLP/JSON, ids in hex, as the Fern client `api.opentelemetry.export_traces` sends it.
    trace_id, span_id, child_id = uuid.uuid4().hex, uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    start = time.time_ns() - 1_000_000_000
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual", "version": "1"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": child_id,
                                "parentSpanId": span_id,
                                "name": "json-chat",
                                "kind": 3,
                                "startTimeUnixNano": start + 1000,
                                "endTimeUnixNano": str(start + 400_000_000),
                                "attributes": [
                                    {
                                        "key": "gen_ai.operation.name",
                                        "value": {"stringValue": "chat"},
                                    },
                                    {
                                        "key": "gen_ai.request.model",
                                        "value": {"stringValue": "gpt-4o"},
                                    },
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 5}},
                                    {
                                        "key": "gen_ai.usage.output_tokens",
                                        "value": {"intValue": "3"},
                                    },
                                ],
                                "status": {"code": 2, "message": "upstream timeout"},
                            },
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": "json-root",
                                "kind": 1,
                                "startTimeUnixNano": start,
                                "endTimeUnixNano": start + 500_000_000,
                                "attributes": [
                                    {
                                        "key": "langfuse.trace.name",
                                        "value": {"stringValue": "json-trace"},
                                    },
                                    {"key": "input.value", "value": {"stringValue": "ping"}},
                                    {"key": "output.value", "value": {"stringValue": "pong"}},
                                ],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    response = httpx.post(
        server.url + "/api/public/otel/v1/traces",
        json=body,
        headers={"Authorization": _basic(project)},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {}
    trace = _trace(server, project, trace_id)
    assert trace["name"] == "json-trace"
    assert trace["input"] == "ping"
    assert trace["output"] == "pong"
    assert trace["latency"] == pytest.approx(0.5, abs=0.01)
    observations = _by_id(trace)
    chat = observations[child_id]
    assert chat["type"] == "GENERATION"
    assert chat["parentObservationId"] == span_id
    assert chat["model"] == "gpt-4o"
    assert chat["usageDetails"] == {"input": 5, "output": 3}
    assert chat["level"] == "ERROR"
    assert chat["statusMessage"] == "upstream timeout"
    _assert_no_server_errors(server)


# --- 5. durability ----------------------------------------------------------------------------


@pytest.fixture
def started() -> Iterator[list[Server]]:
    """Servers a test starts itself; all stopped at the end."""
    servers: list[Server] = []
    yield servers
    for running in servers:
        running.stop()


def _durability_batch(trace_id: str, span_id: str, gen_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"evt-{trace_id}-1",
            "type": "trace-create",
            "timestamp": _now_iso(-2),
            "body": {
                "id": trace_id,
                "name": "durable-trace",
                "userId": "u-durable",
                "sessionId": "s-durable",
                "tags": ["a", "b"],
                "metadata": {"k": "v"},
                "input": {"q": 1},
            },
        },
        {
            "id": f"evt-{trace_id}-2",
            "type": "span-create",
            "timestamp": _now_iso(-2),
            "body": {
                "id": span_id,
                "traceId": trace_id,
                "name": "durable-span",
                "startTime": _now_iso(-2),
                "endTime": _now_iso(-1),
            },
        },
        {
            "id": f"evt-{trace_id}-3",
            "type": "generation-create",
            "timestamp": _now_iso(-2),
            "body": {
                "id": gen_id,
                "traceId": trace_id,
                "parentObservationId": span_id,
                "name": "durable-gen",
                "model": "gpt-4o",
                "startTime": _now_iso(-1.5),
            },
        },
        {
            "id": f"evt-{trace_id}-4",
            "type": "generation-update",
            "timestamp": _now_iso(-1),
            "body": {
                "id": gen_id,
                "traceId": trace_id,
                "endTime": _now_iso(-1),
                "usageDetails": {"input": 7, "output": 3},
                "costDetails": {"total": 0.5},
            },
        },
    ]


def test_acknowledged_data_survives_sigkill_and_resends_are_idempotent(
    database_url: str, db: Database, tmp_path: Path, started: list[Server]
) -> None:
    project = make_project(db)
    first = start_server(database_url, tmp_path / "first")
    started.append(first)

    batch_trace, span_id, gen_id = uuid.uuid4().hex, uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    batch = _durability_batch(batch_trace, span_id, gen_id)
    otlp_trace = uuid.uuid4().hex
    otlp_root, otlp_child = uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    otlp_body = _otlp_request(
        otlp_trace,
        [
            {
                "id": otlp_child,
                "parent": otlp_root,
                "name": "otlp-child",
                "attrs": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
                "error": "bad gateway",
            },
            {
                "id": otlp_root,
                "name": "otlp-root",
                "attrs": {
                    "langfuse.trace.tags": ["x", "y"],
                    "user.id": "u-otlp",
                },
            },
        ],
    )

    answer = _post_batch(first, project, batch)
    assert answer.status_code == 207, answer.text
    assert answer.json()["errors"] == []
    assert {s["id"] for s in answer.json()["successes"]} == {e["id"] for e in batch}
    answer = _post_otlp(first, project, gzip.compress(otlp_body), **{"Content-Encoding": "gzip"})
    assert answer.status_code == 200, answer.text
    first.stop(kill=True)  # no graceful shutdown: what was acknowledged must be on disk
    assert first.process.returncode == -9

    second = start_server(database_url, tmp_path / "second")
    started.append(second)

    def check() -> None:
        trace = _trace(second, project, batch_trace)
        assert trace["name"] == "durable-trace"
        assert trace["userId"] == "u-durable"
        assert trace["tags"] == ["a", "b"]
        assert trace["metadata"] == {"k": "v"}
        assert trace["input"] == {"q": 1}
        assert trace["totalCost"] == pytest.approx(0.5)
        assert _tree(trace) == {
            ("durable-span", "SPAN", None),
            ("durable-gen", "GENERATION", "durable-span"),
        }
        generation = _by_id(trace)[gen_id]
        assert generation["usageDetails"] == {"input": 7, "output": 3}
        assert generation["costDetails"] == {"total": 0.5}
        assert generation["endTime"] is not None

        trace = _trace(second, project, otlp_trace)
        assert trace["name"] == "otlp-root"
        assert trace["userId"] == "u-otlp"
        assert trace["tags"] == ["x", "y"]
        assert _tree(trace) == {
            ("otlp-root", "SPAN", None),
            ("otlp-child", "GENERATION", "otlp-root"),
        }
        child = _by_id(trace)[otlp_child]
        assert child["level"] == "ERROR"
        assert child["statusMessage"] == "bad gateway"

        for trace_id, count in ((batch_trace, 2), (otlp_trace, 2)):
            listed = _read(second, project, "/observations", traceId=trace_id)
            assert listed["meta"]["totalItems"] == count
        assert _read(second, project, "/traces")["meta"]["totalItems"] == 2
        assert [t["id"] for t in _read(second, project, "/sessions/s-durable")["traces"]] == [
            batch_trace
        ]

    def snapshot() -> dict[str, Any]:
        out = {}
        for trace_id in (batch_trace, otlp_trace):
            trace = _trace(second, project, trace_id)
            trace.pop("updatedAt")
            trace["observations"].sort(key=lambda o: o["id"])
            out[trace_id] = trace
        return out

    check()
    before = snapshot()

    # SDKs re-send whole batches (207 with errors, 5xx, timeouts): nothing may double.
    for _ in range(2):
        answer = _post_batch(second, project, batch)
        assert answer.status_code == 207 and answer.json()["errors"] == [], answer.text
        answer = _post_otlp(second, project, otlp_body)
        assert answer.status_code == 200, answer.text
    check()
    assert snapshot() == before
    _assert_no_server_errors(second)


# --- 6. bad input -----------------------------------------------------------------------------


def _assert_json_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["message"]
    assert isinstance(message, str) and message
    return message


def test_bad_input_is_refused_with_a_reason_and_never_500(
    server: Server, db: Database, database_url: str, tmp_path: Path, started: list[Server]
) -> None:
    project = make_project(db)
    otel = server.url + "/api/public/otel/v1/traces"
    ingestion = server.url + "/api/public/ingestion"
    auth = {"Authorization": _basic(project)}
    statuses: list[int] = []

    def post(url: str, **kwargs: Any) -> httpx.Response:
        response = httpx.post(url, timeout=30, **kwargs)
        statuses.append(response.status_code)
        return response

    valid = _otlp_request(uuid.uuid4().hex, [{"id": uuid.uuid4().hex[:16], "name": "ok"}])

    # Truncated protobuf.
    message = _assert_json_error(
        post(
            otel,
            content=valid[: len(valid) - 7],
            headers={**auth, "Content-Type": "application/x-protobuf"},
        ),
        400,
    )
    assert "OTLP" in message or "protobuf" in message.lower()
    # Invalid JSON (OTLP and Langfuse batch).
    _assert_json_error(
        post(
            otel,
            content=b'{"resourceSpans": [',
            headers={**auth, "Content-Type": "application/json"},
        ),
        400,
    )
    _assert_json_error(
        post(
            ingestion, content=b'{"batch": [', headers={**auth, "Content-Type": "application/json"}
        ),
        400,
    )
    _assert_json_error(post(ingestion, json={"events": []}, headers=auth), 400)
    # Wrong content type.
    message = _assert_json_error(
        post(otel, content=b"hello", headers={**auth, "Content-Type": "text/plain"}), 415
    )
    assert "application/x-protobuf" in message
    # Gzip header followed by garbage.
    _assert_json_error(
        post(
            otel,
            content=b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-not-deflate",
            headers={**auth, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        ),
        400,
    )
    # A span id of the wrong size: the whole export is refused, naming the span.
    bad_ids = ExportTraceServiceRequest()
    bad_ids.resource_spans.add().scope_spans.add().spans.append(
        Span(trace_id=b"\x01" * 4, span_id=b"\x02" * 8, name="short-trace-id")
    )
    message = _assert_json_error(
        post(
            otel,
            content=bad_ids.SerializeToString(),
            headers={**auth, "Content-Type": "application/x-protobuf"},
        ),
        400,
    )
    assert "traceId" in message

    # A Langfuse batch mixing good and bad events: 207, the good ones stored.
    good_trace = uuid.uuid4().hex
    batch = [
        {
            "id": "good-1",
            "type": "trace-create",
            "timestamp": _now_iso(),
            "body": {"id": good_trace, "name": "mixed"},
        },
        {
            "id": "good-2",
            "type": "span-create",
            "timestamp": _now_iso(),
            "body": {
                "id": "span-good",
                "traceId": good_trace,
                "name": "fine",
                "startTime": _now_iso(),
            },
        },
        {"id": "bad-type", "type": "nonsense-create", "timestamp": _now_iso(), "body": {}},
        {
            "id": "bad-level",
            "type": "span-create",
            "timestamp": _now_iso(),
            "body": {"id": "span-bad", "traceId": good_trace, "level": "LOUD"},
        },
        {
            "id": "bad-time",
            "type": "span-create",
            "timestamp": _now_iso(),
            "body": {"id": "span-bad-2", "traceId": good_trace, "startTime": "yesterday"},
        },
        {
            "id": "bad-usage",
            "type": "generation-create",
            "timestamp": _now_iso(),
            "body": {"id": "gen-bad", "traceId": good_trace, "usageDetails": {"input": -5}},
        },
        {
            "id": "no-trace",
            "type": "span-update",
            "timestamp": _now_iso(),
            "body": {"id": "never-created"},
        },
        "not-an-event",
    ]
    response = post(ingestion, json={"batch": batch}, headers=auth)
    assert response.status_code == 207, response.text
    result = response.json()
    # Entries are keyed by event id (what the SDK matches on); an event is one or the other.
    assert [s["id"] for s in result["successes"]] == ["good-1", "good-2"]
    assert all(s["status"] == 201 for s in result["successes"])
    errors = {e["id"]: e for e in result["errors"]}
    assert set(errors) == {"bad-type", "bad-level", "bad-time", "bad-usage", "no-trace", "#7"}
    for error in errors.values():
        assert error["status"] == 400 and error["message"], error
    assert "nonsense-create" in errors["bad-type"]["message"]
    assert "LOUD" in errors["bad-level"]["message"]
    assert "startTime" in errors["bad-time"]["message"]
    assert "usageDetails.input" in errors["bad-usage"]["message"]
    assert "never-created" in errors["no-trace"]["message"]
    trace = _trace(server, project, good_trace)
    assert trace["name"] == "mixed"
    assert [o["id"] for o in trace["observations"]] == ["span-good"]

    # Missing or wrong credentials.
    for url, headers in (
        (otel, {"Content-Type": "application/x-protobuf"}),
        (server.url + "/v1/traces", {"Content-Type": "application/x-protobuf"}),
        (ingestion, {"Content-Type": "application/json"}),
    ):
        _assert_json_error(post(url, content=valid, headers=headers), 401)
        wrong = base64.b64encode(f"{project.public_key}:sk-tm-wrong".encode()).decode()
        _assert_json_error(
            post(url, content=valid, headers={**headers, "Authorization": f"Basic {wrong}"}), 401
        )
    _assert_no_server_errors(server)

    # Bodies above TRACEMARK_MAX_BODY_BYTES.
    small = start_server(
        database_url, tmp_path / "small", extra_env={"TRACEMARK_MAX_BODY_BYTES": "100000"}
    )
    started.append(small)
    small_otel = small.url + "/api/public/otel/v1/traces"
    big = b"x" * 200_000
    _assert_json_error(
        post(small_otel, content=big, headers={**auth, "Content-Type": "application/x-protobuf"}),
        413,
    )
    _assert_json_error(
        post(
            small.url + "/api/public/ingestion",
            content=b'{"batch": [], "pad": "' + big + b'"}',
            headers={**auth, "Content-Type": "application/json"},
        ),
        413,
    )
    # Without Content-Length (chunked): refused while streaming.
    _assert_json_error(
        post(
            small_otel,
            content=iter([big[:60_000], big[60_000:]]),
            headers={**auth, "Content-Type": "application/x-protobuf"},
        ),
        413,
    )
    # Small on the wire, too large once inflated.
    _assert_json_error(
        post(
            small_otel,
            content=gzip.compress(b"\x00" * 1_000_000),
            headers={**auth, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        ),
        413,
    )
    # A body under the limit still goes through on that server.
    ok = post(small_otel, content=valid, headers={**auth, "Content-Type": "application/x-protobuf"})
    assert ok.status_code == 200, ok.text

    assert 500 not in statuses and all(s < 500 for s in statuses), statuses
    _assert_no_server_errors(small)
