"""Ingestion throughput of `tracemark serve`: OTLP/HTTP protobuf exports, end to end.

Workload: exports of 512 spans (the OTel SDK's default batch size) of 5-span traces: an agent
root, a retrieval span, two LLM generations (about 1 KB of chat input and 1 KB of output each,
model, model parameters and usage) and a tool span, with Langfuse SDK (`langfuse.*`) or GenAI
semantic-convention attributes. The bodies are built ahead of time as ExportTraceServiceRequest
protobufs, with ids unique to the run; the stream of traces is cut every 512 spans, so one
trace per export boundary is split over two requests, as with a real exporter. Several senders
(threads, one httpx client each) post them to a real `tracemark serve` with a project key
(HTTP Basic), each request on a new connection unless --keepalive: two long-lived connections
may both be accepted by the same one of several server processes.

The clock runs from the first request until every span is readable through the API: a 200
answer means committed, so after the last 200 one GET /api/public/observations must report the
number of spans sent (warm-up exports, sent before the clock starts, are included in that
count but not in the figures).

Targets (issue 3):
1. SQLite, one server process (--workers 1): >= 10,000 spans/s end to end, and the server's RSS
   (the process and its children, sampled every 100 ms from start to the end of the run, warm-up
   included) below 250 MB.
2. The ceiling on the same machine: the same rows (as the service would store them: traces,
   observations, trace tags, sessions) inserted with executemany (the service's own
   writers in services/ingest_write.py) into an empty SQLite database through the same engine
   settings, one transaction per 512-span export, no HTTP and no parsing. Ingest / ceiling
   should be >= 0.35.
3. PostgreSQL with --workers 2: >= 10,000 spans/s.

The machine may be shared and noisy: a calibration loop is printed (about 0.7 ms on a current
laptop core), the CPU seconds used by the server, by this script and by everything else during
the run, throughput per server CPU-second, and an in-process breakdown (parse_otlp, then
ingest_batch in a db.write() session, one thread, no HTTP) of where the server's time goes.

Usage: python bench/ingest.py [--spans 20480] [--warmup 2] [--senders 2]
                              [--style langfuse|genai] [--gzip] [--keepalive]
                              [--engines sqlite,postgres]
                              [--pg-server postgresql+psycopg://postgres@127.0.0.1:5432]
                              [--pg-workers 2] [--no-breakdown]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import queue
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from sqlalchemy import create_engine, text

from tracemark.db import migrate
from tracemark.db.base import utcnow
from tracemark.db.engine import Database
from tracemark.db.models import Observation, Trace, TraceSession, TraceTag
from tracemark.ingest.otlp import parse_otlp
from tracemark.services import accounts, credentials, ingest
from tracemark.services.ingest_write import writer
from tracemark.services.trace_aggregates import aggregate_rows

SPANS_PER_EXPORT = 512
SPANS_PER_TRACE = 5
MAX_BYTES = 64 << 20
TARGET_SPANS_S = 10_000
TARGET_RSS_MB = 250
TARGET_RATIO = 0.35
PROTOBUF = "application/x-protobuf"

TEXT = (
    "The quick brown fox jumps over the lazy dog while the committee reviews the quarterly "
    "numbers and asks whether the forecast still holds. "
)


# --- workload ------------------------------------------------------------------------------


def words(n: int, seed: int) -> str:
    return (f"[{seed}] " + TEXT * (n // len(TEXT) + 1))[:n]


def chat_messages(seed: int) -> list[dict[str, str]]:
    """About 1 KB of chat as JSON."""
    return [
        {"role": "system", "content": words(250, seed)},
        {"role": "user", "content": words(350, seed + 1)},
        {"role": "assistant", "content": words(200, seed + 2)},
        {"role": "user", "content": words(150, seed + 3)},
    ]


def answer(seed: int) -> str:
    return words(950, seed)


def _any(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(_any(v) for v in value)
        return out
    return AnyValue(string_value=str(value))


def _kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_any(v)) for k, v in attrs.items()]


def langfuse_attrs(kind: str, seed: int, trace_no: int) -> dict[str, Any]:
    """Attributes as the Langfuse Python SDK (v3+) sets them."""
    a: dict[str, Any] = {"langfuse.observation.type": kind, "langfuse.environment": "production"}
    if kind == "agent":
        a.update(
            {
                "user.id": f"user-{trace_no % 97}",
                "session.id": f"session-{trace_no // 10}",
                "langfuse.trace.name": "support-agent",
                "langfuse.trace.tags": ["prod", "support"],
                "langfuse.trace.metadata.tenant": '"acme"',
                "langfuse.version": "1.2.3",
                "langfuse.observation.input": json.dumps({"question": words(200, seed)}),
                "langfuse.observation.output": json.dumps({"answer": words(200, seed + 1)}),
            }
        )
    elif kind == "retriever":
        a.update(
            {
                "langfuse.observation.input": json.dumps({"query": words(100, seed)}),
                "langfuse.observation.output": json.dumps(
                    {"documents": [words(150, seed + i) for i in range(3)]}
                ),
            }
        )
    elif kind == "generation":
        a.update(
            {
                "langfuse.observation.input": json.dumps(chat_messages(seed)),
                "langfuse.observation.output": json.dumps(
                    {"role": "assistant", "content": answer(seed)}
                ),
                "langfuse.observation.model.name": "gpt-4o",
                "langfuse.observation.model.parameters": '{"temperature": 0.7, "max_tokens": 500}',
                "langfuse.observation.usage_details": '{"input": 310, "output": 240, "total": 550}',
                "langfuse.observation.metadata.attempt": "1",
            }
        )
    else:  # tool
        a.update(
            {
                "langfuse.observation.input": json.dumps({"order_id": f"ord-{seed}"}),
                "langfuse.observation.output": json.dumps({"status": words(250, seed)}),
            }
        )
    return a


def genai_attrs(kind: str, seed: int, trace_no: int) -> dict[str, Any]:
    """Attributes by the OpenTelemetry GenAI semantic conventions."""
    if kind == "agent":
        return {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "support-agent",
            "gen_ai.conversation.id": f"conv-{trace_no // 10}",
            "user.id": f"user-{trace_no % 97}",
            "input.value": json.dumps({"question": words(200, seed)}),
            "input.mime_type": "application/json",
            "output.value": words(200, seed + 1),
        }
    if kind == "retriever":
        return {
            "gen_ai.data_source.id": "kb-orders",
            "input.value": json.dumps({"query": words(100, seed)}),
            "output.value": json.dumps({"documents": [words(150, seed + i) for i in range(3)]}),
        }
    if kind == "generation":
        msgs = chat_messages(seed)
        return {
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
                [{"type": "text", "content": msgs[0]["content"]}]
            ),
            "gen_ai.input.messages": json.dumps(
                [
                    {"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]}
                    for m in msgs[1:]
                ]
            ),
            "gen_ai.output.messages": json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": answer(seed)}],
                        "finish_reason": "stop",
                    }
                ]
            ),
        }
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "lookup_order",
        "gen_ai.tool.call.id": f"call-{seed}",
        "gen_ai.tool.call.arguments": json.dumps({"order_id": f"ord-{seed}"}),
        "gen_ai.tool.call.result": json.dumps({"status": words(250, seed)}),
    }


STYLES = {"langfuse": langfuse_attrs, "genai": genai_attrs}

# (kind, name, parent slot, start ms, end ms), in the order spans end (the order an SDK
# exports them): children first, the root last. Slot 0 is the root.
TRACE_SHAPE = (
    ("retriever", "retrieve-docs", 0, 10, 110),
    ("generation", "chat-0", 0, 120, 900),
    ("generation", "chat-1", 0, 900, 1700),
    ("tool", "lookup_order", 0, 1700, 1800),
    ("agent", "handle-ticket", None, 0, 1900),
)


def span_stream(n_spans: int, style: str, run_tag: bytes) -> Iterator[Span]:
    """`n_spans` spans of 5-span traces; ids unique to `run_tag` (4 random bytes)."""
    setter = STYLES[style]
    base_ns = time.time_ns() - 3_600_000_000_000
    made = 0
    trace_no = 0
    while made < n_spans:
        trace_no += 1
        trace_id = run_tag + b"\x00\x00\x00\x01" + trace_no.to_bytes(8, "big")
        root_id = run_tag + (trace_no * 8).to_bytes(4, "big")
        start = base_ns + trace_no * 1_000_000
        for slot, (kind, name, parent, s_ms, e_ms) in enumerate(TRACE_SHAPE):
            if made == n_spans:
                return
            span_id = (
                root_id
                if parent is None
                else run_tag + (trace_no * 8 + slot + 1).to_bytes(4, "big")
            )
            sp = Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=b"" if parent is None else root_id,
                name=name,
                kind=Span.SPAN_KIND_CLIENT if kind == "generation" else Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=start + s_ms * 1_000_000,
                end_time_unix_nano=start + e_ms * 1_000_000,
                status=Status(code=Status.STATUS_CODE_OK),
            )
            sp.attributes.extend(_kvs(setter(kind, trace_no * 10 + slot, trace_no)))
            made += 1
            yield sp


def build_exports(n_exports: int, style: str, run_tag: bytes) -> list[bytes]:
    resource = _kvs(
        {
            "service.name": "support-bot",
            "service.version": "0.4.1",
            "deployment.environment.name": "prod",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.45.2",
        }
    )
    spans = span_stream(n_exports * SPANS_PER_EXPORT, style, run_tag)
    bodies: list[bytes] = []
    for _ in range(n_exports):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(resource)
        ss = rs.scope_spans.add()
        ss.scope.name = "langfuse-sdk" if style == "langfuse" else "support-bot"
        ss.scope.version = "3.8.1"
        for _ in range(SPANS_PER_EXPORT):
            ss.spans.append(next(spans))
        bodies.append(request.SerializeToString())
    return bodies


# --- servers and processes -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (through /proc/<pid>/task/*/children)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
            except OSError:
                continue
    return out


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            continue
    return total_kb / 1024


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process."""
    out: dict[int, float] = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[p] = (int(fields[11]) + int(fields[12])) / _TICKS
    return out


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine since boot, all cores (from /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICKS


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


class RssSampler(threading.Thread):
    """Peak resident memory of a process tree, sampled every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0.0  # since start
        self.recent_peak = 0.0  # since the last mark()
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            now = rss_mb(process_tree(self.pid))
            self.peak = max(self.peak, now)
            self.recent_peak = max(self.recent_peak, now)
            self.samples += 1
            if self._stop_event.wait(self.interval):
                return

    def mark(self) -> None:
        self.recent_peak = 0.0

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=5)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str]

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def start_server(database_url: str, data_dir: Path, workers: int) -> Server:
    port = free_port()
    log = data_dir / f"serve-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRACEMARK_")}
    cmd = [
        sys.executable,
        "-m",
        "tracemark",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--database-url",
        database_url,
        "--workers",
        str(workers),
    ]
    with open(log, "wb") as handle:
        process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}", process, log, cmd)
    deadline = time.monotonic() + 300  # a loaded shared machine starts slowly
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"tracemark serve exited early:\n{log.read_text()}")
            try:
                healthy = httpx.get(server.url + "/api/public/health", timeout=1).is_success
                # With several workers, wait until every one of them is up.
                if healthy and (workers == 1 or len(process_tree(process.pid)) > workers):
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"tracemark serve did not answer within 300 s:\n{log.read_text()}")
    except BaseException:
        server.stop()
        raise


def create_project(database_url: str) -> tuple[str, str, str]:
    """Migrate, then a project with an API key: (project id, public key, secret key)."""
    db = Database(database_url)
    try:
        migrate.upgrade(db.write_engine)
        with db.write() as session:
            project = accounts.create_project(session, "ingest-bench")
            key = credentials.create_api_key(session, project, note="bench/ingest.py")
            return project.id, key.key.public_key, key.secret
    finally:
        db.dispose()


# --- sending -------------------------------------------------------------------------------


@dataclass
class SendResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    retries: int = 0
    verified: int = 0
    rss_peak_mb: float = 0.0  # from server start to the end of the run
    rss_run_peak_mb: float = 0.0  # during the measured run only
    rss_warm_peak_mb: float = 0.0  # up to the end of the warm-up
    rss_idle_mb: float = 0.0
    cpu_split: list[float] = field(default_factory=list)
    cpu_client: float = 0.0
    cpu_machine: float = 0.0


def _post_all(
    url: str,
    auth: tuple[str, str],
    bodies: list[bytes],
    senders: int,
    use_gzip: bool,
    keepalive: bool,
    result: SendResult,
) -> None:
    todo: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        todo.put(body)
    errors: list[BaseException] = []
    lock = threading.Lock()
    headers = {"content-type": PROTOBUF}
    if use_gzip:
        headers["content-encoding"] = "gzip"
    # Without keep-alive every request is accepted anew, so with several server processes the
    # requests spread over them; two long-lived connections may both land on one process.
    limits = httpx.Limits(max_keepalive_connections=None if keepalive else 0)

    def sender() -> None:
        try:
            with httpx.Client(auth=auth, timeout=300, headers=headers, limits=limits) as client:
                while not errors:
                    try:
                        body = todo.get_nowait()
                    except queue.Empty:
                        return
                    while True:
                        t0 = time.perf_counter()
                        response = client.post(url, content=body)
                        elapsed = time.perf_counter() - t0
                        if response.status_code == 200:
                            break
                        if response.status_code in (429, 503):
                            with lock:
                                result.retries += 1
                            time.sleep(0.05)
                            continue
                        raise RuntimeError(
                            f"export answered {response.status_code}: {response.text[:500]}"
                        )
                    with lock:
                        result.latencies.append(elapsed)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def count_observations(base_url: str, auth: tuple[str, str]) -> int:
    response = httpx.get(
        base_url + "/api/public/observations", params={"limit": 1}, auth=auth, timeout=60
    )
    response.raise_for_status()
    return int(response.json()["meta"]["totalItems"])


def run_server(
    database_url: str,
    data_dir: Path,
    workers: int,
    warmup: list[bytes],
    bodies: list[bytes],
    senders: int,
    use_gzip: bool,
    keepalive: bool,
) -> tuple[SendResult, list[str]]:
    _, public, secret = create_project(database_url)
    auth = (public, secret)
    if use_gzip:
        warmup = [gzip.compress(b, 1) for b in warmup]
        bodies = [gzip.compress(b, 1) for b in bodies]
    server = start_server(database_url, data_dir, workers)
    sampler = RssSampler(server.process.pid)
    try:
        sampler.start()
        time.sleep(0.3)
        idle = rss_mb(process_tree(server.process.pid))
        url = server.url + "/api/public/otel/v1/traces"
        warm = SendResult(0.0)
        _post_all(url, auth, warmup, senders, use_gzip, keepalive, warm)
        expected = (len(warmup) + len(bodies)) * SPANS_PER_EXPORT
        pids = process_tree(server.process.pid)
        cpu_before = cpu_seconds(pids)
        machine_before, client_before = machine_cpu(), own_cpu()
        result_warm_peak = sampler.peak
        sampler.mark()
        result = SendResult(0.0)
        t0 = time.perf_counter()
        _post_all(url, auth, bodies, senders, use_gzip, keepalive, result)
        result.verified = count_observations(server.url, auth)
        result.seconds = time.perf_counter() - t0
        cpu_after = cpu_seconds(pids)
        result.cpu_machine = machine_cpu() - machine_before
        result.cpu_client = own_cpu() - client_before
        if result.verified != expected:
            raise RuntimeError(
                f"after the last 200 the API reports {result.verified} observations, "
                f"expected {expected}"
            )
        sampler.stop()
        result.rss_peak_mb = sampler.peak
        result.rss_run_peak_mb = sampler.recent_peak
        result.rss_warm_peak_mb = result_warm_peak
        result.rss_idle_mb = idle
        result.cpu_split = sorted(
            (cpu_after.get(p, 0.0) - cpu_before.get(p, 0.0) for p in pids), reverse=True
        )
        return result, server.command
    finally:
        sampler.stop()
        server.stop()


# --- the ceiling and the in-process breakdown ---------------------------------------------


@dataclass
class Rows:
    """Per export: the rows the service would store for it."""

    observations: list[dict[str, Any]]
    traces: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    sessions: list[dict[str, Any]]


def build_rows(project_id: str, bodies: list[bytes]) -> list[Rows]:
    """The stored rows, computed with the service's own row builders (outside the clock).

    Each trace row goes with the export where the trace first appears, carrying the
    aggregates over all of its observations (its final state).
    """
    now = utcnow()
    batches = [parse_otlp(b, PROTOBUF, None, max_bytes=MAX_BYTES) for b in bodies]
    obs_rows: list[list[dict[str, Any]]] = []
    trace_fields: dict[str, dict[str, Any]] = {}
    first_export: dict[str, int] = {}
    for n, batch in enumerate(batches):
        for rec in batch.traces:
            trace_fields[rec.id] = ingest.merge_fields(trace_fields.get(rec.id, {}), rec.fields)
            first_export.setdefault(rec.id, n)
        rows = []
        for rec in batch.observations:
            first_export.setdefault(rec.trace_id, n)
            fields = dict(rec.fields)
            ingest._truncate_large(fields)
            rows.append(ingest._observation_row(project_id, rec.id, rec.trace_id, fields, [], now))
        obs_rows.append(rows)

    aggregates, roots = aggregate_rows(r for rows in obs_rows for r in rows)

    out = [Rows(rows, [], [], []) for rows in obs_rows]
    seen_sessions: set[str] = set()
    for tid, n in first_export.items():
        row = ingest._trace_row(
            project_id,
            tid,
            None,
            dict(trace_fields.get(tid, {})),
            aggregates.get(tid),
            roots.get(tid),
            now,
        )
        out[n].traces.append(row)
        for tag in dict.fromkeys(row["tags"]):
            tag_row = {"project_id": project_id, "trace_id": tid, "tag": tag}
            out[n].tags.append(tag_row | {"timestamp": row["timestamp"]})
        sid = row["session_id"]
        if sid and sid not in seen_sessions:
            seen_sessions.add(sid)
            out[n].sessions.append(
                {
                    "project_id": project_id,
                    "id": sid,
                    "environment": row["environment"],
                    "created_at": now,
                }
            )
    return out


def insert_rows(db: Database, rows: Rows) -> None:
    """As the service writes them: its own executemany writers, no reading, no merging."""
    with db.write() as session:
        dialect = session.get_bind().dialect.name
        writer(Observation, dialect).write(session, rows.observations)
        writer(Trace, dialect).write(session, rows.traces)
        writer(TraceTag, dialect).write(session, rows.tags)
        writer(TraceSession, dialect, "nothing").write(session, rows.sessions)


def run_ceiling(tmp: Path, warmup: list[bytes], bodies: list[bytes]) -> tuple[float, float]:
    """Wall and CPU seconds to insert the measured exports' rows (warm-up rows first, untimed)."""
    url = f"sqlite:///{tmp / 'ceiling.db'}"
    project_id, _, _ = create_project(url)
    all_rows = build_rows(project_id, warmup + bodies)
    db = Database(url)
    try:
        for rows in all_rows[: len(warmup)]:
            insert_rows(db, rows)
        t0, c0 = time.perf_counter(), time.process_time()
        for rows in all_rows[len(warmup) :]:
            insert_rows(db, rows)
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        db.dispose()


def run_breakdown(tmp: Path, warmup: list[bytes], bodies: list[bytes]) -> tuple[float, float]:
    """In-process, one thread, SQLite: seconds in parse_otlp and in ingest_batch (+ commit)."""
    url = f"sqlite:///{tmp / 'breakdown.db'}"
    project_id, _, _ = create_project(url)
    db = Database(url)
    parse_s = store_s = 0.0
    try:
        for n, body in enumerate(warmup + bodies):
            t0 = time.perf_counter()
            batch = parse_otlp(body, PROTOBUF, None, max_bytes=MAX_BYTES)
            t1 = time.perf_counter()
            with db.write() as session:
                ingest.ingest_batch(session, project_id, batch)
            t2 = time.perf_counter()
            if n >= len(warmup):
                parse_s += t1 - t0
                store_s += t2 - t1
        return parse_s, store_s
    finally:
        db.dispose()


# --- PostgreSQL database -----------------------------------------------------------------


class PgDatabase:
    def __init__(self, server: str) -> None:
        self.name = f"tm_bench_{os.getpid()}"
        self.server = server.rstrip("/")
        self.url = f"{self.server}/{self.name}"
        self._admin = create_engine(self.server + "/postgres", isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: object) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


# --- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def describe(label: str, spans: int, res: SendResult) -> float:
    rate = spans / res.seconds
    lat = sorted(res.latencies)
    p50 = statistics.median(lat) * 1000
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] * 1000
    print(
        f"{label}: {spans:,} spans in {res.seconds:.2f} s = {rate:,.0f} spans/s end to end "
        f"(verified {res.verified:,} observations incl. warm-up; request p50 {p50:.0f} ms, "
        f"p95 {p95:.0f} ms; retries {res.retries})"
    )
    print(
        f"{label}: server RSS peak {res.rss_peak_mb:.0f} MB (idle after start "
        f"{res.rss_idle_mb:.0f} MB; peak up to the end of the warm-up {res.rss_warm_peak_mb:.0f} "
        f"MB, which includes the first Argon2id verification of the API key, 64 MiB per "
        f"concurrent request; peak during the measured run {res.rss_run_peak_mb:.0f} MB)"
    )
    server_cpu = sum(res.cpu_split)
    split = " + ".join(f"{c:.1f}" for c in res.cpu_split if c >= 0.05)
    cores = os.cpu_count() or 1
    rest = res.cpu_machine - server_cpu - res.cpu_client
    print(
        f"{label}: CPU seconds during the run: server {server_cpu:.1f} ({split}; "
        f"{spans / server_cpu:,.0f} spans per server CPU-second), "
        f"bench client {res.cpu_client:.1f}, everything else {max(rest, 0.0):.1f} "
        f"(database server, other jobs); machine busy "
        f"{100 * res.cpu_machine / (res.seconds * cores):.0f}% of {cores} cores"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spans", type=int, default=40 * SPANS_PER_EXPORT)
    parser.add_argument("--warmup", type=int, default=2, help="exports sent before the clock")
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--style", choices=list(STYLES), default="langfuse")
    parser.add_argument("--gzip", action="store_true", help="send gzip bodies (level 1)")
    parser.add_argument(
        "--keepalive", action="store_true", help="reuse each sender's connection (default: not)"
    )
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument(
        "--pg-server",
        default=os.environ.get("TM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432"),
    )
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument("--no-breakdown", action="store_true")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    n_exports = max(1, args.spans // SPANS_PER_EXPORT)
    spans = n_exports * SPANS_PER_EXPORT

    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    calibration = min(timeit.repeat("sum(range(100000))", number=10, repeat=5)) / 10
    print(
        f"calibration: sum(range(100000)) = {calibration * 1000:.2f} ms "
        f"(about 0.7 ms on a current laptop core); {os.cpu_count()} CPUs"
    )
    t0 = time.perf_counter()
    run_tag = os.urandom(4)
    all_bodies = build_exports(args.warmup + n_exports, args.style, run_tag)
    warmup, bodies = all_bodies[: args.warmup], all_bodies[args.warmup :]
    size = sum(len(b) for b in bodies) / len(bodies)
    print(
        f"workload: {n_exports} exports x {SPANS_PER_EXPORT} spans = {spans:,} spans "
        f"({spans // SPANS_PER_TRACE:,} traces of {SPANS_PER_TRACE}), style {args.style}, "
        f"{size / 1024:.0f} KiB per export{' (sent gzip)' if args.gzip else ''}, "
        f"+{args.warmup} warm-up exports, {args.senders} senders; "
        f"built in {time.perf_counter() - t0:.1f} s"
    )

    checks: list[tuple[str, bool]] = []
    sqlite_rate: float | None = None
    with tempfile.TemporaryDirectory(prefix="tm-bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        if "sqlite" in engines:
            data_dir = tmp / "sqlite-server"
            data_dir.mkdir()
            url = f"sqlite:///{data_dir / 'tracemark.db'}"
            res, cmd = run_server(
                url, data_dir, 1, warmup, bodies, args.senders, args.gzip, args.keepalive
            )
            print("server:", shlex.join(["python", *cmd[1:]]))
            sqlite_rate = describe("SQLite, --workers 1", spans, res)
            label = f"SQLite spans/s {sqlite_rate:,.0f} >= {TARGET_SPANS_S:,}"
            checks.append((label, sqlite_rate >= TARGET_SPANS_S))
            checks.append(
                (
                    f"SQLite server RSS peak {res.rss_peak_mb:.0f} MB < {TARGET_RSS_MB} MB",
                    res.rss_peak_mb < TARGET_RSS_MB,
                )
            )

            ceiling_s, ceiling_cpu = run_ceiling(tmp, warmup, bodies)
            ceiling = spans / ceiling_s
            print(
                f"ceiling: executemany of the same rows into empty SQLite, one transaction per "
                f"export: {ceiling_s:.2f} s = {ceiling:,.0f} spans/s"
            )
            ratio = sqlite_rate / ceiling
            server_cpu = sum(res.cpu_split)
            print(
                f"ingest / ceiling = {ratio:.2f} (per CPU-second instead of per second, "
                f"less sensitive to other load: ingest {spans / server_cpu:,.0f}, ceiling "
                f"{spans / ceiling_cpu:,.0f}, ratio {ceiling_cpu / server_cpu:.2f})"
            )
            checks.append((f"ingest/ceiling {ratio:.2f} >= {TARGET_RATIO}", ratio >= TARGET_RATIO))

            if not args.no_breakdown:
                parse_s, store_s = run_breakdown(tmp, warmup, bodies)
                per = 1000 / n_exports
                print(
                    f"in-process breakdown (one thread, SQLite, no HTTP), per export: "
                    f"parse_otlp {parse_s * per:.1f} ms, ingest_batch+commit "
                    f"{store_s * per:.1f} ms, executemany ceiling {ceiling_s * per:.1f} ms; "
                    f"parse+ingest alone = {spans / (parse_s + store_s):,.0f} spans/s"
                )

        if "postgres" in engines:
            with PgDatabase(args.pg_server) as pg_url:
                data_dir = tmp / "pg-server"
                data_dir.mkdir()
                res, cmd = run_server(
                    pg_url,
                    data_dir,
                    args.pg_workers,
                    warmup,
                    bodies,
                    args.senders,
                    args.gzip,
                    args.keepalive,
                )
            print("server:", shlex.join(["python", *cmd[1:]]))
            pg_rate = describe(f"PostgreSQL, --workers {args.pg_workers}", spans, res)
            checks.append(
                (
                    f"PostgreSQL (--workers {args.pg_workers}) spans/s {pg_rate:,.0f} "
                    f">= {TARGET_SPANS_S:,}",
                    pg_rate >= TARGET_SPANS_S,
                )
            )

    for label, ok in checks:
        print(f"{verdict(ok)}  {label}")
    print(verdict(all(ok for _, ok in checks)))


if __name__ == "__main__":
    main()
