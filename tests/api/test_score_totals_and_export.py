"""v2 list totals (kept in score_counts) and CSV cells made by the database, in-process."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture, make_member, make_project
from tracemark.db.engine import Database
from tracemark.db.models import Role

FILTERS: list[dict[str, Any]] = [
    {},
    {"name": "judge"},
    {"name": "judge", "source": "EVAL"},
    {"name": "judge,other"},
    {"source": "API"},
    {"dataType": "CATEGORICAL"},
    {"environment": "staging"},
    {"environment": ["staging", "default"], "source": "EVAL"},
    {"name": "quality", "source": "ANNOTATION"},
    {"traceId": "t1"},  # not a counted key: counted over the rows
]


def total(client: TestClient, auth: tuple[str, str], params: dict[str, Any]) -> int:
    """totalItems of a page smaller than the result, so that the count is what answers."""
    response = client.get("/api/public/v2/scores", params={**params, "limit": 1}, auth=auth)
    assert response.status_code == 200, response.text
    return int(response.json()["meta"]["totalItems"])


def matching(client: TestClient, auth: tuple[str, str], params: dict[str, Any]) -> int:
    """How many scores the filter really matches, by reading them all."""
    seen = 0
    page = 1
    while True:
        body = client.get(
            "/api/public/v2/scores", params={**params, "limit": 100, "page": page}, auth=auth
        ).json()
        seen += len(body["data"])
        if len(body["data"]) < 100:
            return seen
        page += 1


def assert_totals_exact(client: TestClient, auth: tuple[str, str]) -> None:
    for params in FILTERS:
        assert total(client, auth, params) == matching(client, auth, params), params


def test_totals_follow_creates_updates_deletes_and_annotators(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    auth = project.auth
    config = app_client.post(
        "/api/public/score-configs",
        json={"name": "quality", "dataType": "NUMERIC", "minValue": 0, "maxValue": 1},
        auth=auth,
    ).json()["id"]
    batch = [
        {
            "id": f"s{i}",
            "traceId": f"t{i % 3}",
            "name": ["judge", "other", "tone"][i % 3],
            "value": "ok" if i % 3 == 2 else i / 10,
            "source": "EVAL" if i % 2 else "API",
            "environment": "staging" if i % 4 == 0 else "default",
        }
        for i in range(12)
    ]
    assert app_client.post("/api/public/scores", json=batch, auth=auth).status_code == 202
    assert total(app_client, auth, {"name": "judge", "source": "EVAL"}) == 2
    assert_totals_exact(app_client, auth)

    # A re-sent batch changes nothing; a score moved to another name and source moves its count.
    assert app_client.post("/api/public/scores", json=batch, auth=auth).status_code == 202
    moved = {**batch[0], "name": "other", "source": "EVAL"}
    assert app_client.post("/api/public/scores", json=moved, auth=auth).status_code == 200
    # The same new id twice in one batch is one score.
    twice = [
        {"id": "dup", "traceId": "t9", "name": "judge", "value": 1, "source": "EVAL"},
        {"id": "dup", "traceId": "t9", "name": "judge", "value": 0, "source": "EVAL"},
    ]
    assert app_client.post("/api/public/scores", json=twice, auth=auth).status_code == 202
    assert app_client.delete("/api/public/scores/s3", auth=auth).status_code == 200
    assert total(app_client, auth, {"name": "judge", "source": "EVAL"}) == 2  # s9, dup
    assert_totals_exact(app_client, auth)

    # Two annotators: each saves twice, each keeps one score.
    for email in ("ann@example.com", "bob@example.com"):
        _, token = make_member(db, project.project, email, Role.ANNOTATOR)
        for value in (0.2, 0.7):
            response = app_client.post(
                "/api/public/scores",
                json={"traceId": "t1", "configId": config, "value": value, "source": "ANNOTATION"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
    assert total(app_client, auth, {"name": "quality", "source": "ANNOTATION"}) == 2
    assert_totals_exact(app_client, auth)

    # Another project's scores count for that project only.
    other = make_project(db, "other")
    assert app_client.post("/api/public/scores", json=batch[:5], auth=other.auth).status_code == 202
    assert total(app_client, other.auth, {}) == 5
    assert total(app_client, auth, {"name": "judge", "source": "EVAL"}) == 2


def test_csv_cells_are_the_stored_values(app_client: TestClient, project: ProjectFixture) -> None:
    app_client.post(
        "/api/public/ingestion",
        json={
            "batch": [
                {
                    "id": "e1",
                    "type": "trace-create",
                    "timestamp": "2026-11-20T10:00:00Z",
                    "body": {
                        "id": "t1",
                        "name": "checkout",
                        "userId": "u-7",
                        "tags": ["prod", "café"],
                    },
                }
            ]
        },
        auth=project.auth,
    )
    scores = [
        {
            "id": "a",
            "traceId": "t1",
            "name": "judge",
            "value": 1 / 3,
            "timestamp": "2026-11-20T10:00:01.123987Z",
            "metadata": {"model": "jüdge-2", "temperature": 0.1, "tags": ["x"]},
            "comment": 'says "fine", then\nmore',
        },
        {
            "id": "b",
            "sessionId": "s1",
            "name": "flag",
            "value": True,
            "timestamp": "2026-11-20T10:00:02Z",
        },
    ]
    assert app_client.post("/api/public/scores", json=scores, auth=project.auth).status_code == 202
    text = app_client.get(
        "/api/public/scores/export", params={"format": "csv"}, auth=project.auth
    ).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in rows] == ["a", "b"]
    first, second = rows
    assert first["timestamp"] == "2026-11-20T10:00:01.123Z"
    assert float(first["value"]) == 1 / 3  # every digit of the stored float
    assert json.loads(first["metadata"]) == scores[0]["metadata"]
    assert first["comment"] == scores[0]["comment"]
    assert (first["traceName"], first["userId"]) == ("checkout", "u-7")
    assert json.loads(first["traceTags"]) == ["prod", "café"]
    assert first["environment"] == "default"
    assert (second["timestamp"], second["value"], second["stringValue"]) == (
        "2026-11-20T10:00:02.000Z",
        "1.0",
        "True",
    )
    assert second["metadata"] == "{}" and second["traceTags"] == "" and second["traceId"] == ""
    # The JSON export gives the same values, parsed.
    records = app_client.get(
        "/api/public/scores/export", params={"format": "json"}, auth=project.auth
    ).json()
    assert records[0]["timestamp"] == first["timestamp"]
    assert records[0]["metadata"] == scores[0]["metadata"]
    assert records[0]["traceTags"] == ["prod", "café"]


def test_totals_stay_exact_when_several_connections_write_at_once(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    """Writers on different database connections (PostgreSQL: different count shards) at the
    same time, including deletes made by a connection other than the one that counted the
    score in: every total is still exact."""
    import threading

    from tracemark.services import scores

    def write(prefix: str) -> None:
        for batch in range(5):
            with db.write() as session:
                body = [
                    {
                        "id": f"{prefix}-{batch}-{i}",
                        "traceId": f"t{i % 3}",
                        "name": "judge",
                        "value": i,
                        "source": "EVAL",
                    }
                    for i in range(20)
                ]
                written = scores.write_scores(
                    session,
                    project.project.id,
                    [scores.ScoreInput(b, index=i) for i, b in enumerate(body)],
                    scores.Actor(),
                )
                assert not written.errors

    threads = [threading.Thread(target=write, args=(f"w{k}",)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert total(app_client, project.auth, {"name": "judge", "source": "EVAL"}) == 400
    for k in range(4):  # deleted through the API, on whichever connection serves it
        gone = app_client.delete(f"/api/public/scores/w{k}-0-0", auth=project.auth)
        assert gone.status_code == 200, gone.text
    assert_totals_exact(app_client, project.auth)
    assert total(app_client, project.auth, {"name": "judge", "source": "EVAL"}) == 396
