"""Judge calibration at scale (issue 7): 100,000 matched pairs among 1,000,000 scores.

Loads a project with 1,000,000 scores (Core executemany, timestamps over 12 weeks):
100,000 traces each scored by an EVAL judge "judge-correct" (BOOLEAN, metadata.evaluatorVersion
v1 / v2) and by one to three people with the ANNOTATION config "correct" (about 150,000
human scores), and the rest other EVAL / API / ANNOTATION scores on 300,000 other traces.
Then times `calibration.calibrate` in-process (the whole service: the one pair query, the
consensus and the statistics, 100 worst disagreements with their comments) and the same over
HTTP (GET /api/public/analytics/calibration, in-process ASGI client, Basic auth), several runs.
Baseline measured in the same run: reading the judge's 100,000 scores (id, value) alone with
the same session, the floor for any calibration that reads its pairs.

Usage: python bench/calibration.py [--engine sqlite|postgres|both] [--scores 1000000]
    [--pairs 100000] [--runs 5] [--keep DIR]
Databases are kept (SQLite under --keep, PostgreSQL tm_calibration_bench_<scores>) and reused.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from tracemark.app import create_app  # noqa: E402
from tracemark.config import load_settings  # noqa: E402
from tracemark.db import migrate  # noqa: E402
from tracemark.db.engine import Database  # noqa: E402
from tracemark.db.models import Score  # noqa: E402
from tracemark.services import accounts, calibration, credentials, score_configs  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
NOW = datetime(2026, 11, 20, tzinfo=UTC)
SPAN = timedelta(weeks=12)


def _load(db: Database, total: int, pairs: int) -> tuple[str, str, str, str]:
    rng = random.Random(7)
    with db.write() as session:
        owner = accounts.create_user(
            session, email="bench@example.com", name="B", password="x" * 12
        )
        project = accounts.create_project(session, "Calibration bench", owner=owner)
        key = credentials.create_api_key(session, project)
        people = [
            accounts.create_user(
                session, email=f"p{i}@example.com", name=f"p{i}", password="x" * 12
            )
            for i in range(3)
        ]
        config = score_configs.create(
            session, project.id, {"name": "correct", "dataType": "BOOLEAN"}
        )
        ids = (project.id, config.id, key.key.public_key, key.secret)
        person_ids = [p.id for p in people]
    project_id, config_id = ids[0], ids[1]
    rows: list[dict[str, object]] = []
    count = 0

    def add(**row: object) -> None:
        nonlocal count
        count += 1
        moment = NOW - SPAN * rng.random()
        base = {
            "project_id": project_id,
            "id": f"s{count}",
            "timestamp": moment,
            "value": None,
            "string_value": None,
            "comment": None,
            "metadata_": {},
            "author_user_id": None,
            "config_id": None,
            "queue_id": None,
            "environment": "default",
            "observation_id": None,
            "session_id": None,
            "created_at": moment,
            "updated_at": moment,
        }
        base.update(row)
        rows.append(base)
        if len(rows) >= 20_000:
            flush()

    def flush() -> None:
        if rows:
            with db.write() as session:
                session.execute(insert(Score), rows)
            rows.clear()

    for t in range(pairs):
        trace = f"tr{t}"
        truth = rng.random() < 0.6
        judge = truth if rng.random() < 0.85 else not truth
        add(
            name="judge-correct",
            value=1.0 if judge else 0.0,
            string_value="True" if judge else "False",
            data_type="BOOLEAN",
            source="EVAL",
            comment="the answer cites the policy",
            metadata_={"evaluatorVersion": "v1" if t % 2 else "v2"},
            trace_id=trace,
            target_key=f"trace:{trace}",
        )
        for person in person_ids[: rng.choice((1, 1, 2, 3))]:
            said = truth if rng.random() < 0.9 else not truth
            add(
                name="correct",
                value=1.0 if said else 0.0,
                string_value="True" if said else "False",
                data_type="BOOLEAN",
                source="ANNOTATION",
                author_user_id=person,
                config_id=config_id,
                trace_id=trace,
                target_key=f"trace:{trace}",
            )
    names = ("helpfulness", "relevance", "toxicity", "judge-correct")
    while count < total:
        trace = f"other{rng.randrange(300_000)}"
        add(
            name=rng.choice(names[:3]),
            value=rng.random(),
            data_type="NUMERIC",
            source=rng.choice(("EVAL", "API")),
            trace_id=trace,
            target_key=f"trace:{trace}",
        )
    flush()
    return ids


def _database(engine: str, total: int, keep: Path) -> str:
    if engine == "sqlite":
        keep.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{keep / f'calibration-{total}.db'}"
    name = f"tm_calibration_bench_{total}"
    admin = create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def run(engine: str, total: int, pairs: int, runs: int, keep: Path) -> None:
    url = _database(engine, total, keep)
    db = Database(url)
    migrate.upgrade(db.write_engine)
    with db.read() as session:
        loaded = session.scalar(select(func.count()).select_from(Score))
    if loaded != total:
        if loaded:
            sys.exit(f"{url} holds {loaded} scores, not {total}: remove it first")
        started = time.perf_counter()
        _load(db, total, pairs)
        print(f"[{engine}] loaded {total:,} scores in {time.perf_counter() - started:.0f} s")
        if engine == "postgres":
            with db.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE scores"))
    with db.read() as session:
        project_id, config_id = session.execute(
            text("SELECT project_id, id FROM score_configs WHERE name = 'correct'")
        ).one()
    with db.write() as session:
        key = credentials.create_api_key(session, accounts.get_project(session, project_id))
        auth = (key.key.public_key, key.secret)
    req = calibration.CalibrationRequest(
        config_id=config_id, judge_score_name="judge-correct", disagreements_limit=100
    )
    baseline, service, http = [], [], []
    settings = load_settings(database_url=url, secret_key="k" * 48, data_dir=keep / "data")
    client = TestClient(create_app(settings, db))
    params = {"configId": config_id, "judgeScoreName": "judge-correct", "include": "disagreements"}
    for _ in range(runs):
        with db.read() as session:
            started = time.perf_counter()
            session.execute(
                select(Score.id, Score.value).where(
                    Score.project_id == project_id,
                    Score.name == "judge-correct",
                    Score.source.in_(("EVAL", "API")),
                )
            ).all()
            baseline.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = calibration.calibrate(session, project_id, req)
            service.append(time.perf_counter() - started)
        started = time.perf_counter()
        response = client.get("/api/public/analytics/calibration", params=params, auth=auth)
        http.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    kappa = (
        result.categorical.kappa.value if result.categorical and result.categorical.kappa else None
    )
    base = statistics.median(baseline)
    for label, times in (("service", service), ("HTTP", http)):
        mid = statistics.median(times)
        print(
            f"[{engine}] calibration {label}: {result.pairs:,} pairs (kappa {kappa:.3f}), "
            f"median {mid * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {runs} runs; "
            f"baseline (read the judge's scores) {base * 1000:.0f} ms; ratio {mid / base:.1f}x"
        )
    client.close()
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/tracemark-calibration-bench"))
    args = parser.parse_args()
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    for engine in engines:
        run(engine, args.scores, args.pairs, args.runs, args.keep)


if __name__ == "__main__":
    main()
