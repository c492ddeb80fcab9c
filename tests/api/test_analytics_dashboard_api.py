"""GET /api/public/analytics/scores|throughput|queues: numbers, auth, isolation, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.analytics_world import AnalyticsWorld, make_analytics_world
from tests.conftest import ProjectFixture, make_project
from tracemark.db.engine import Database

RANGE = {"fromTimestamp": "2026-11-01T00:00:00Z", "toTimestamp": "2026-11-08T00:00:00Z"}


@pytest.fixture
def world(db: Database, project: ProjectFixture) -> AnalyticsWorld:
    return make_analytics_world(db, project)


def get(client: TestClient, project: ProjectFixture, path: str, **params: Any) -> Any:
    response = client.get(f"/api/public/analytics/{path}", params=params, auth=project.auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_scores(app_client: TestClient, project: ProjectFixture, world: AnalyticsWorld) -> None:
    body = get(app_client, project, "scores", **RANGE)
    assert body["range"]["bucket"] == "day"
    assert body["totalScores"] == 15
    by_name = {s["name"]: s for s in body["series"]}
    quality = by_name["quality"]
    assert (quality["source"], quality["dataType"], quality["count"]) == ("API", "NUMERIC", 4)
    assert quality["mean"] == pytest.approx(0.625)
    assert sum(b["count"] for b in quality["histogram"]) == 4
    assert [p["count"] for p in quality["trend"]] == [0, 2, 1, 0, 1, 0, 0]
    assert quality["trend"][0]["mean"] is None
    assert by_name["tone"]["categories"] == [
        {"label": "good", "count": 2},
        {"label": "bad", "count": 1},
    ]
    assert by_name["tone"]["mean"] == pytest.approx(2 / 3)


def test_filters_over_the_api(
    app_client: TestClient, project: ProjectFixture, world: AnalyticsWorld
) -> None:
    assert get(app_client, project, "scores", environment="staging", **RANGE)["totalScores"] == 5
    tagged = app_client.get(
        "/api/public/analytics/scores",
        params=[*RANGE.items(), ("tags", "beta"), ("tags", "vip")],
        auth=project.auth,
    )
    assert tagged.json()["totalScores"] == 4
    only = get(app_client, project, "scores", traceName="chat", scoreName="rating", **RANGE)
    assert [(s["name"], s["count"]) for s in only["series"]] == [("rating", 3)]


def test_throughput_and_queues(
    app_client: TestClient, project: ProjectFixture, world: AnalyticsWorld
) -> None:
    body = get(app_client, project, "throughput", **RANGE)
    assert len(body["buckets"]) == 7 and body["totalScores"] == 7
    people = {a["name"]: a for a in body["annotators"]}
    assert people["alice"]["perBucket"] == [0, 3, 1, 0, 0, 0, 0]
    assert people["bob"]["scores"] == 3
    queues = get(app_client, project, "queues", **RANGE)["queues"]
    assert [(q["name"], q["items"], q["completed"], q["pending"]) for q in queues] == [
        ("Review", 4, 2, 2)
    ]


def test_empty_range_is_zero_not_an_error(
    app_client: TestClient, project: ProjectFixture, world: AnalyticsWorld
) -> None:
    body = get(
        app_client,
        project,
        "scores",
        fromTimestamp="2025-01-01T00:00:00Z",
        toTimestamp="2025-01-31T00:00:00Z",
    )
    assert body["totalScores"] == 0 and body["series"] == []
    people = get(
        app_client,
        project,
        "throughput",
        fromTimestamp="2025-01-01T00:00:00Z",
        toTimestamp="2025-01-31T00:00:00Z",
    )
    assert people["annotators"] == [] and len(people["buckets"]) == 30


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"fromTimestamp": "2026-11-08T00:00:00Z", "toTimestamp": "2026-11-01T00:00:00Z"},
            "must be before",
        ),
        (
            {"fromTimestamp": "2024-01-01T00:00:00Z", "toTimestamp": "2026-11-01T00:00:00Z"},
            "at most 366 days",
        ),
        ({"fromTimestamp": "last tuesday"}, "fromTimestamp"),
        ({"colour": "blue"}, "unknown query parameter colour"),
        ({"source": "HUMAN"}, "source: 'HUMAN' is not one of"),
    ],
)
@pytest.mark.parametrize("path", ["scores", "throughput", "queues"])
def test_bad_input_is_400(
    app_client: TestClient, project: ProjectFixture, path: str, params: dict[str, str], message: str
) -> None:
    response = app_client.get(f"/api/public/analytics/{path}", params=params, auth=project.auth)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_auth_and_isolation(app_client: TestClient, db: Database, world: AnalyticsWorld) -> None:
    assert app_client.get("/api/public/analytics/scores").status_code == 401
    other = make_project(db, "Other", "other@example.com")
    body = get(app_client, other, "scores", **RANGE)
    assert body["totalScores"] == 0
    assert get(app_client, other, "queues", **RANGE)["queues"] == []


def test_documented_in_openapi(app_client: TestClient) -> None:
    paths = app_client.get("/api/public/openapi.json").json()["paths"]
    for path, operation_id in (
        ("scores", "analytics_scores"),
        ("throughput", "analytics_throughput"),
        ("queues", "analytics_queues"),
    ):
        get_op = paths[f"/api/public/analytics/{path}"]["get"]
        assert get_op["operationId"] == operation_id
        assert get_op["tags"] == ["analytics"]
        assert "400" in get_op["responses"]
