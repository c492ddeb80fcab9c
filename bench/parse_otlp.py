"""Speed of `parse_otlp` on a realistic export: 512 spans, the OTel SDK's default batch size.

The export holds 5-span traces (agent root, two chat generations, a tool, a retriever) with
about 1 KB of input and 1 KB of output on every span, built with the real OpenTelemetry SDK
and encoded by the real OTLP encoder. Three attribute styles are measured: the Langfuse v5 SDK's
`langfuse.*` keys, OpenTelemetry GenAI semantic conventions, and OpenInference.

Target (issue: ingestion >= 10,000 spans/s end to end on 2 cores): the parser alone should take
well under 15 ms per 512-span export.

Usage: python bench/parse_otlp.py [--runs 30] [--spans 512]
                                  [--style langfuse|genai|openinference|all]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
import timeit
from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracemark.ingest.otlp import parse_otlp

TEXT = (
    "The quick brown fox jumps over the lazy dog while the committee reviews the quarterly "
    "numbers and asks whether the forecast still holds. "
)


def text(n: int, seed: int) -> str:
    return (f"[{seed}] " + TEXT * (n // len(TEXT) + 1))[:n]


def chat_input(seed: int) -> str:
    return json.dumps(
        [
            {"role": "system", "content": text(250, seed)},
            {"role": "user", "content": text(350, seed + 1)},
            {"role": "assistant", "content": text(200, seed + 2)},
            {"role": "user", "content": text(150, seed + 3)},
        ]
    )


def chat_output(seed: int) -> str:
    return json.dumps({"role": "assistant", "content": text(950, seed)})


Setter = Callable[[trace.Span, str, int], None]


def langfuse_attrs(span: trace.Span, kind: str, seed: int) -> None:
    span.set_attributes(
        {
            "user.id": "user-123",
            "session.id": f"session-{seed // 50}",
            "langfuse.trace.name": "support-agent",
            "langfuse.trace.tags": ["prod", "support"],
            "langfuse.trace.metadata.tenant": '"acme"',
            "langfuse.version": "1.2.3",
            "langfuse.environment": "production",
            "langfuse.observation.type": kind,
        }
    )
    if kind == "generation":
        span.set_attributes(
            {
                "langfuse.observation.input": chat_input(seed),
                "langfuse.observation.output": chat_output(seed),
                "langfuse.observation.model.name": "gpt-4o",
                "langfuse.observation.model.parameters": '{"temperature": 0.7, "max_tokens": 500}',
                "langfuse.observation.usage_details": '{"input": 310, "output": 240, "total": 550}',
                "langfuse.observation.cost_details": '{"input": 0.00078, "output": 0.0024}',
                "langfuse.observation.completion_start_time": '"2025-01-01T00:00:01.250000Z"',
                "langfuse.observation.metadata.attempt": "1",
            }
        )
    else:
        span.set_attributes(
            {
                "langfuse.observation.input": json.dumps(
                    {"args": [text(1000, seed)], "kwargs": {}}
                ),
                "langfuse.observation.output": json.dumps({"result": text(1000, seed + 7)}),
            }
        )
        if kind == "agent":
            span.set_attribute("langfuse.internal.is_app_root", True)


def genai_attrs(span: trace.Span, kind: str, seed: int) -> None:
    span.set_attributes({"gen_ai.conversation.id": f"conv-{seed // 50}", "user.id": "user-123"})
    if kind == "generation":
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.request.temperature": 0.7,
                "gen_ai.request.max_tokens": 500,
                "gen_ai.response.id": f"chatcmpl-{seed}",
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.usage.input_tokens": 310,
                "gen_ai.usage.output_tokens": 240,
                "gen_ai.system_instructions": json.dumps(
                    [{"type": "text", "content": text(200, seed)}]
                ),
                "gen_ai.input.messages": json.dumps(
                    [
                        {"role": "user", "parts": [{"type": "text", "content": text(800, seed)}]},
                    ]
                ),
                "gen_ai.output.messages": json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": text(950, seed)}],
                            "finish_reason": "stop",
                        }
                    ]
                ),
                "server.address": "api.openai.com",
            }
        )
    elif kind == "tool":
        span.set_attributes(
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "search_orders",
                "gen_ai.tool.call.id": f"call-{seed}",
                "gen_ai.tool.call.arguments": json.dumps({"query": text(1000, seed)}),
                "gen_ai.tool.call.result": json.dumps({"rows": [text(1000, seed + 3)]}),
            }
        )
    else:
        span.set_attributes(
            {
                "gen_ai.operation.name": "invoke_agent" if kind == "agent" else "retrieve",
                "gen_ai.agent.name": "support-agent",
                "input.value": json.dumps({"question": text(1000, seed)}),
                "input.mime_type": "application/json",
                "output.value": text(1000, seed + 5),
            }
        )


def openinference_attrs(span: trace.Span, kind: str, seed: int) -> None:
    oi_kind = {"generation": "LLM", "agent": "AGENT", "tool": "TOOL", "retriever": "RETRIEVER"}
    span.set_attributes(
        {
            "openinference.span.kind": oi_kind[kind],
            "session.id": f"session-{seed // 50}",
            "user.id": "user-123",
            "metadata": '{"tenant": "acme"}',
            "tag.tags": ["prod", "support"],
        }
    )
    if kind == "generation":
        span.set_attributes(
            {
                "llm.model_name": "gpt-4o-mini",
                "llm.provider": "openai",
                "llm.invocation_parameters": '{"temperature": 0.2}',
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": text(250, seed),
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": text(750, seed + 1),
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": text(1000, seed + 2),
                "llm.token_count.prompt": 310,
                "llm.token_count.completion": 240,
                "llm.token_count.total": 550,
                "llm.token_count.prompt_details.cache_read": 100,
                "llm.cost.total": 0.0025,
            }
        )
    else:
        span.set_attributes(
            {
                "input.value": json.dumps({"question": text(1000, seed)}),
                "input.mime_type": "application/json",
                "output.value": text(1000, seed + 5),
                "output.mime_type": "text/plain",
            }
        )


STYLES: dict[str, Setter] = {
    "langfuse": langfuse_attrs,
    "genai": genai_attrs,
    "openinference": openinference_attrs,
}


def build_export(style: str, n_spans: int) -> bytes:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": "support-bot",
                "service.version": "0.4.1",
                "deployment.environment.name": "prod",
            }
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("langfuse-sdk", "5.0.4")
    setter = STYLES[style]
    seed = 0
    while len(exporter.get_finished_spans()) < n_spans:
        seed += 1
        with tracer.start_as_current_span("handle-ticket") as root:
            setter(root, "agent", seed)
            for i in range(2):
                with tracer.start_as_current_span(f"chat-{i}") as gen:
                    setter(gen, "generation", seed * 10 + i)
            with tracer.start_as_current_span("search_orders") as tool:
                setter(tool, "tool", seed * 10 + 5)
            with tracer.start_as_current_span("retrieve-docs") as retr:
                setter(retr, "retriever", seed * 10 + 6)
    spans = exporter.get_finished_spans()[:n_spans]
    provider.shutdown()
    return bytes(encode_spans(spans).SerializeToString())


def measure(body: bytes, encoding: str | None, runs: int) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        parse_otlp(body, "application/x-protobuf", encoding, max_bytes=64 << 20)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--style", choices=[*STYLES, "all"], default="all")
    args = parser.parse_args()
    styles = list(STYLES) if args.style == "all" else [args.style]
    # Machine speed reference: ~0.7 ms on a current laptop core with CPython 3.11.
    calibration = min(timeit.repeat("sum(range(100000))", number=10, repeat=5)) / 10
    print(f"calibration: sum(range(100000)) = {calibration * 1000:.2f} ms")
    for style in styles:
        body = build_export(style, args.spans)
        gz = gzip.compress(body)
        batch = parse_otlp(body, "application/x-protobuf", None, max_bytes=64 << 20)
        assert len(batch.observations) == args.spans
        for label, data, encoding in (("identity", body, None), ("gzip", gz, "gzip")):
            times = measure(data, encoding, args.runs)
            median = statistics.median(times)
            print(
                f"{style:14s} {label:8s} {len(data) / 1024:7.1f} KiB  "
                f"median {median * 1000:6.2f} ms / {args.spans} spans  "
                f"= {args.spans / median:8,.0f} spans/s  (best {min(times) * 1000:.2f} ms)"
            )


if __name__ == "__main__":
    main()
