"""Dashboard and calibration queries at 1,000,000 scores (issue 7).

A project holding 1,000,000 scores of 200,000 traces over 90 days is bulk-loaded with set-based
SQL (one INSERT ... SELECT over a generated series per table: SQLite a recursive CTE,
PostgreSQL generate_series). The traces: 4 names, 2 environments, one of 3 tags each. The
scores, 5 per trace, in timestamp order:
  - ANNOTATION `correctness` (CATEGORICAL config: incorrect / partially correct / correct) by
    8 annotators on the first 120,000 traces, a second annotator on a quarter of them;
  - EVAL `judge-correctness` (CATEGORICAL, same labels, agreeing with the first human 80% of
    the time, evaluatorVersion v1/v2 in metadata) on the same 120,000 traces;
  - ANNOTATION `helpfulness` (NUMERIC config 1..5) and `hallucination` (BOOLEAN config);
  - EVAL `relevance` (NUMERIC 0..1), `toxicity` (BOOLEAN); API `topic` (CATEGORICAL),
    `user-feedback` (BOOLEAN), `latency-score` (NUMERIC 0..10).
Two queues hold 120,000 and 100,000 of the traces, most of them completed.

A real `tracemark serve` is started on the database and each dashboard API call is timed
(warm-up, then --runs sequential requests): GET /api/public/analytics/scores, /throughput and
/queues over the whole 90 days, over the last 30 and 7 days, and with environment, trace name
and tag filters; and GET /api/public/analytics/calibration?configId=<correctness>&
judgeScoreName=judge-correctness (120,000 targets with both scores), which another change
provides (a 404 prints "calibration: not available in this build"). Printed per call: p50 and
p95 in ms and p95 / baseline, where the baseline is the median of GET /api/public/health on the
same server in the same run. Target: every p95 below 1 s.

PostgreSQL gets VACUUM ANALYZE after the load (autovacuum would soon do the same); SQLite is left
without ANALYZE, as a real Tracemark database is (nothing runs it).

Usage:
  python bench/analytics.py [--engine sqlite|postgres|both] [--scores 1000000] [--runs 15]
      [--keep DIR]
The loaded databases are kept (SQLite: a file under --keep, default /tmp/tracemark-analytics-bench;
PostgreSQL: database tm_analytics_bench_<scores>) and reused when they hold --scores scores.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This script's folder first on the import path could shadow standard modules: move it last.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from tests.conftest import start_server  # noqa: E402

from tracemark.db import migrate  # noqa: E402
from tracemark.db.engine import Database  # noqa: E402
from tracemark.db.models import AnnotationQueue, Role, Score, ScoreConfig  # noqa: E402
from tracemark.services import accounts, credentials, queues, score_configs  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
NOW = datetime(2026, 11, 20, tzinfo=UTC)
SPAN_DAYS = 90
SCORES_PER_TRACE = 5
PAIRED_SHARE = 0.6  # of the traces: human correctness + judge-correctness
ANNOTATORS = 8
TARGET_MS = 1000.0
CORRECTNESS = [("incorrect", 0), ("partially correct", 1), ("correct", 2)]
TOPICS = ["billing", "shipping", "returns", "other"]
TRACE_NAMES = ["chat", "search", "summarize", "agent"]
TAGS = ["beta", "vip", "mobile"]

# kind -> (name, source, data type, config name or None)
KINDS: dict[int, tuple[str, str, str, str | None]] = {
    1: ("correctness", "ANNOTATION", "CATEGORICAL", "correctness"),
    2: ("topic", "API", "CATEGORICAL", None),
    3: ("judge-correctness", "EVAL", "CATEGORICAL", None),
    4: ("toxicity", "EVAL", "BOOLEAN", None),
    5: ("helpfulness", "ANNOTATION", "NUMERIC", "helpfulness"),
    6: ("user-feedback", "API", "BOOLEAN", None),
    7: ("relevance", "EVAL", "NUMERIC", None),
    8: ("hallucination", "ANNOTATION", "BOOLEAN", "hallucination"),
    9: ("correctness", "ANNOTATION", "CATEGORICAL", "correctness"),  # a second annotator
    10: ("latency-score", "API", "NUMERIC", None),
}
CONFIGS: dict[str, dict[str, Any]] = {
    "correctness": {
        "dataType": "CATEGORICAL",
        "categories": [{"label": label, "value": value} for label, value in CORRECTNESS],
    },
    "helpfulness": {"dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
    "hallucination": {"dataType": "BOOLEAN"},
}


# --- loading (set-based SQL) -------------------------------------------------------------


@dataclass
class Setup:
    project_id: str
    public_key: str
    secret_key: str
    config_ids: dict[str, str]


def series_sql(dialect: str, n: int) -> str:
    """A CTE `seq(i)` of the integers 0 .. n-1."""
    if dialect == "sqlite":
        return (
            f"WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {n - 1})"
        )
    return f"WITH seq(i) AS (SELECT generate_series(0::bigint, {n - 1}::bigint))"


def timestamp_sql(dialect: str, seconds: str) -> str:
    """A stored timestamp `seconds` after the start of the 90 days (an SQL expression)."""
    start = int((NOW - timedelta(days=SPAN_DAYS)).timestamp())
    if dialect == "sqlite":
        return f"strftime('%Y-%m-%d %H:%M:%S', {start} + ({seconds}), 'unixepoch') || '.000000'"
    return f"to_timestamp({start} + ({seconds}))"


def json_sql(dialect: str, expr: str) -> str:
    return expr if dialect == "sqlite" else f"CAST({expr} AS jsonb)"


def load(
    db: Database, setup: Setup, n_scores: int, annotator_ids: list[str], queue_ids: list[str]
) -> None:
    dialect = db.dialect
    n_traces = n_scores // SCORES_PER_TRACE
    paired = int(n_traces * PAIRED_SHARE)
    span = SPAN_DAYS * 86400
    p = setup.project_id
    trace_ts = timestamp_sql(dialect, f"(i * {SCORES_PER_TRACE} * {span}) / {n_scores}")
    trace_name = (
        "CASE i % 4 " + " ".join(f"WHEN {k} THEN '{v}'" for k, v in enumerate(TRACE_NAMES)) + " END"
    )
    tag = "CASE i % 3 " + " ".join(f"WHEN {k} THEN '{v}'" for k, v in enumerate(TAGS)) + " END"
    env = "CASE WHEN i % 5 = 0 THEN 'staging' ELSE 'production' END"
    false = "0" if dialect == "sqlite" else "false"
    tags_json = json_sql(dialect, "'[\"' || " + tag + " || '\"]'")
    input_json = json_sql(dialect, "'{\"question\": \"question ' || i || '\"}'")
    output_json = json_sql(dialect, "'{\"answer\": \"answer ' || i || '\"}'")
    empty_object, empty_list = json_sql(dialect, "'{}'"), json_sql(dialect, "'[]'")
    traces = f"""
        {series_sql(dialect, n_traces)}
        INSERT INTO traces (project_id, id, timestamp, name, environment, public, tags, metadata,
            input, output, explicit, input_tokens, output_tokens, total_tokens,
            observation_count, level, error_count, warning_count, created_at, updated_at)
        SELECT '{p}', 'bt-' || i, {trace_ts}, {trace_name}, {env}, {false},
            {tags_json}, {empty_object}, {input_json}, {output_json},
            {empty_list}, 0, 0, 0, 0, 'DEFAULT', 0, 0, {trace_ts}, {trace_ts}
        FROM seq"""
    trace_tags = f"""
        {series_sql(dialect, n_traces)}
        INSERT INTO trace_tags (project_id, trace_id, tag, timestamp)
        SELECT '{p}', 'bt-' || i, {tag}, {trace_ts} FROM seq"""

    # Each trace t has the scores i = 5t .. 5t+4, kind chosen by slot k = i % 5.
    kind = f"""CASE
        WHEN k = 0 AND t < {paired} THEN 1 WHEN k = 0 THEN 2
        WHEN k = 1 AND t < {paired} THEN 3 WHEN k = 1 THEN 4
        WHEN k = 2 AND t % 2 = 0 THEN 5 WHEN k = 2 THEN 6
        WHEN k = 3 THEN 7
        WHEN k = 4 AND t % 4 = 0 THEN 8 WHEN k = 4 AND t % 4 = 1 AND t < {paired} THEN 9
        ELSE 10 END"""
    kinds = " UNION ALL ".join(
        f"SELECT {c}, '{name}', '{source}', '{data_type}', "
        + (f"'{setup.config_ids[config]}'" if config else "NULL")
        for c, (name, source, data_type, config) in KINDS.items()
    )
    slots = " UNION ALL ".join(f"SELECT {s}, '{u}'" for s, u in enumerate(annotator_ids))
    human = "(CASE WHEN (t * 37) % 10 < 6 THEN 2 WHEN (t * 37) % 10 < 8 THEN 1 ELSE 0 END)"
    label_of = "CASE {0} " + " ".join(f"WHEN {v} THEN '{lbl}'" for lbl, v in CORRECTNESS) + " END"
    judge = f"(CASE WHEN (t * 13) % 10 < 8 THEN {human} ELSE ({human} + 1) % 3 END)"
    second = f"(CASE WHEN (t * 17) % 20 < 17 THEN {human} ELSE ({human} + 2) % 3 END)"
    topic = "CASE t % 4 " + " ".join(f"WHEN {k} THEN '{v}'" for k, v in enumerate(TOPICS)) + " END"
    value = f"""CASE c
        WHEN 1 THEN {human} WHEN 3 THEN {judge} WHEN 9 THEN {second}
        WHEN 2 THEN NULL
        WHEN 4 THEN CASE WHEN (t * 7) % 20 = 0 THEN 1.0 ELSE 0.0 END
        WHEN 5 THEN 1 + h % 5
        WHEN 6 THEN CASE WHEN h % 3 = 0 THEN 0.0 ELSE 1.0 END
        WHEN 7 THEN h / 10007.0
        WHEN 8 THEN CASE WHEN h % 7 = 0 THEN 1.0 ELSE 0.0 END
        ELSE (h % 1000) / 100.0 END"""
    string_value = f"""CASE c
        WHEN 1 THEN {label_of.format(human)} WHEN 3 THEN {label_of.format(judge)}
        WHEN 9 THEN {label_of.format(second)} WHEN 2 THEN {topic}
        WHEN 4 THEN CASE WHEN (t * 7) % 20 = 0 THEN 'True' ELSE 'False' END
        WHEN 6 THEN CASE WHEN h % 3 = 0 THEN 'False' ELSE 'True' END
        WHEN 8 THEN CASE WHEN h % 7 = 0 THEN 'True' ELSE 'False' END
        ELSE NULL END"""
    slot = f"""CASE c WHEN 1 THEN t % {ANNOTATORS} WHEN 9 THEN (t + 1) % {ANNOTATORS}
        WHEN 5 THEN (t / 2) % {ANNOTATORS} WHEN 8 THEN (t / 4 + 3) % {ANNOTATORS} END"""
    version = f"(1 + 2 * t / {paired})"
    metadata = f"""CASE WHEN c = 3 THEN '{{"evaluatorVersion": "v' || {version} || '"}}'
        ELSE '{{}}' END"""
    queue = f"CASE c WHEN 1 THEN '{queue_ids[0]}' WHEN 5 THEN '{queue_ids[1]}' END"
    score_ts = timestamp_sql(dialect, f"(i * {span}) / {n_scores}")
    scores = f"""
        {series_sql(dialect, n_scores)},
        kinds(kc, name, source, data_type, config_id) AS ({kinds}),
        slots(slot, user_id) AS ({slots}),
        g AS (SELECT i, i / 5 AS t, i % 5 AS k, (i * 7919 + 13) % 10007 AS h FROM seq),
        r AS (SELECT i, t, k, h, {kind} AS c FROM g)
        INSERT INTO scores (project_id, id, timestamp, name, value, string_value, data_type,
            source, comment, metadata, author_user_id, config_id, queue_id, environment,
            trace_id, observation_id, session_id, target_key, created_at, updated_at)
        SELECT '{p}', 'bs-' || i, {score_ts}, kinds.name, {value}, {string_value},
            kinds.data_type, kinds.source, NULL, {json_sql(dialect, metadata)}, slots.user_id,
            kinds.config_id, {queue},
            CASE WHEN t % 5 = 0 THEN 'staging' ELSE 'production' END,
            'bt-' || t, NULL, NULL, 'trace:bt-' || t, {score_ts}, {score_ts}
        FROM r JOIN kinds ON kinds.kc = r.c LEFT JOIN slots ON slots.slot = ({slot})"""

    # Queue items: correctness for the paired traces (90% completed), helpfulness for the even
    # traces (70% completed); one completed work row per completed item.
    def items_sql(queue_id: str, count: int, pick: str, done_share: float) -> str:
        t = pick
        done = f"i < {int(count * done_share)}"
        ts = timestamp_sql(dialect, f"({t} * {SCORES_PER_TRACE} * {span}) / {n_scores} + 60")
        return f"""
            {series_sql(dialect, count)}
            INSERT INTO annotation_queue_items (id, queue_id, project_id, object_type, object_id,
                trace_id, status, assignee_user_id, priority, completion_count, created_at,
                updated_at, completed_at)
            SELECT '{queue_id}-' || i, '{queue_id}', '{p}', 'TRACE', 'bt-' || ({t}),
                'bt-' || ({t}), CASE WHEN {done} THEN 'COMPLETED' ELSE 'PENDING' END, NULL, 0,
                CASE WHEN {done} THEN 1 ELSE 0 END, {ts}, {ts}, CASE WHEN {done} THEN {ts} END
            FROM seq"""

    def work_sql(queue_id: str, count: int, pick: str, slot_of: str) -> str:
        ts = timestamp_sql(dialect, f"({pick} * {SCORES_PER_TRACE} * {span}) / {n_scores} + 60")
        return f"""
            {series_sql(dialect, count)},
            slots(slot, user_id) AS ({slots})
            INSERT INTO annotation_queue_work (id, item_id, queue_id, user_id, state, started_at,
                lease_expires_at, completed_at, seconds_spent, updated_at)
            SELECT '{queue_id}-w-' || i, '{queue_id}-' || i, '{queue_id}', slots.user_id,
                'COMPLETED', {ts}, NULL, {ts}, 20 + i % 40, {ts}
            FROM seq JOIN slots ON slots.slot = ({slot_of})"""

    helpful = n_traces // 2
    statements = [
        ("traces", traces),
        ("trace tags", trace_tags),
        ("scores", scores),
        ("queue items", items_sql(queue_ids[0], paired, "i", 0.9)),
        ("queue items", items_sql(queue_ids[1], helpful, "i * 2", 0.7)),
        ("queue work", work_sql(queue_ids[0], int(paired * 0.9), "i", f"i % {ANNOTATORS}")),
        (
            "queue work",
            work_sql(queue_ids[1], int(helpful * 0.7), "i * 2", f"i % {ANNOTATORS}"),
        ),
    ]
    with db.write_engine.connect() as conn:
        if dialect == "sqlite":
            # Only this loading connection: no fsync, a big page cache.
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA synchronous=OFF")
            driver.execute("PRAGMA cache_size=-1048576")
        for label, sql in statements:
            started = time.perf_counter()
            with conn.begin():
                # psycopg takes % for a placeholder: double the modulo operators.
                conn.exec_driver_sql(sql if dialect == "sqlite" else sql.replace("%", "%%"))
            print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    with db.write() as session:
        queues.recount_items(session)
    if dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def pg_database(name: str) -> str:
    admin = create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def prepare(url: str, n_scores: int) -> Setup:
    db = Database(url)
    migrate.upgrade(db.write_engine)
    with db.read() as session:
        existing = session.scalar(select(func.count()).select_from(Score)) or 0
    if existing and existing != n_scores:
        raise SystemExit(f"{url} holds {existing:,} scores; delete it or use --scores {existing}")
    with db.write() as session:
        try:
            project = accounts.find_project(session, "analytics-bench")
        except Exception:
            project = accounts.create_project(session, "analytics-bench")
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
        annotator_ids = []
        for i in range(ANNOTATORS):
            email = f"annotator-{i}@analytics-bench.example"
            user = accounts.get_user_by_email(session, email)
            if user is None:
                user = accounts.create_user(
                    session, email=email, name=f"annotator {i}", password="annotator-password"
                )
                accounts.set_membership(session, project, user, Role.ANNOTATOR)
            annotator_ids.append(user.id)
        queue_ids = []
        for name, configs in (
            ("Correctness review", ["correctness"]),
            ("Helpfulness", ["helpfulness"]),
        ):
            queue = session.scalar(
                select(AnnotationQueue).where(
                    AnnotationQueue.project_id == project.id, AnnotationQueue.name == name
                )
            )
            if queue is None:
                queue = queues.create_queue(
                    session,
                    project.id,
                    {"name": name, "scoreConfigIds": [config_ids[c] for c in configs]},
                )
            queue_ids.append(queue.id)
        setup = Setup(project.id, key.key.public_key, key.secret, config_ids)
    if not existing:
        print(f"loading {n_scores:,} scores into {url.split('@')[-1]}", flush=True)
        load(db, setup, n_scores, annotator_ids, queue_ids)
    db.dispose()
    return setup


# --- timing ------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    wall_ms: list[float]
    cpu_ms: list[float]  # the server process's CPU time per request
    response: httpx.Response

    def line(self, base: float) -> str:
        value = p95(self.wall_ms)
        return (
            f"p50 {statistics.median(self.wall_ms):7.1f} ms  p95 {value:7.1f} ms  "
            f"(x{value / base:.0f} of /health)  CPU (server + database) median "
            f"{statistics.median(self.cpu_ms):6.0f} ms"
        )


class Processes:
    """The server process, and on PostgreSQL the backends serving the bench database."""

    def __init__(self, pid: int, url: str) -> None:
        self.pid = pid
        self.monitor: psycopg.Connection[Any] | None = None
        if url.startswith("postgresql"):
            database = url.rsplit("/", 1)[1]
            self.monitor = psycopg.connect(
                f"postgresql://postgres@127.0.0.1:5432/{database}", autocommit=True
            )

    def pids(self) -> list[int]:
        if self.monitor is None:
            return [self.pid]
        rows = self.monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
        return [self.pid, *(int(r[0]) for r in rows)]

    def cpu(self, pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            with contextlib.suppress(FileNotFoundError):  # a backend that closed meanwhile
                total += cpu_seconds(pid)
        return total


def timed(
    client: httpx.Client, procs: Processes, path: str, params: dict[str, Any], runs: int
) -> Timing:
    wall, cpu = [], []
    response = client.get(path, params=params)  # warm-up
    for _ in range(runs):
        pids = procs.pids()
        cpu_before = procs.cpu(pids)
        started = time.perf_counter()
        response = client.get(path, params=params)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((procs.cpu(pids) - cpu_before) * 1000)
    return Timing(wall, cpu, response)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def cases() -> dict[str, dict[str, Any]]:
    end = NOW + timedelta(seconds=1)
    whole = {"fromTimestamp": iso(NOW - timedelta(days=SPAN_DAYS)), "toTimestamp": iso(end)}
    return {
        "90 days": whole,
        "30 days": {"fromTimestamp": iso(NOW - timedelta(days=30)), "toTimestamp": iso(end)},
        "7 days": {"fromTimestamp": iso(NOW - timedelta(days=7)), "toTimestamp": iso(end)},
        "90 d, environment": {**whole, "environment": "production"},
        "90 d, trace name": {**whole, "traceName": "chat"},
        "90 d, tag": {**whole, "tags": "beta"},
    }


def bench_engine(engine_name: str, url: str, args: argparse.Namespace) -> bool:
    setup = prepare(url, args.scores)
    data_dir = tempfile.TemporaryDirectory(prefix="tm-analytics-bench-")
    server = start_server(url, Path(data_dir.name))
    procs = Processes(server.process.pid, url)
    auth = (setup.public_key, setup.secret_key)
    ok = True
    try:
        with httpx.Client(base_url=server.url, auth=auth, timeout=300) as client:
            base = statistics.median(timed(client, procs, "/api/public/health", {}, 20).wall_ms)
            print(
                f"{engine_name}: {args.scores:,} scores; "
                f"baseline GET /api/public/health median {base:.1f} ms; load {machine_load()}"
            )
            for endpoint in ("scores", "throughput", "queues"):
                for label, params in cases().items():
                    path = f"/api/public/analytics/{endpoint}"
                    timing = timed(client, procs, path, params, args.runs)
                    response = timing.response
                    if response.status_code != 200:
                        print(f"  {endpoint} {label}: HTTP {response.status_code} {response.text}")
                        ok = False
                        continue
                    passed = p95(timing.wall_ms) < TARGET_MS
                    ok &= passed
                    print(
                        f"  {endpoint:<10} {label:<18} {timing.line(base)}  "
                        f"{'PASS' if passed else 'FAIL'} (< {TARGET_MS:.0f} ms)  "
                        f"{summary(endpoint, response.json())}",
                        flush=True,
                    )
            ok &= bench_calibration(client, procs, setup, base, args.runs)
            print(f"  load after: {machine_load()}")
    finally:
        server.stop()
        data_dir.cleanup()
    return ok


def bench_calibration(
    client: httpx.Client, procs: Processes, setup: Setup, base: float, runs: int
) -> bool:
    params = {"configId": setup.config_ids["correctness"], "judgeScoreName": "judge-correctness"}
    path = "/api/public/analytics/calibration"
    if client.get(path, params=params).status_code == 404:
        print("  calibration: not available in this build")
        return True
    timing = timed(client, procs, path, params, runs)
    response = timing.response
    passed = response.status_code == 200 and p95(timing.wall_ms) < TARGET_MS
    pairs = response.json().get("pairs") if response.status_code == 200 else response.text[:200]
    print(
        f"  calibration (correctness vs judge-correctness) HTTP {response.status_code} "
        f"{timing.line(base)}  pairs={pairs}  {'PASS' if passed else 'FAIL'} (< {TARGET_MS:.0f} ms)"
    )
    return passed


def machine_load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def summary(endpoint: str, body: dict[str, Any]) -> str:
    if endpoint == "scores":
        return f"[{body['totalScores']:,} scores, {len(body['series'])} series]"
    if endpoint == "throughput":
        return f"[{body['totalScores']:,} annotation scores, {len(body['annotators'])} annotators]"
    return f"[{len(body['queues'])} queues]"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", default="/tmp/tracemark-analytics-bench")
    args = parser.parse_args()
    if args.scores % (SCORES_PER_TRACE * 20):
        parser.error("--scores: use a multiple of 100")
    keep = Path(args.keep)
    keep.mkdir(parents=True, exist_ok=True)
    os.environ.pop("TRACEMARK_DATABASE_URL", None)
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    ok = True
    for engine_name in engines:
        if engine_name == "sqlite":
            url = f"sqlite:///{keep / f'analytics-{args.scores}.db'}"
        else:
            url = pg_database(f"tm_analytics_bench_{args.scores}")
        ok &= bench_engine(engine_name, url, args)
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
