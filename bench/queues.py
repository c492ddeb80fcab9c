"""Annotation queues at scale (issue 5): next/complete on a 1,000,000-item queue; from-filter.

1. Processing: a queue of 1,000,000 trace items (annotatorsPerItem=2, score configs NUMERIC
   and BOOLEAN, 8 members), bulk-loaded straight into the database with Core inserts together
   with 1,000,000 minimal traces. 8 annotators (threads, each with its own personal access
   token and keep-alive httpx client) run POST /{queueId}/next then POST
   /{queueId}/items/{itemId}/complete with two scores, 2,000 rounds in all, against a real
   `tracemark serve` (SQLite: one process; PostgreSQL: --workers 2). Reported: p50 and p99 of
   each call, rounds/s, and the server processes' CPU time per round. The annotators never
   pause, so when the server is the bottleneck each call also waits for the other annotators'
   calls. Target: p99 below 50 ms for next and for complete. Afterwards the database is
   checked: 2,000 completions, no item with more than 2 annotators, item counters matching
   the work rows, 2 scores per round.
   Baseline in the same run: p50 of GET /api/public/health (sequential, before the load).
2. From a filter: POST /{queueId}/items/from-filter with {"filter": {"userId": ...}} matching
   50,000 of the traces, into a fresh queue; done twice (two fresh queues: the first call reads
   the traces from disk, the second finds them cached). Target: below 5 s, both times.

The queue's work (work rows, its scores and their history, item counters) and queues left by
earlier from-filter runs are reset before each run, so every run starts from the same state.

Usage:
  python bench/queues.py [--engine sqlite|postgres|both] [--items 1000000] [--rounds 2000]
      [--annotators 8] [--keep DIR]
The loaded databases are kept (SQLite: a file under --keep, default /tmp/tracemark-queue-bench;
PostgreSQL: database tm_queue_bench_<items>) and reused when they hold --items traces.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/queues.py`, this file's folder comes first on the import path, where this
# file would shadow the standard library's `queue` (psycopg imports it): move that folder last.
sys.path.sort(key=lambda p: Path(p or ".").resolve() == Path(__file__).resolve().parent)

import argparse
import os
import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, delete, func, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import start_server

from tracemark.db import migrate
from tracemark.db.engine import Database
from tracemark.db.models import (
    AnnotationQueue,
    ItemStatus,
    QueueItem,
    QueueWork,
    Role,
    Score,
    ScoreChange,
    ScoreConfig,
    Trace,
    WorkState,
)
from tracemark.services import accounts, credentials, queues, score_configs

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
NOW = datetime(2026, 11, 20, tzinfo=UTC)
SPAN_DAYS = 90
QUEUE_NAME = "bench-queue"
FILTER_QUEUE_PREFIX = "bench-from-filter"
FILTER_USER = "filter-user"
FILTER_MATCHES = 50_000
CALL_TARGET_MS = 50.0
FILTER_TARGET_S = 5.0
CONFIGS = {
    "bench-quality": {"dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
    "bench-correct": {"dataType": "BOOLEAN"},
}


# --- loading -----------------------------------------------------------------------------


def load(db: Database, project_id: str, queue_id: str, n: int) -> None:
    """n minimal traces in time order, and one queue item per trace (added in 100 batches).

    Every (n // 50,000)-th trace belongs to FILTER_USER, so that filter matches 50,000.
    """
    every = max(1, n // FILTER_MATCHES)
    chunk = 20_000
    batch_size = max(1, n // 100)
    traces = Trace.__table__
    items = QueueItem.__table__
    started = time.perf_counter()
    for offset in range(0, n, chunk):
        trace_rows: list[dict[str, Any]] = []
        item_rows: list[dict[str, Any]] = []
        for i in range(offset, min(n, offset + chunk)):
            ts = NOW - timedelta(seconds=(n - i) * SPAN_DAYS * 86400 / n)
            tid = f"t{i:08d}"
            trace_rows.append(
                {
                    "project_id": project_id,
                    "id": tid,
                    "timestamp": ts,
                    "name": "support-chat",
                    "user_id": FILTER_USER if i % every == 0 else f"user-{i % 2000}",
                    "environment": "production",
                    "public": False,
                    "tags": [],
                    "metadata": {},
                    "input": {"question": f"question {i}"},
                    "output": {"answer": f"answer {i}"},
                    "explicit": [],
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "total_tokens": 0,
                    "observation_count": 0,
                    "level": "DEFAULT",
                    "error_count": 0,
                    "warning_count": 0,
                    "created_at": ts,
                    "updated_at": ts,
                }
            )
            # Items arrive as bulk adds: the items of one add share their created_at.
            added = NOW + timedelta(minutes=i // batch_size)
            item_rows.append(
                {
                    "id": uuid.uuid4().hex,
                    "queue_id": queue_id,
                    "project_id": project_id,
                    "object_type": "TRACE",
                    "object_id": tid,
                    "trace_id": tid,
                    "status": ItemStatus.PENDING.value,
                    "assignee_user_id": None,
                    "priority": 0,
                    "completion_count": 0,
                    "created_at": added,
                    "updated_at": added,
                }
            )
        with db.write() as session:
            session.execute(traces.insert(), trace_rows)
            session.execute(items.insert(), item_rows)
        done = min(n, offset + chunk)
        if done % 200_000 == 0 or done == n:
            rate = done / (time.perf_counter() - started)
            print(f"  loaded {done:,} traces and items ({rate:,.0f}/s)", flush=True)
    with db.write() as session:
        queues.recount_items(session, queue_id)
    analyze(db)


def analyze(db: Database) -> None:
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with db.write_engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")


def pg_database(name: str) -> str:
    admin = create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


@dataclass
class Setup:
    project_id: str
    queue_id: str
    public_key: str
    secret_key: str
    config_ids: dict[str, str]
    tokens: list[str] = field(default_factory=list)


def prepare(url: str, n: int, annotators: int) -> Setup:
    """Schema, project, configs, annotators with fresh tokens, the loaded queue (reset)."""
    db = Database(url)
    migrate.upgrade(db.write_engine)
    with db.read() as session:
        existing = session.scalar(select(func.count()).select_from(Trace)) or 0
    if existing and existing != n:
        raise SystemExit(f"{url} holds {existing} traces; delete it or use --items {existing}")
    with db.write() as session:
        try:
            project = accounts.find_project(session, "bench")
        except Exception:
            project = accounts.create_project(session, "bench")
        key = credentials.create_api_key(session, project)
        config_ids = {}
        for name, body in CONFIGS.items():
            config = session.scalar(
                select(ScoreConfig).where(
                    ScoreConfig.project_id == project.id, ScoreConfig.name == name
                )
            )
            if config is None:
                config = score_configs.create(session, project.id, {"name": name, **body})
            config_ids[name] = config.id
        users, tokens = [], []
        for i in range(annotators):
            email = f"annotator-{i}@bench.example"
            user = accounts.get_user_by_email(session, email)
            if user is None:
                user = accounts.create_user(
                    session, email=email, name=f"annotator {i}", password="annotator-password"
                )
                accounts.set_membership(session, project, user, Role.ANNOTATOR)
            users.append(user)
            tokens.append(credentials.create_token(session, user, project, name="bench").value)
        queue = session.scalar(
            select(AnnotationQueue).where(
                AnnotationQueue.project_id == project.id, AnnotationQueue.name == QUEUE_NAME
            )
        )
        if queue is None:
            queue = queues.create_queue(
                session,
                project.id,
                {
                    "name": QUEUE_NAME,
                    "description": "# Guidelines\nRate the answer.",
                    "scoreConfigIds": list(config_ids.values()),
                    "annotatorsPerItem": 2,
                },
            )
        queues.set_members(session, queue, [u.id for u in users])
        setup = Setup(
            project.id, queue.id, key.key.public_key, key.secret, config_ids, tokens=tokens
        )
    if not existing:
        where = url.split("@")[-1]
        print(f"loading {n:,} traces and a queue of {n:,} items into {where}", flush=True)
        load(db, setup.project_id, setup.queue_id, n)
    reset(db, setup)
    db.dispose()
    return setup


def reset(db: Database, setup: Setup) -> None:
    """Undo earlier runs: the queue's work, its scores, item counters, from-filter queues."""
    started = time.perf_counter()
    with db.write() as session:
        queue_id, project_id = setup.queue_id, setup.project_id
        touched = select(QueueWork.item_id).where(QueueWork.queue_id == queue_id)
        session.execute(
            update(QueueItem)
            .where(QueueItem.id.in_(touched))
            .values(
                status=ItemStatus.PENDING.value,
                completion_count=0,
                completed_at=None,
                updated_at=QueueItem.created_at,
            )
        )
        session.execute(delete(QueueWork).where(QueueWork.queue_id == queue_id))
        ours = select(Score.id).where(Score.project_id == project_id, Score.queue_id == queue_id)
        session.execute(
            delete(ScoreChange).where(
                ScoreChange.project_id == project_id, ScoreChange.score_id.in_(ours)
            )
        )
        session.execute(
            delete(Score).where(Score.project_id == project_id, Score.queue_id == queue_id)
        )
        stale = select(AnnotationQueue.id).where(
            AnnotationQueue.project_id == project_id,
            AnnotationQueue.name.like(FILTER_QUEUE_PREFIX + "%"),
        )
        session.execute(delete(QueueItem).where(QueueItem.queue_id.in_(stale)))
        session.execute(delete(AnnotationQueue).where(AnnotationQueue.id.in_(stale)))
    elapsed = time.perf_counter() - started
    if elapsed > 1:
        print(f"  reset the queue in {elapsed:.1f} s")


# --- measuring ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (uvicorn's worker processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def health(base: str, runs: int) -> float:
    timings = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(runs):
            started = time.perf_counter()
            client.get("/api/public/health").raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


@dataclass
class Load:
    next_ms: list[float] = field(default_factory=list)
    complete_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def process(base: str, setup: Setup, rounds: int) -> Load:
    """len(setup.tokens) annotators run next -> complete until `rounds` rounds are done."""
    result = Load()
    lock = threading.Lock()
    left = [rounds]
    quality, correct = setup.config_ids["bench-quality"], setup.config_ids["bench-correct"]
    prefix = f"/api/public/annotation-queues/{setup.queue_id}"
    clients = [
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {t}"}, timeout=60)
        for t in setup.tokens
    ]
    for client in clients:  # open the keep-alive connection and warm the token cache
        client.get(f"/api/public/annotation-queues/{setup.queue_id}").raise_for_status()
    start = threading.Barrier(len(clients) + 1)

    def annotator(client: httpx.Client, seed: int) -> None:
        rng = random.Random(seed)
        nexts: list[float] = []
        completes: list[float] = []
        start.wait()
        try:
            while True:
                with lock:
                    if left[0] <= 0:
                        break
                    left[0] -= 1
                t0 = time.perf_counter()
                response = client.post(f"{prefix}/next")
                t1 = time.perf_counter()
                response.raise_for_status()
                item = response.json()["item"]
                if item is None:
                    raise RuntimeError("next returned no item")
                body = {
                    "scores": [
                        {"configId": quality, "value": rng.randint(1, 5)},
                        {"configId": correct, "value": rng.random() < 0.7},
                    ]
                }
                t2 = time.perf_counter()
                response = client.post(f"{prefix}/items/{item['id']}/complete", json=body)
                t3 = time.perf_counter()
                response.raise_for_status()
                if response.json()["alreadyCompleted"]:
                    raise RuntimeError(f"item {item['id']} was already completed by this person")
                nexts.append((t1 - t0) * 1000)
                completes.append((t3 - t2) * 1000)
        except Exception as exc:
            detail = getattr(getattr(exc, "response", None), "text", "")
            with lock:
                result.errors.append(f"{exc} {detail}".strip())
                left[0] = 0
        with lock:
            result.next_ms += nexts
            result.complete_ms += completes

    threads = [
        threading.Thread(target=annotator, args=(client, i)) for i, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    for client in clients:
        client.close()
    return result


def check_consistency(url: str, setup: Setup, rounds: int) -> list[str]:
    """Every round completed once; no item over annotatorsPerItem; counters match work rows."""
    problems = []
    db = Database(url)
    with db.read() as session:
        completed = (
            session.scalar(
                select(func.count())
                .select_from(QueueWork)
                .where(
                    QueueWork.queue_id == setup.queue_id,
                    QueueWork.state == WorkState.COMPLETED.value,
                )
            )
            or 0
        )
        if completed != rounds:
            problems.append(f"{completed} completed work rows, expected {rounds}")
        most = session.scalar(
            select(func.max(QueueItem.completion_count)).where(QueueItem.queue_id == setup.queue_id)
        )
        if (most or 0) > 2:
            problems.append(f"an item has {most} annotators (annotatorsPerItem is 2)")
        counted = session.scalar(
            select(func.coalesce(func.sum(QueueItem.completion_count), 0)).where(
                QueueItem.id.in_(
                    select(QueueWork.item_id).where(QueueWork.queue_id == setup.queue_id)
                )
            )
        )
        if counted != completed:
            problems.append(f"item counters sum to {counted}, work rows say {completed}")
        n_scores = session.scalar(
            select(func.count())
            .select_from(Score)
            .where(Score.project_id == setup.project_id, Score.queue_id == setup.queue_id)
        )
        if n_scores != 2 * rounds:
            problems.append(f"{n_scores} scores stored, expected {2 * rounds}")
    db.dispose()
    return problems


def from_filter(base: str, setup: Setup) -> tuple[float, int]:
    """Seconds to add the traces of FILTER_USER to a fresh queue, and how many were added."""
    auth = (setup.public_key, setup.secret_key)
    with httpx.Client(base_url=base, auth=auth, timeout=300) as client:
        created = client.post(
            "/api/public/annotation-queues",
            json={
                "name": f"{FILTER_QUEUE_PREFIX}-{uuid.uuid4().hex[:8]}",
                "scoreConfigIds": list(setup.config_ids.values()),
                "annotatorsPerItem": 2,
            },
        )
        created.raise_for_status()
        queue_id = created.json()["id"]
        started = time.perf_counter()
        response = client.post(
            f"/api/public/annotation-queues/{queue_id}/items/from-filter",
            json={"filter": {"userId": FILTER_USER}},
        )
        elapsed = time.perf_counter() - started
        response.raise_for_status()
    return elapsed, int(response.json()["added"])


def serve(url: str, data_dir: Path, workers: int) -> Any:
    """A `tracemark serve`; on a loaded machine starting it may take longer than 60 s."""
    for attempt in range(3):
        try:
            return start_server(url, data_dir, workers=workers)
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def run_engine(name: str, url: str, args: argparse.Namespace, keep: Path) -> bool:
    setup = prepare(url, args.items, args.annotators)
    workers = 1 if name == "sqlite" else 2
    server = serve(url, keep / f"server-{name}", workers)
    try:
        base_ms = health(server.url, 200)
        cpu_before = cpu_seconds(server.process.pid)
        load_result = process(server.url, setup, args.rounds)
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        # Twice, each into a fresh queue: the first reads the matching traces from disk.
        filters = [from_filter(server.url, setup) for _ in range(2)]
    finally:
        server.stop()
    problems = load_result.errors[:3] + check_consistency(url, setup, args.rounds)
    expected = min(FILTER_MATCHES, args.items)
    for _, added in filters:
        if added != expected:
            problems.append(f"from-filter added {added}, expected {expected}")
    rounds = len(load_result.next_ms)
    print(
        f"{name} ({workers} server process{'es' if workers > 1 else ''}): queue of "
        f"{args.items:,} items, {args.annotators} annotators, {rounds:,} rounds in "
        f"{load_result.seconds:.1f} s = {rounds / load_result.seconds:,.0f} rounds/s"
    )
    print(
        f"  baseline GET /health p50 {base_ms:.1f} ms; tracemark CPU per round (next + "
        f"complete, all server processes) {server_cpu * 1000 / max(1, rounds):.1f} ms"
    )
    ok = not problems
    for label, timings in (("next", load_result.next_ms), ("complete", load_result.complete_ms)):
        if not timings:
            ok = False
            continue
        p50, p99 = statistics.median(timings), percentile(timings, 0.99)
        passed = p99 < CALL_TARGET_MS
        ok &= passed
        print(
            f"  {label:<9} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  (p50 x{p50 / base_ms:.1f} of "
            f"/health)  {'PASS' if passed else 'FAIL'} (p99 < {CALL_TARGET_MS:.0f} ms)"
        )
    slowest = max(seconds for seconds, _ in filters)
    passed = slowest < FILTER_TARGET_S
    ok &= passed
    print(
        f"  from-filter: {expected:,} traces into a fresh queue in "
        f"{' s, then '.join(f'{seconds:.2f}' for seconds, _ in filters)} s  "
        f"{'PASS' if passed else 'FAIL'} (< {FILTER_TARGET_S:.0f} s)"
    )
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2_000)
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--keep", default="/tmp/tracemark-queue-bench")
    parser.add_argument(
        "--pg-database", help="PostgreSQL database name (default tm_queue_bench_<items>)"
    )
    args = parser.parse_args()
    keep = Path(args.keep)
    keep.mkdir(parents=True, exist_ok=True)
    os.environ.pop("TRACEMARK_DATABASE_URL", None)
    ok = True
    if args.engine in ("sqlite", "both"):
        ok &= run_engine("sqlite", f"sqlite:///{keep / f'queue-{args.items}.db'}", args, keep)
    if args.engine in ("postgres", "both"):
        url = pg_database(args.pg_database or f"tm_queue_bench_{args.items}")
        ok &= run_engine("postgres", url, args, keep)
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
