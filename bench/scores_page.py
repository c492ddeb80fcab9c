"""The web scores page at scale: server render time of /project/{id}/scores, first and deep pages.

The database is bench/scores.py's (same rows, same loader: --scores scores of --traces traces,
10 names, 3 sources, over 90 days), kept under --keep and reused. The page is requested
in-process (Starlette TestClient, logged in with a web session) so that the figure is the
server's render time: the filter form's choices, the keyset page query, author names, and the
template. Cases:
  - page 1, no filter; page 1 filtered by source; page 1 filtered by name + source;
  - a deep page (the cursor of the row half-way down the project, "Older »" followed about
    n/100 times) without a filter and with name + source.
Baseline in the same run: GET /api/public/health in-process (routing, middleware, nothing
read). For information, the page query of the deep page done with OFFSET instead of the
cursor (what page numbers would cost) is timed too.

Usage: python bench/scores_page.py [--engine sqlite|postgres|both] [--scores 1000000]
    [--traces 200000] [--runs 20] [--keep /tmp/tracemark-scores-page-bench]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from fastapi.testclient import TestClient  # noqa: E402

from tracemark.app import create_app  # noqa: E402
from tracemark.config import load_settings  # noqa: E402
from tracemark.db.engine import Database  # noqa: E402
from tracemark.db.models import Score  # noqa: E402
from tracemark.services import accounts, score_queries, web_sessions  # noqa: E402
from tracemark.services.paging import count_rows, encode_cursor  # noqa: E402


def _bench_scores() -> Any:
    spec = importlib.util.spec_from_file_location("bench_scores", HERE / "scores.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def logged_in_client(db: Database, url: str, data_dir: Path) -> TestClient:
    with db.write() as session:
        user = accounts.get_user_by_email(session, "page-bench@example.com")
        if user is None:
            user = accounts.create_user(
                session, email="page-bench@example.com", name="Bench", password=None, is_admin=True
            )
        token = web_sessions.open_session(session, user, user_agent="bench", days=1).token
    settings = load_settings(data_dir=data_dir, database_url=url, secret_key="b" * 48)
    client = TestClient(create_app(settings, db), follow_redirects=False)
    client.cookies.set("tm_session", token)
    return client


def timed(call: Callable[[], Any], runs: int) -> list[float]:
    for _ in range(2):  # warm-up
        call()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def middle_cursor(db: Database, project_id: str, flt: score_queries.ScoreFilter) -> str:
    """The cursor of the row half-way down the (filtered) list, newest first."""
    with db.read() as session:
        base = score_queries.score_query(project_id, flt)
        total = count_rows(session, base)
        row = session.execute(
            base.with_only_columns(Score.timestamp, Score.id)
            .order_by(Score.timestamp.desc(), Score.id.desc())
            .offset(total // 2)
            .limit(1)
        ).one()
    return encode_cursor(row[0], row[1])


def run(engine_name: str, url: str, args: argparse.Namespace, bench: Any) -> None:
    project_id, _, _ = bench.prepare(url, args.scores, args.traces)
    db = Database(url)
    page = f"/project/{project_id}/scores"
    name, source = bench.NAME_LIST[0], "EVAL"
    named = score_queries.ScoreFilter(name=name, source=source)
    cases: dict[str, dict[str, str]] = {
        "page 1, no filter": {},
        "page 1, source": {"source": source},
        "page 1, name + source": {"name": name, "source": source},
        "deep page, no filter": {
            "cursor": middle_cursor(db, project_id, score_queries.ScoreFilter())
        },
        "deep page, name + source": {
            "name": name,
            "source": source,
            "cursor": middle_cursor(db, project_id, named),
        },
    }
    with tempfile.TemporaryDirectory(prefix="tm-page-bench-") as tmp:
        client = logged_in_client(db, url, Path(tmp))
        health = timed(lambda: client.get("/api/public/health"), args.runs)
        base_ms = statistics.median(health)
        print(
            f"\n{engine_name}: {args.scores:,} scores; baseline GET /api/public/health "
            f"p50 {base_ms:.1f} ms"
        )
        print(f"  {'case':<28} {'p50 ms':>8} {'p95 ms':>8} {'p50 / baseline':>15}")
        for label, params in cases.items():

            def get(params: dict[str, str] = params) -> None:
                response = client.get(page, params=params)
                assert response.status_code == 200, response.text[:300]
                assert response.text.count("<tr data-score-id=") == 50

            values = timed(get, args.runs)
            print(
                f"  {label:<28} {statistics.median(values):8.1f} {p95(values):8.1f} "
                f"{statistics.median(values) / base_ms:15.1f}"
            )
        with db.read() as session:
            depth = args.scores // 2 // 50

            def offset_query() -> None:
                base = score_queries.score_query(project_id, score_queries.ScoreFilter())
                list(
                    session.scalars(
                        base.order_by(Score.timestamp.desc(), Score.id.desc())
                        .limit(50)
                        .offset(depth * 50)
                    )
                )

            offset_ms = statistics.median(timed(offset_query, max(3, args.runs // 4)))
        print(f"  (info) the deep page's query with OFFSET {depth * 50:,}: {offset_ms:.1f} ms")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", default="/tmp/tracemark-scores-page-bench")
    args = parser.parse_args()
    bench = _bench_scores()
    keep = Path(args.keep)
    keep.mkdir(parents=True, exist_ok=True)
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    for engine_name in engines:
        if engine_name == "sqlite":
            url = f"sqlite:///{keep / f'scores-{args.scores}-{args.traces}.db'}"
        else:
            url = bench.pg_database(f"tm_scores_page_bench_{args.scores}", fresh=False)
        run(engine_name, url, args, bench)


if __name__ == "__main__":
    main()
