"""Scores at scale (issue 4): write rate, v2 list latency at 5,000,000 scores, CSV export.

1. Writing: 10,000 scores as 100 arrays of 100 (NUMERIC, CATEGORICAL and BOOLEAN scores of
   traces, with client ids) posted one array after the other to POST /api/public/scores of a
   real `tracemark serve` (one process) on an empty database; a 202 means committed, and the
   row count is checked afterwards. Target on SQLite: >= 5,000 scores/s. Baseline measured in
   the same run: the raw insert ceiling, i.e. DB-API executemany of the very rows the server
   stored into the scores table of another empty database of the same engine, with the
   server's connection settings (WAL, synchronous=FULL on SQLite) and the same 100
   transactions of 100 (no HTTP, no validation, no score history).
2. Listing: with 5,000,000 scores bulk-loaded (10 names, 3 sources, 1,000,000 traces, in
   timestamp order over 90 days; DB-API executemany on SQLite, COPY on PostgreSQL, secondary
   indexes built after the load, score_counts recounted), GET /api/public/v2/scores?limit=50
   filtered by name + source, by traceId and by a one-day time window (varied between runs):
   p95 below 100 ms on SQLite and on PostgreSQL. Baseline: GET /api/public/health. Next to
   each case: the in-process time of the page query and of a plain COUNT of the matching rows
   (what totalItems cost before score_counts; the API answers name/source totals from there).
   "no filter" is printed for information only (not a target). PostgreSQL gets VACUUM ANALYZE
   after the load (autovacuum would soon do the same); SQLite is left without ANALYZE, as a
   real Tracemark database is (nothing runs it), so the plans are the ones users get.
3. Export: 1,000,000 of those scores (the newest, selected by a time window) as CSV from
   GET /api/public/scores/export?format=csv on a freshly started server: >= 100,000 rows/s,
   and server RSS growth below 50 MB (VmRSS sampled every 50 ms; peak minus the RSS just
   before the request, after a 1,000-row warm-up export). Baseline: the same score rows read
   with the raw driver in this process (no joins, no formatting).

Usage:
  python bench/scores.py [--engine sqlite|postgres|both] [--parts write,list,export]
      [--scores 5000000] [--traces 1000000] [--export-rows 1000000]
      [--write-batches 100] [--batch-size 100] [--runs 40] [--keep DIR]
The loaded databases are kept (SQLite: a file under --keep, default /tmp/tracemark-scores-bench;
PostgreSQL: database tm_scores_bench_<scores>_<traces>) and reused when they hold --scores scores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

# Python puts this script's directory first on the path, and bench/queue.py there would shadow
# the standard library's queue module (httpx and psycopg import it): take the directory off,
# and put the repository root on instead (for tests.conftest).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402
from sqlalchemy import Table, create_engine, func, select, text  # noqa: E402
from tests.conftest import start_server  # noqa: E402

from tracemark.db import migrate  # noqa: E402
from tracemark.db.engine import Database  # noqa: E402
from tracemark.db.models import Score, ScoreConfig  # noqa: E402
from tracemark.services import accounts, credentials, score_counts, score_queries  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_RAW = "postgresql://postgres@127.0.0.1:5432"
NOW = datetime(2026, 11, 20, tzinfo=UTC)
SPAN_DAYS = 90
NAMES = {
    "helpfulness": "NUMERIC",
    "correctness": "NUMERIC",
    "relevance": "NUMERIC",
    "conciseness": "NUMERIC",
    "tone": "CATEGORICAL",
    "topic": "CATEGORICAL",
    "sentiment": "CATEGORICAL",
    "hallucination": "BOOLEAN",
    "toxic": "BOOLEAN",
    "resolved": "BOOLEAN",
}
NAME_LIST = list(NAMES)
LABELS = ["good", "ok", "bad"]
SOURCES = ["API", "EVAL", "ANNOTATION"]
COLUMNS = [c.name for c in Score.__table__.columns]
COLUMN_LIST = ", ".join(f'"{c}"' for c in COLUMNS)
WRITE_TARGET = 5_000
LIST_TARGET_MS = 100.0
EXPORT_TARGET = 100_000
RSS_TARGET_MB = 50.0


# --- databases ---------------------------------------------------------------------------


def pg_database(name: str, *, fresh: bool) -> str:
    admin = create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def drop_pg_database(name: str) -> None:
    admin = create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def project_with_key(db: Database) -> tuple[str, str, str]:
    """The project "bench" (created when missing) and a new API key for it."""
    with db.write() as session:
        try:
            project = accounts.find_project(session, "bench")
        except Exception:
            project = accounts.create_project(session, "bench")
        key = credentials.create_api_key(session, project)
        return project.id, key.key.public_key, key.secret


def raw_connect(engine_name: str, url: str) -> Any:
    """A DB-API connection with the server's settings (autocommit mode on SQLite)."""
    if engine_name == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "synchronous=FULL",
            "cache_size=-65536",
        ):
            conn.execute(f"PRAGMA {pragma}")
        return conn
    return psycopg.connect(PG_RAW + "/" + url.rsplit("/", 1)[1])


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def health_ms(base: str, runs: int) -> float:
    timings = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(runs):
            started = time.perf_counter()
            client.get("/api/public/health").raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


# --- 1. writing --------------------------------------------------------------------------


def score_bodies(batches: int, size: int, rng: random.Random, prefix: str = "") -> list[bytes]:
    """Arrays of NUMERIC / CATEGORICAL / BOOLEAN trace scores with client ids, as JSON."""
    start = NOW - timedelta(hours=1)
    out = []
    for b in range(batches):
        batch = []
        for j in range(size):
            i = b * size + j
            kind = i % 3
            body: dict[str, Any] = {
                "id": prefix + str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "traceId": f"{prefix}trace-{i // 5:06d}",
                "timestamp": (start + timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z"),
                "source": "EVAL" if i % 2 else "API",
                "environment": "production",
            }
            if kind == 0:
                body.update(name="helpfulness", dataType="NUMERIC", value=round(rng.random(), 4))
            elif kind == 1:
                body.update(name="tone", dataType="CATEGORICAL", value=rng.choice(LABELS))
            else:
                body.update(name="hallucination", dataType="BOOLEAN", value=rng.random() < 0.2)
            if i % 10 == 0:
                body["comment"] = "judged by bench-judge"
                body["metadata"] = {"judge": "bench-judge", "run": b}
            batch.append(body)
        out.append(json.dumps(batch).encode())
    return out


def stored_rows(engine_name: str, url: str, ids: list[str]) -> list[tuple[Any, ...]]:
    """The rows the server stored, in the order the ids were sent."""
    conn = raw_connect(engine_name, url)
    try:
        cursor = conn.execute(f"SELECT {COLUMN_LIST} FROM scores")
        by_id = {row[COLUMNS.index("id")]: row for row in cursor.fetchall()}
    finally:
        conn.close()
    return [by_id[i] for i in ids]


def insert_ceiling(
    engine_name: str, url: str, project_id: str, rows: list[tuple[Any, ...]], size: int
) -> float:
    """Seconds to executemany `rows` into the scores table, one transaction per `size`."""
    at_project = COLUMNS.index("project_id")
    at_metadata = COLUMNS.index("metadata")
    prepared = []
    for row in rows:
        values = list(row)
        values[at_project] = project_id
        if engine_name == "postgres":
            values[at_metadata] = Jsonb(values[at_metadata])
        prepared.append(tuple(values))
    marks = ", ".join(["?" if engine_name == "sqlite" else "%s"] * len(COLUMNS))
    sql = f"INSERT INTO scores ({COLUMN_LIST}) VALUES ({marks})"
    conn = raw_connect(engine_name, url)
    try:
        started = time.perf_counter()
        for offset in range(0, len(prepared), size):
            chunk = prepared[offset : offset + size]
            if engine_name == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, chunk)
                conn.execute("COMMIT")
            else:
                with conn.cursor() as cursor:
                    cursor.executemany(sql, chunk)
                conn.commit()
        return time.perf_counter() - started
    finally:
        conn.close()


def fresh_database(engine_name: str, name: str, tmp: Path) -> str:
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp / f'{name}.db'}"
    else:
        url = pg_database(name, fresh=True)
    db = Database(url)
    migrate.upgrade(db.write_engine)
    db.dispose()
    return url


def bench_write(engine_name: str, batches: int, size: int) -> bool:
    n = batches * size
    rng = random.Random(7)
    bodies = score_bodies(batches, size, rng)
    warmup = score_bodies(1, 10, rng, prefix="warm-")
    sent_ids = [s["id"] for body in bodies for s in json.loads(body)]
    pg_names = ["tm_scores_write_bench", "tm_scores_ceiling_bench"]
    with tempfile.TemporaryDirectory(prefix="tm-scores-write-") as tmp_dir:
        tmp = Path(tmp_dir)
        try:
            url = fresh_database(engine_name, pg_names[0], tmp)
            ceiling_url = fresh_database(engine_name, pg_names[1], tmp)
            db = Database(url)
            _, public, secret = project_with_key(db)
            ceiling_db = Database(ceiling_url)
            ceiling_project, _, _ = project_with_key(ceiling_db)
            ceiling_db.dispose()
            server = start_server(url, tmp / "server-data")
            try:
                headers = {"Content-Type": "application/json"}
                with httpx.Client(base_url=server.url, auth=(public, secret), timeout=60) as c:
                    c.post(
                        "/api/public/scores", content=warmup[0], headers=headers
                    ).raise_for_status()
                    statuses = []
                    started = time.perf_counter()
                    for body in bodies:
                        statuses.append(
                            c.post("/api/public/scores", content=body, headers=headers).status_code
                        )
                    elapsed = time.perf_counter() - started
                with db.read() as session:
                    stored = session.scalar(
                        select(func.count()).select_from(Score).where(~Score.id.like("warm-%"))
                    )
            finally:
                server.stop()
            db.dispose()
            rows = stored_rows(engine_name, url, sent_ids)
            ceiling_s = insert_ceiling(engine_name, ceiling_url, ceiling_project, rows, size)
        finally:
            if engine_name == "postgres":
                for name in pg_names:
                    drop_pg_database(name)
    rate = n / elapsed
    ceiling = n / ceiling_s
    accepted = statuses.count(202)
    ok = accepted == batches and stored == n
    target_ok = rate >= WRITE_TARGET
    print(
        f"{engine_name} write: {n:,} scores as {batches} arrays of {size}: {elapsed:.2f} s, "
        f"{rate:,.0f} scores/s; {accepted}/{batches} answered 202, {stored:,} rows stored"
    )
    print(
        f"  raw executemany ceiling (same rows, {batches} transactions): {ceiling_s:.2f} s, "
        f"{ceiling:,.0f} scores/s; server / ceiling = {rate / ceiling:.2f}"
    )
    if engine_name == "sqlite":
        verdict = "PASS" if ok and target_ok else "FAIL"
        print(f"  {verdict} (target >= {WRITE_TARGET:,} scores/s on SQLite)")
        return ok and target_ok
    print(f"  {'ok' if ok else 'FAIL'} (no rate target on PostgreSQL; figures for information)")
    return ok


# --- 2. loading 5M scores ----------------------------------------------------------------


def load_rows(
    project_id: str,
    n_scores: int,
    n_traces: int,
    configs: dict[str, str],
    author_id: str,
) -> Iterator[dict[str, Any]]:
    """Scores in timestamp order; the scores of one trace are adjacent, with distinct names."""
    rng = random.Random(42)
    step = timedelta(seconds=SPAN_DAYS * 86400 / n_scores)
    for t in range(n_traces):
        first, end = t * n_scores // n_traces, (t + 1) * n_scores // n_traces
        trace_id = f"tr-{t:08d}"
        for k, i in enumerate(range(first, end)):
            ts = NOW - (n_scores - i) * step
            name = NAME_LIST[(t * 3 + k) % len(NAME_LIST)]
            kind = NAMES[name]
            draw = rng.random()
            source = "API" if draw < 0.4 else "EVAL" if draw < 0.8 else "ANNOTATION"
            annotated = source == "ANNOTATION" and k < len(NAME_LIST)
            value: float | None
            string: str | None = None
            if kind == "NUMERIC":
                value = round(rng.random(), 4)
            elif kind == "CATEGORICAL":
                label = rng.randrange(len(LABELS))
                value, string = (float(label) if annotated else None), LABELS[label]
            else:
                flag = rng.random() < 0.2
                value, string = (1.0 if flag else 0.0), ("True" if flag else "False")
            yield {
                "project_id": project_id,
                "id": f"{rng.getrandbits(128):032x}",
                "timestamp": ts,
                "name": name,
                "value": value,
                "string_value": string,
                "data_type": kind,
                "source": source,
                "comment": "checked by hand" if annotated and i % 4 == 0 else None,
                "metadata": {"judge": "judge-v2", "run": i // 10_000} if source == "EVAL" else {},
                "author_user_id": author_id if annotated else None,
                "config_id": configs[name] if annotated else None,
                "queue_id": None,
                "environment": "production",
                "trace_id": trace_id,
                "observation_id": None,
                "session_id": None,
                "target_key": f"trace:{trace_id}",
                "created_at": ts,
                "updated_at": ts,
            }


def load(db: Database, project_id: str, n_scores: int, n_traces: int) -> None:
    with db.write() as session:
        author = accounts.get_user_by_email(session, "annotator@bench.example")
        if author is None:
            author = accounts.create_user(
                session, email="annotator@bench.example", name="Annotator", password="x" * 12
            )
        configs = {}
        for name, kind in NAMES.items():
            config = ScoreConfig(
                project_id=project_id,
                name=name,
                name_key=name,
                data_type=kind,
                categories=(
                    [{"label": label, "value": float(v)} for v, label in enumerate(LABELS)]
                    if kind == "CATEGORICAL"
                    else [{"label": "True", "value": 1.0}, {"label": "False", "value": 0.0}]
                    if kind == "BOOLEAN"
                    else None
                ),
                min_value=0.0 if kind == "NUMERIC" else None,
                max_value=1.0 if kind == "NUMERIC" else None,
                is_archived=False,
            )
            session.add(config)
            session.flush()
            configs[name] = config.id
        author_id = author.id
    rows = load_rows(project_id, n_scores, n_traces, configs, author_id)
    table = cast(Table, Score.__table__)
    # Secondary indexes are built after the load (a sort each) instead of row by row: the
    # same indexes, in a fraction of the time. score_counts is counted once at the end.
    # Indexes marked sqlite_only (migration 0012) do not exist on PostgreSQL.
    indexes = [i for i in table.indexes if db.dialect == "sqlite" or not i.info.get("sqlite_only")]
    with db.write_engine.begin() as conn:
        for index in indexes:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
    started = time.perf_counter()
    done = 0
    conn_raw = raw_connect(db.dialect if db.dialect == "sqlite" else "postgres", db.url)
    at_ts = [COLUMNS.index(c) for c in ("timestamp", "created_at", "updated_at")]
    at_meta = COLUMNS.index("metadata")
    try:
        if db.dialect == "sqlite":
            conn_raw.execute("PRAGMA synchronous=OFF")
            conn_raw.execute("PRAGMA cache_size=-1048576")
            marks = ", ".join("?" * len(COLUMNS))
            sql = f"INSERT INTO scores ({COLUMN_LIST}) VALUES ({marks})"
            while batch := list(itertools.islice(rows, 50_000)):
                values = []
                for row in batch:
                    record = [row[c] for c in COLUMNS]
                    for at in at_ts:
                        record[at] = record[at].strftime("%Y-%m-%d %H:%M:%S.%f")
                    record[at_meta] = json.dumps(record[at_meta])
                    values.append(record)
                conn_raw.execute("BEGIN")
                conn_raw.executemany(sql, values)
                conn_raw.execute("COMMIT")
                done += len(batch)
                report_load(done, n_scores, started)
        else:
            conn_raw.execute("SET synchronous_commit = off")
            with (
                conn_raw.cursor() as cursor,
                cursor.copy(f"COPY scores ({COLUMN_LIST}) FROM STDIN") as copy,
            ):
                for row in rows:
                    record = [row[c] for c in COLUMNS]
                    record[at_meta] = json.dumps(record[at_meta])
                    copy.write_row(record)
                    done += 1
                    if done % 500_000 == 0:
                        report_load(done, n_scores, started)
            conn_raw.commit()
    finally:
        conn_raw.close()
    print("  building the indexes", flush=True)
    with db.write_engine.begin() as conn:
        for index in indexes:
            index.create(conn)
    with db.write() as session:
        score_counts.rebuild(session, project_id)
    print(f"  loaded and indexed in {time.perf_counter() - started:.0f} s", flush=True)
    # PostgreSQL's autovacuum would analyze the table soon after such a load; do it now. On
    # SQLite nothing in Tracemark runs ANALYZE, so a real database has no sqlite_stat1: the
    # bench keeps it that way and measures the plans a user's database gets.
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def report_load(done: int, total: int, started: float) -> None:
    if done % 500_000 < 50_000 or done == total:
        rate = done / (time.perf_counter() - started)
        print(f"  loaded {done:,} scores ({rate:,.0f} scores/s)", flush=True)


def prepare(url: str, n_scores: int, n_traces: int) -> tuple[str, str, str]:
    db = Database(url)
    migrate.upgrade(db.write_engine)
    with db.read() as session:
        existing = session.scalar(select(func.count()).select_from(Score)) or 0
    if existing and existing != n_scores:
        raise SystemExit(f"{url} holds {existing:,} scores; delete it or use --scores {existing}")
    project_id, public, secret = project_with_key(db)
    if not existing:
        print(f"loading {n_scores:,} scores of {n_traces:,} traces into {url.split('@')[-1]}")
        load(db, project_id, n_scores, n_traces)
    db.dispose()
    return project_id, public, secret


# --- 2. listing --------------------------------------------------------------------------

Case = Callable[[random.Random], tuple[dict[str, Any], score_queries.ScoreFilter]]


def list_cases(n_traces: int) -> dict[str, Case]:
    def name_source(rng: random.Random) -> tuple[dict[str, Any], score_queries.ScoreFilter]:
        name, source = rng.choice(NAME_LIST), rng.choice(SOURCES)
        return {"name": name, "source": source}, score_queries.ScoreFilter(name=name, source=source)

    def trace(rng: random.Random) -> tuple[dict[str, Any], score_queries.ScoreFilter]:
        trace_id = f"tr-{rng.randrange(n_traces):08d}"
        return {"traceId": trace_id}, score_queries.ScoreFilter(trace_id=trace_id)

    def window(rng: random.Random) -> tuple[dict[str, Any], score_queries.ScoreFilter]:
        start = NOW - timedelta(days=rng.randrange(1, SPAN_DAYS))
        end = start + timedelta(days=1)
        return {
            "fromTimestamp": start.isoformat(),
            "toTimestamp": end.isoformat(),
        }, score_queries.ScoreFilter(from_timestamp=start, to_timestamp=end)

    def no_filter(rng: random.Random) -> tuple[dict[str, Any], score_queries.ScoreFilter]:
        return {}, score_queries.ScoreFilter()

    return {
        "name + source": name_source,
        "traceId": trace,
        "time window (1 day)": window,
        "no filter (info)": no_filter,
    }


def measure_list(base: str, auth: tuple[str, str], case: Case, runs: int) -> list[float]:
    rng = random.Random(11)
    timings = []
    with httpx.Client(base_url=base, auth=auth, timeout=120) as client:
        for i in range(runs + 3):
            params, _ = case(rng)
            started = time.perf_counter()
            response = client.get("/api/public/v2/scores", params={"limit": 50, **params})
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            body = response.json()
            assert len(body["data"]) == min(50, body["meta"]["totalItems"]), body["meta"]
            if i >= 3:  # three warm-up requests
                timings.append(elapsed)
    return timings


def in_process_ms(db: Database, project_id: str, case: Case, runs: int = 5) -> tuple[float, float]:
    """Median ms of the page query alone and of the COUNT alone, as list_page runs them."""
    rng = random.Random(11)
    pages, counts = [], []
    with db.read() as session:
        for _ in range(runs):
            _, flt = case(rng)
            base = score_queries.score_query(project_id, flt)
            started = time.perf_counter()
            order = score_queries.newest_first(session, flt)
            list(session.scalars(base.order_by(*order).limit(50)))
            pages.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            session.scalar(select(func.count()).select_from(base.subquery()))
            counts.append((time.perf_counter() - started) * 1000)
    return statistics.median(pages), statistics.median(counts)


def bench_list(engine_name: str, url: str, args: argparse.Namespace) -> bool:
    project_id, public, secret = prepare(url, args.scores, args.traces)
    data_dir = tempfile.TemporaryDirectory(prefix="tm-scores-list-")
    server = start_server(url, Path(data_dir.name))
    db = Database(url)
    ok = True
    try:
        base_ms = health_ms(server.url, args.runs)
        print(
            f"{engine_name} list: {args.scores:,} scores; "
            f"baseline GET /health median {base_ms:.1f} ms"
        )
        for label, case in list_cases(args.traces).items():
            info = label.endswith("(info)")
            timings = measure_list(
                server.url, (public, secret), case, min(args.runs, 10) if info else args.runs
            )
            page_ms, count_ms = in_process_ms(db, project_id, case)
            value = p95(timings)
            passed = value < LIST_TARGET_MS
            if not info:
                ok &= passed
            verdict = "info" if info else "PASS" if passed else "FAIL"
            print(
                f"  {label:<20} p50 {statistics.median(timings):6.1f} ms  p95 {value:6.1f} ms  "
                f"(x{value / base_ms:.1f} of /health; in-process page {page_ms:.1f} ms, "
                f"count {count_ms:.1f} ms)  {verdict} (< {LIST_TARGET_MS:.0f} ms)"
            )
    finally:
        server.stop()
        db.dispose()
        data_dir.cleanup()
    return ok


# --- 3. export ---------------------------------------------------------------------------


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak = 0.0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self.samples += 1
            self._stop_event.wait(self.every)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def export_window(n_scores: int, rows: int) -> tuple[datetime, datetime]:
    """The time window holding the newest `rows` loaded scores."""
    step = timedelta(seconds=SPAN_DAYS * 86400 / n_scores)
    return NOW - rows * step, NOW + timedelta(seconds=1)


def raw_read(engine_name: str, url: str, project_id: str, start: datetime, end: datetime) -> int:
    """Rows of the score table in the window, read with the raw driver; returns the count."""
    conn = raw_connect(engine_name, url)
    sql = (
        "SELECT * FROM scores WHERE project_id = {0} AND timestamp >= {0} AND timestamp < {0} "
        "ORDER BY timestamp, id"
    )
    count = 0
    try:
        if engine_name == "sqlite":
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            params: tuple[Any, ...] = (project_id, start.strftime(fmt), end.strftime(fmt))
            cursor = conn.execute(sql.format("?"), params)
        else:
            cursor = conn.cursor(name="bench_export")
            cursor.itersize = 2000
            cursor.execute(sql.format("%s"), (project_id, start, end))
        while batch := cursor.fetchmany(2000):
            count += len(batch)
        cursor.close()
    finally:
        conn.close()
    return count


def bench_export(engine_name: str, url: str, args: argparse.Namespace) -> bool:
    project_id, public, secret = prepare(url, args.scores, args.traces)
    start, end = export_window(args.scores, args.export_rows)
    db = Database(url)
    with db.read() as session:
        flt = score_queries.ScoreFilter(from_timestamp=start, to_timestamp=end)
        base = score_queries.score_query(project_id, flt)
        expected = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    db.dispose()
    raw_read(engine_name, url, project_id, start, end)  # warm the OS page cache once
    started = time.perf_counter()
    raw_rows = raw_read(engine_name, url, project_id, start, end)
    raw_rate = raw_rows / (time.perf_counter() - started)

    data_dir = tempfile.TemporaryDirectory(prefix="tm-scores-export-")
    server = start_server(url, Path(data_dir.name))
    try:
        with httpx.Client(base_url=server.url, auth=(public, secret), timeout=600) as client:
            warm_start, warm_end = export_window(args.scores, 1000)
            client.get(
                "/api/public/scores/export",
                params={
                    "format": "csv",
                    "fromTimestamp": warm_start.isoformat(),
                    "toTimestamp": warm_end.isoformat(),
                },
            ).raise_for_status()
            time.sleep(0.5)
            before = rss_mb(server.process.pid)
            sampler = RssSampler(server.process.pid)
            sampler.start()
            lines = size = 0
            started = time.perf_counter()
            with client.stream(
                "GET",
                "/api/public/scores/export",
                params={
                    "format": "csv",
                    "fromTimestamp": start.isoformat(),
                    "toTimestamp": end.isoformat(),
                },
            ) as response:
                response.raise_for_status()
                for chunk in response.iter_raw():
                    lines += chunk.count(b"\n")
                    size += len(chunk)
            elapsed = time.perf_counter() - started
            sampler.stop()
    finally:
        server.stop()
        data_dir.cleanup()
    rows = lines - 1  # the header; the loaded comments hold no newlines
    rate = rows / elapsed
    growth = sampler.peak - before
    ok = rows == expected
    passed = ok and rate >= EXPORT_TARGET and growth < RSS_TARGET_MB
    print(
        f"{engine_name} export: {rows:,} CSV rows ({size / 1e6:.0f} MB) in {elapsed:.2f} s = "
        f"{rate:,.0f} rows/s (expected {expected:,} rows)"
    )
    print(
        f"  server RSS {before:.0f} MB before, peak {sampler.peak:.0f} MB "
        f"({sampler.samples} samples): growth {growth:.1f} MB"
    )
    print(
        f"  raw driver read of the same score rows: {raw_rate:,.0f} rows/s; "
        f"export / raw = {rate / raw_rate:.2f}"
    )
    print(
        f"  {'PASS' if passed else 'FAIL'} (>= {EXPORT_TARGET:,} rows/s, "
        f"RSS growth < {RSS_TARGET_MB:.0f} MB)"
    )
    return passed


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--parts", default="write,list,export")
    parser.add_argument("--scores", type=int, default=5_000_000)
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    parser.add_argument("--write-batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", default="/tmp/tracemark-scores-bench")
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if parts - {"write", "list", "export"}:
        parser.error("--parts: choose from write, list, export")
    if args.export_rows > args.scores:
        parser.error("--export-rows cannot exceed --scores")
    keep = Path(args.keep)
    keep.mkdir(parents=True, exist_ok=True)
    os.environ.pop("TRACEMARK_DATABASE_URL", None)
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    ok = True
    for engine_name in engines:
        if "write" in parts:
            ok &= bench_write(engine_name, args.write_batches, args.batch_size)
        if engine_name == "sqlite":
            url = f"sqlite:///{keep / f'scores-{args.scores}-{args.traces}.db'}"
        else:
            url = pg_database(f"tm_scores_bench_{args.scores}_{args.traces}", fresh=False)
        if "list" in parts:
            ok &= bench_list(engine_name, url, args)
        if "export" in parts:
            ok &= bench_export(engine_name, url, args)
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
