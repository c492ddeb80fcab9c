"""GET /api/public/analytics/calibration and /agreement on both engines, with bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score

from tests.calibration_world import CONSENSUS, JUDGE, JUDGE_SAYS, World, annotate, make_world
from tests.conftest import ProjectFixture, make_project
from tracemark.db.engine import Database
from tracemark.services import score_configs

CALIBRATION = "/api/public/analytics/calibration"
AGREEMENT = "/api/public/analytics/agreement"


@pytest.fixture
def world(db: Database, project: ProjectFixture) -> World:
    return make_world(db, project)


def get(client: TestClient, project: ProjectFixture, path: str, **params: Any) -> Any:
    return client.get(path, params=params, auth=project.auth)


def test_calibration_answers_with_the_statistics(
    app_client: TestClient, project: ProjectFixture, world: World
) -> None:
    response = get(
        app_client,
        project,
        CALIBRATION,
        configId=world.quality,
        judgeScoreName=JUDGE,
        judgeSource="EVAL",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pairs"] == 8 and body["tiedTargets"] == 1
    assert "majority" in body["consensus"] and "tie" in body["consensus"]
    kappa = body["categorical"]["kappa"]
    assert kappa["value"] == pytest.approx(cohen_kappa_score(CONSENSUS, JUDGE_SAYS))
    assert kappa["ciLow"] < kappa["value"] < kappa["ciHigh"]
    assert "analytic" in kappa["ciMethod"]
    assert body["categorical"]["confusionMatrix"] == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]
    assert body["categorical"]["labels"] == ["good", "ok", "bad"]
    assert body["versionKeys"] == ["metadata.evaluatorVersion", "metadata.version"]
    assert body["disagreements"] is None and body["disagreementCount"] == 3
    assert {p["version"] for p in body["trend"]} == {"v1", "v2"}
    assert "NaN" not in response.text
    # A one-pair week has no kappa: null, not NaN.
    assert any(p["value"] is None for p in body["trend"])


def test_calibration_disagreements_and_default_sources(
    app_client: TestClient, project: ProjectFixture, world: World
) -> None:
    response = get(
        app_client,
        project,
        CALIBRATION,
        configId=world.quality,
        judgeScoreName=JUDGE,
        include="disagreements",
        limit=2,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pairs"] == 9 and body["judgeSources"] == ["EVAL", "API"]
    first, second = body["disagreements"]
    assert (first["objectType"], first["objectId"], first["traceId"]) == ("TRACE", "t1", "t1")
    assert first["judgeComment"].startswith("<script>")
    assert first["humanValue"] == "bad" and first["judgeValue"] == "good"
    assert second["objectType"] == "OBSERVATION"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"judgeScoreName": JUDGE}, "configId"),
        ({"configId": "QUALITY"}, "judgeScoreName"),
        ({"configId": "QUALITY", "judgeScoreName": "nobody"}, "no pairs"),
        ({"configId": "missing", "judgeScoreName": JUDGE}, "no score config"),
        (
            {"configId": "QUALITY", "judgeScoreName": JUDGE, "judgeSource": "ANNOTATION"},
            "judgeSource",
        ),
        ({"configId": "QUALITY", "judgeScoreName": JUDGE, "include": "everything"}, "include"),
        (
            {
                "configId": "QUALITY",
                "judgeScoreName": JUDGE,
                "include": "disagreements",
                "limit": 0 - 1,
            },
            "limit",
        ),
        (
            {"configId": "QUALITY", "judgeScoreName": JUDGE, "fromTimestamp": "yesterday"},
            "fromTimestamp",
        ),
        (
            {
                "configId": "QUALITY",
                "judgeScoreName": JUDGE,
                "fromTimestamp": "2026-12-01T00:00:00Z",
                "toTimestamp": "2026-11-01T00:00:00Z",
            },
            "fromTimestamp",
        ),
    ],
)
def test_calibration_bad_input_is_a_400_with_a_message(
    app_client: TestClient,
    project: ProjectFixture,
    world: World,
    params: dict[str, Any],
    expected: str,
) -> None:
    if params.get("configId") == "QUALITY":
        params = {**params, "configId": world.quality}
    response = get(app_client, project, CALIBRATION, **params)
    assert response.status_code == 400, response.text
    assert expected in response.json()["message"]


def test_calibration_refuses_another_projects_config_and_needs_auth(
    app_client: TestClient, db: Database, project: ProjectFixture, world: World
) -> None:
    other = make_project(db, "Other", "other-owner@example.com")
    response = get(app_client, other, CALIBRATION, configId=world.quality, judgeScoreName=JUDGE)
    assert response.status_code == 400
    assert "no score config" in response.json()["message"]
    anonymous = app_client.get(
        CALIBRATION, params={"configId": world.quality, "judgeScoreName": JUDGE}
    )
    assert anonymous.status_code == 401


def test_calibration_one_category_and_mixed_types_are_400(
    app_client: TestClient, db: Database, project: ProjectFixture, world: World
) -> None:
    pid = project.project.id
    with db.write() as session:
        flag = score_configs.create(session, pid, {"name": "flag", "dataType": "BOOLEAN"}).id
    annotate(db, pid, world.people[0], flag, "t0", True)
    ok = app_client.post(
        "/api/public/scores",
        json={"name": "judge-flag", "traceId": "t0", "value": True, "source": "EVAL"},
        auth=project.auth,
    )
    assert ok.status_code == 200, ok.text
    response = get(app_client, project, CALIBRATION, configId=flag, judgeScoreName="judge-flag")
    assert response.status_code == 400
    assert "one category only" in response.json()["message"]
    response = get(app_client, project, CALIBRATION, configId=flag, judgeScoreName=JUDGE)
    assert response.status_code == 400
    assert "mixed data types" in response.json()["message"]


def test_agreement_answers_and_refuses_bad_input(
    app_client: TestClient, db: Database, project: ProjectFixture, world: World
) -> None:
    response = get(app_client, project, AGREEMENT, configId=world.quality)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["level"] == "nominal" and body["itemsWithTwoOrMore"] == 5
    assert len(body["annotators"]) == 3 and len(body["pairwise"]) == 3
    assert {"userId", "items", "tiedItems", "agreement"} <= set(body["versusOthers"][0])
    assert body["mostDisagreement"][0]["disagreement"] > 0
    assert -1 <= body["alpha"] <= 1
    ordinal = get(app_client, project, AGREEMENT, configId=world.quality, level="ordinal")
    assert ordinal.status_code == 200 and ordinal.json()["level"] == "ordinal"
    other = make_project(db, "Other", "other-owner@example.com")
    for who, params, expected in (
        (project, {"configId": world.quality, "level": "ratio"}, "level"),
        (project, {"configId": world.quality, "queueId": "nope"}, "queueId"),
        (project, {}, "configId"),
        (other, {"configId": world.quality}, "no score config"),
    ):
        response = get(app_client, who, AGREEMENT, **params)
        assert response.status_code == 400, response.text
        assert expected in response.json()["message"]


def test_openapi_documents_both_endpoints(app_client: TestClient) -> None:
    paths = app_client.get("/api/public/openapi.json").json()["paths"]
    assert paths[CALIBRATION]["get"]["operationId"] == "analytics_calibration"
    assert paths[AGREEMENT]["get"]["operationId"] == "analytics_agreement"
    assert "400" in paths[CALIBRATION]["get"]["responses"]
