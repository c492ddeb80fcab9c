"""Score configs, scores, history, comments and export through the API, in-process."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture, make_member, make_project
from tracemark.db.engine import Database
from tracemark.db.models import Role


def make_configs(client: TestClient, project: ProjectFixture) -> dict[str, str]:
    bodies = [
        {
            "name": "quality",
            "dataType": "NUMERIC",
            "minValue": 0,
            "maxValue": 1,
            "description": "q",
        },
        {
            "name": "tone",
            "dataType": "CATEGORICAL",
            "categories": [{"value": 0, "label": "bad"}, {"value": 1, "label": "good"}],
        },
        {"name": "correct", "dataType": "BOOLEAN"},
        {"name": "notes", "dataType": "TEXT"},
    ]
    ids = {}
    for body in bodies:
        response = client.post("/api/public/score-configs", json=body, auth=project.auth)
        assert response.status_code == 200, response.text
        ids[body["name"]] = response.json()["id"]
    return ids


def test_configs_round_trip(app_client: TestClient, project: ProjectFixture) -> None:
    ids = make_configs(app_client, project)
    listing = app_client.get(
        "/api/public/score-configs", params={"page": 1, "limit": 10}, auth=project.auth
    ).json()
    assert listing["meta"]["totalItems"] == 4
    boolean = app_client.get(
        f"/api/public/score-configs/{ids['correct']}", auth=project.auth
    ).json()
    assert boolean["categories"] == [
        {"value": 1.0, "label": "True"},
        {"value": 0.0, "label": "False"},
    ]
    assert {"id", "name", "createdAt", "updatedAt", "projectId", "dataType", "isArchived"} <= set(
        boolean
    )
    archived = app_client.patch(
        f"/api/public/score-configs/{ids['notes']}", json={"isArchived": True}, auth=project.auth
    )
    assert archived.json()["isArchived"] is True
    restored = app_client.patch(
        f"/api/public/score-configs/{ids['notes']}", json={"isArchived": False}, auth=project.auth
    )
    assert restored.json()["isArchived"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "", "dataType": "NUMERIC"}, "name"),
        ({"name": "x" * 36, "dataType": "NUMERIC"}, "at most 35"),
        ({"name": "bad/name", "dataType": "NUMERIC"}, "name: only letters"),
        ({"name": "n", "dataType": "NUMBER"}, "dataType: must be one of"),
        (
            {"name": "n", "dataType": "NUMERIC", "minValue": 5, "maxValue": 1},
            "maxValue: must be greater",
        ),
        ({"name": "n", "dataType": "CATEGORICAL"}, "at least one"),
        (
            {
                "name": "n",
                "dataType": "CATEGORICAL",
                "categories": [{"label": "a", "value": 1}, {"label": "a", "value": 2}],
            },
            "labels must be unique",
        ),
        (
            {
                "name": "n",
                "dataType": "CATEGORICAL",
                "categories": [{"label": "a", "value": 1}, {"label": "b", "value": 1}],
            },
            "values must be unique",
        ),
        ({"name": "n", "dataType": "TEXT", "minValue": 1}, "only NUMERIC"),
    ],
)
def test_bad_configs(
    app_client: TestClient, project: ProjectFixture, body: dict[str, Any], message: str
) -> None:
    response = app_client.post("/api/public/score-configs", json=body, auth=project.auth)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_config_names_unique(app_client: TestClient, project: ProjectFixture) -> None:
    make_configs(app_client, project)
    again = app_client.post(
        "/api/public/score-configs",
        json={"name": "Quality", "dataType": "BOOLEAN"},
        auth=project.auth,
    )
    assert again.status_code == 409 and "already exists" in again.json()["message"]


def test_scores_of_every_type_and_target(app_client: TestClient, project: ProjectFixture) -> None:
    ids = make_configs(app_client, project)
    batch = [
        {"id": "s1", "traceId": "t1", "name": "quality", "value": 0.9, "configId": ids["quality"]},
        {
            "id": "s2",
            "traceId": "t1",
            "observationId": "o1",
            "name": "tone",
            "value": "good",
            "configId": ids["tone"],
        },
        {"id": "s3", "sessionId": "sess", "name": "correct", "value": 1.0, "dataType": "BOOLEAN"},
        {"id": "s4", "traceId": "t1", "name": "notes", "value": "fine answer", "dataType": "TEXT"},
        {
            "id": "s5",
            "traceId": "t1",
            "name": "free",
            "value": 3.0,
            "metadata": {"judge": "v2"},
            "source": "EVAL",
        },
    ]
    response = app_client.post("/api/public/scores", json=batch, auth=project.auth)
    assert response.status_code == 202 and response.json() == {"message": "Accepted"}
    got = {
        s["id"]: s
        for s in app_client.get("/api/public/v2/scores", auth=project.auth).json()["data"]
    }
    assert (
        got["s1"]["value"] == 0.9
        and got["s1"]["dataType"] == "NUMERIC"
        and got["s1"]["source"] == "API"
    )
    assert (got["s2"]["value"], got["s2"]["stringValue"], got["s2"]["observationId"]) == (
        1.0,
        "good",
        "o1",
    )
    assert (got["s3"]["value"], got["s3"]["stringValue"], got["s3"]["sessionId"]) == (
        1.0,
        "True",
        "sess",
    )
    assert got["s4"]["stringValue"] == "fine answer" and got["s4"]["dataType"] == "TEXT"
    assert got["s5"]["source"] == "EVAL" and got["s5"]["metadata"] == {"judge": "v2"}
    # Re-sending the batch changes nothing.
    assert app_client.post("/api/public/scores", json=batch, auth=project.auth).status_code == 202
    assert (
        app_client.get("/api/public/v2/scores", auth=project.auth).json()["meta"]["totalItems"] == 5
    )


@pytest.mark.parametrize(
    ("score", "message"),
    [
        ({"traceId": "t", "name": "quality", "value": 1.5}, "above the maximum 1"),
        ({"traceId": "t", "name": "tone", "value": "meh"}, "not a category"),
        ({"traceId": "t", "name": "correct", "value": 2}, "BOOLEAN score must be 0 or 1"),
        ({"traceId": "t", "name": "notes", "value": "x" * 501}, "at most 500"),
        ({"traceId": "t", "sessionId": "s", "name": "free", "value": 1}, "exactly one"),
        ({"name": "free", "value": 1}, "exactly one"),
        ({"observationId": "o", "name": "free", "value": 1}, "observationId"),
        (
            {"traceId": "t", "name": "other-name", "value": 0.5, "config": "quality"},
            "does not match",
        ),
        ({"traceId": "t", "name": "x", "value": 1, "configId": "nope"}, "no score config nope"),
        ({"traceId": "t", "name": "x", "value": 1, "source": "ANNOTATION"}, "needs a score config"),
        ({"traceId": "t", "name": "x", "value": 1, "source": "HUMAN"}, "source: must be one of"),
        ({"traceId": "t", "value": 1}, "name: required"),
    ],
)
def test_bad_scores_name_field_and_rule(
    app_client: TestClient, project: ProjectFixture, score: dict[str, Any], message: str
) -> None:
    ids = make_configs(app_client, project)
    body = dict(score)
    config_name = body.pop("config", None) or body.get("name")
    if config_name in ids:
        body["configId"] = ids[config_name]
    single = app_client.post("/api/public/scores", json=body, auth=project.auth)
    assert single.status_code == 400
    assert message in single.json()["message"]
    mixed = app_client.post(
        "/api/public/scores",
        json=[{"traceId": "t", "name": "ok", "value": 1}, body],
        auth=project.auth,
    )
    assert mixed.status_code == 207
    assert mixed.json()["accepted"] == 1 and mixed.json()["rejected"] == 1
    assert message in mixed.json()["errors"][0]["message"]
    assert (
        app_client.get("/api/public/v2/scores", auth=project.auth).json()["meta"]["totalItems"] == 1
    )


def test_archived_and_foreign_configs_are_refused(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    ids = make_configs(app_client, project)
    app_client.patch(
        f"/api/public/score-configs/{ids['quality']}", json={"isArchived": True}, auth=project.auth
    )
    response = app_client.post(
        "/api/public/scores",
        json={"traceId": "t", "name": "quality", "value": 0.5, "configId": ids["quality"]},
        auth=project.auth,
    )
    assert response.status_code == 400 and "archived" in response.json()["message"]
    other = make_project(db, "Other", owner_email="other@example.com")
    response = app_client.post(
        "/api/public/scores",
        json={"traceId": "t", "name": "tone", "value": "good", "configId": ids["tone"]},
        auth=other.auth,
    )
    assert response.status_code == 400 and "no score config" in response.json()["message"]


def test_two_annotators_keep_two_scores_and_history(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    ids = make_configs(app_client, project)
    _, ann = make_member(db, project.project, "ann@example.com", Role.ANNOTATOR)
    _, bob = make_member(db, project.project, "bob@example.com", Role.ANNOTATOR)

    def annotate(token: str, value: float, comment: str) -> Any:
        return app_client.post(
            "/api/public/scores",
            json={
                "traceId": "t1",
                "name": "quality",
                "value": value,
                "configId": ids["quality"],
                "source": "ANNOTATION",
                "comment": comment,
            },
            headers={"Authorization": f"Bearer {token}"},
        )

    first = annotate(ann, 0.2, "weak")
    second = annotate(bob, 0.9, "great")
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] != second.json()["id"]
    again = annotate(ann, 0.4, "weak, on second look")
    assert again.json()["id"] == first.json()["id"]  # Ann updates her own score
    listing = app_client.get(
        "/api/public/v2/scores", params={"traceId": "t1"}, auth=project.auth
    ).json()
    values = sorted((s["value"], s["authorUserId"] is not None) for s in listing["data"])
    assert values == [(0.4, True), (0.9, True)]
    history = app_client.get(
        f"/api/public/scores/{first.json()['id']}/history", auth=project.auth
    ).json()["data"]
    assert [h["action"] for h in history] == ["CREATE", "UPDATE"]
    assert (history[1]["oldValue"], history[1]["newValue"]) == (0.2, 0.4)
    assert (history[1]["oldComment"], history[1]["newComment"]) == ("weak", "weak, on second look")
    assert history[1]["changedByUserId"] is not None
    # Bob cannot change Ann's score by its id, nor delete it.
    hijack = app_client.post(
        "/api/public/scores",
        json={
            "id": first.json()["id"],
            "traceId": "t1",
            "name": "quality",
            "value": 1.0,
            "configId": ids["quality"],
            "source": "ANNOTATION",
        },
        headers={"Authorization": f"Bearer {bob}"},
    )
    assert hijack.status_code == 400 and "another annotator" in hijack.json()["message"]
    delete = app_client.delete(
        f"/api/public/scores/{first.json()['id']}", headers={"Authorization": f"Bearer {bob}"}
    )
    assert delete.status_code == 403
    own_delete = app_client.delete(
        f"/api/public/scores/{first.json()['id']}", headers={"Authorization": f"Bearer {ann}"}
    )
    assert own_delete.status_code == 200
    history = app_client.get(
        f"/api/public/scores/{first.json()['id']}/history", auth=project.auth
    ).json()["data"]
    assert history[-1]["action"] == "DELETE" and history[-1]["oldValue"] == 0.4


def test_viewer_cannot_score_and_annotator_cannot_send_api_scores(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    ids = make_configs(app_client, project)
    _, viewer = make_member(db, project.project, "v@example.com", Role.VIEWER)
    _, ann = make_member(db, project.project, "a@example.com", Role.ANNOTATOR)
    body = {
        "traceId": "t",
        "name": "quality",
        "value": 0.5,
        "configId": ids["quality"],
        "source": "ANNOTATION",
    }
    assert (
        app_client.post(
            "/api/public/scores", json=body, headers={"Authorization": f"Bearer {viewer}"}
        ).status_code
        == 403
    )
    api_body = {"traceId": "t", "name": "free", "value": 1}
    assert (
        app_client.post(
            "/api/public/scores", json=api_body, headers={"Authorization": f"Bearer {ann}"}
        ).status_code
        == 403
    )


def test_score_before_trace_joins_it(app_client: TestClient, project: ProjectFixture) -> None:
    app_client.post(
        "/api/public/scores",
        json={"id": "early", "traceId": "late-trace", "name": "x", "value": 1},
        auth=project.auth,
    )
    app_client.post(
        "/api/public/ingestion",
        json={
            "batch": [
                {
                    "id": "e1",
                    "type": "trace-create",
                    "timestamp": "2026-11-20T10:00:00Z",
                    "body": {"id": "late-trace", "name": "arrives later"},
                }
            ]
        },
        auth=project.auth,
    )
    trace = app_client.get("/api/public/traces/late-trace", auth=project.auth).json()
    assert [s["id"] for s in trace["scores"]] == ["early"]
    listing = app_client.get("/api/public/traces", auth=project.auth).json()
    assert listing["data"][0]["scores"] == ["early"]


def test_score_create_events_in_ingestion(app_client: TestClient, project: ProjectFixture) -> None:
    batch = {
        "batch": [
            {
                "id": "ev1",
                "type": "score-create",
                "timestamp": "2026-11-20T10:00:00Z",
                "body": {
                    "id": "sc1",
                    "traceId": "t1",
                    "name": "accuracy",
                    "value": 0.95,
                    "dataType": "NUMERIC",
                },
            },
            {
                "id": "ev2",
                "type": "score-create",
                "timestamp": "2026-11-20T10:00:00Z",
                "body": {
                    "id": "sc2",
                    "traceId": "t1",
                    "name": "bad",
                    "value": 2,
                    "dataType": "BOOLEAN",
                },
            },
        ]
    }
    response = app_client.post("/api/public/ingestion", json=batch, auth=project.auth).json()
    assert [s["id"] for s in response["successes"]] == ["ev1"]
    assert response["errors"][0]["id"] == "ev2" and "0 or 1" in response["errors"][0]["message"]
    score = app_client.get("/api/public/v2/scores/sc1", auth=project.auth).json()
    assert score["value"] == 0.95 and score["timestamp"] == "2026-11-20T10:00:00.000Z"


def test_v2_and_v3_filters(app_client: TestClient, project: ProjectFixture) -> None:
    batch = [
        {
            "id": f"s{i}",
            "traceId": f"t{i % 3}",
            "name": "judge" if i % 2 else "other",
            "value": i / 10,
            "source": "EVAL" if i % 2 else "API",
            "timestamp": f"2026-11-{10 + i:02d}T00:00:00Z",
        }
        for i in range(10)
    ]
    app_client.post("/api/public/scores", json=batch, auth=project.auth)

    def ids(path: str, **params: Any) -> list[str]:
        response = app_client.get(path, params=params, auth=project.auth)
        assert response.status_code == 200, response.text
        return sorted(s["id"] for s in response.json()["data"])

    assert ids("/api/public/v2/scores", name="judge", source="EVAL") == [
        "s1",
        "s3",
        "s5",
        "s7",
        "s9",
    ]
    assert ids("/api/public/v2/scores", traceId="t0") == ["s0", "s3", "s6", "s9"]
    assert ids(
        "/api/public/v2/scores",
        fromTimestamp="2026-11-15T00:00:00Z",
        toTimestamp="2026-11-17T00:00:00Z",
    ) == ["s5", "s6"]
    assert ids("/api/public/v2/scores", operator=">=", value=0.8) == ["s8", "s9"]
    pages: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = app_client.get("/api/public/v3/scores", params=params, auth=project.auth).json()
        pages += [s["id"] for s in body["data"]]
        cursor = body["meta"]["cursor"]
        if not cursor:
            break
    assert pages == [f"s{i}" for i in range(9, -1, -1)]
    assert body["data"][-1]["subject"] == {"kind": "trace", "id": "t0"}
    bad = app_client.get("/api/public/v2/scores", params={"source": "HUMAN"}, auth=project.auth)
    assert bad.status_code == 400 and "source" in bad.json()["message"]


def test_export_reads_back_row_by_row(app_client: TestClient, project: ProjectFixture) -> None:
    ids = make_configs(app_client, project)
    batch = [
        {
            "id": "a",
            "traceId": "t1",
            "name": "quality",
            "value": 0.25,
            "configId": ids["quality"],
            "comment": 'has "quotes", commas\nand a newline',
            "metadata": {"k": [1, 2]},
        },
        {"id": "b", "sessionId": "s1", "name": "tone", "value": "bad", "configId": ids["tone"]},
        {
            "id": "c",
            "traceId": "t2",
            "observationId": "o",
            "name": "notes",
            "value": "<script>x</script>",
            "dataType": "TEXT",
        },
    ]
    app_client.post("/api/public/scores", json=batch, auth=project.auth)
    stored = {
        s["id"]: s
        for s in app_client.get("/api/public/v2/scores", auth=project.auth).json()["data"]
    }
    csv_text = app_client.get(
        "/api/public/scores/export", params={"format": "csv"}, auth=project.auth
    ).text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(rows) == 3
    for row in rows:
        score = stored[row["id"]]
        assert row["name"] == score["name"] and row["dataType"] == score["dataType"]
        assert row["stringValue"] == (score["stringValue"] or "")
        assert (float(row["value"]) if row["value"] else None) == score["value"]
        assert row["comment"] == (score["comment"] or "")
        assert json.loads(row["metadata"]) == score["metadata"]
        assert row["configName"] == score["name"] if score["configId"] else row["configName"] == ""
        assert row["timestamp"] == score["timestamp"]
    jsonl = app_client.get(
        "/api/public/scores/export", params={"format": "jsonl"}, auth=project.auth
    ).text
    records = [json.loads(line) for line in jsonl.splitlines()]
    assert {r["id"] for r in records} == {"a", "b", "c"}
    as_json = app_client.get(
        "/api/public/scores/export", params={"format": "json", "name": "tone"}, auth=project.auth
    ).json()
    assert [r["id"] for r in as_json] == ["b"] and as_json[0]["stringValue"] == "bad"
    assert (
        app_client.get(
            "/api/public/scores/export", params={"format": "xml"}, auth=project.auth
        ).status_code
        == 400
    )


def test_comments(app_client: TestClient, project: ProjectFixture, db: Database) -> None:
    app_client.post(
        "/api/public/ingestion",
        json={
            "batch": [
                {
                    "id": "e1",
                    "type": "trace-create",
                    "timestamp": "2026-11-20T10:00:00Z",
                    "body": {"id": "t1"},
                }
            ]
        },
        auth=project.auth,
    )
    _, ann = make_member(db, project.project, "ann@example.com", Role.ANNOTATOR)
    headers = {"Authorization": f"Bearer {ann}"}
    created = app_client.post(
        "/api/public/comments",
        json={"objectType": "TRACE", "objectId": "t1", "content": "Looks off"},
        headers=headers,
    )
    assert created.status_code == 200
    listing = app_client.get(
        "/api/public/comments", params={"objectType": "TRACE", "objectId": "t1"}, auth=project.auth
    ).json()
    assert [c["content"] for c in listing["data"]] == ["Looks off"]
    assert listing["data"][0]["authorUserId"] is not None
    missing = app_client.post(
        "/api/public/comments",
        json={"objectType": "TRACE", "objectId": "nope", "content": "x"},
        headers=headers,
    )
    assert missing.status_code == 404
    empty = app_client.post(
        "/api/public/comments",
        json={"objectType": "TRACE", "objectId": "t1", "content": " "},
        headers=headers,
    )
    assert empty.status_code == 400 and "content" in empty.json()["message"]


def test_one_id_twice_in_a_batch_last_wins_and_history_says_so(
    app_client: TestClient, project: ProjectFixture
) -> None:
    def send(*comments: str) -> None:
        batch = [
            {"id": "dup-1", "traceId": "t1", "name": "n", "value": 0.5, "comment": c}
            for c in comments
        ]
        response = app_client.post("/api/public/scores", json=batch, auth=project.auth)
        assert response.status_code == 202, response.text

    def state() -> tuple[str, list[tuple[str, str | None, str | None]]]:
        score = app_client.get("/api/public/v2/scores/dup-1", auth=project.auth).json()
        history = app_client.get("/api/public/scores/dup-1/history", auth=project.auth).json()
        changes = [(h["action"], h["oldComment"], h["newComment"]) for h in history["data"]]
        return score["comment"], changes

    send("a", "b")  # a new id, twice
    assert state() == ("b", [("CREATE", None, "a"), ("UPDATE", "a", "b")])
    send("c", "b")  # a stored id, changed and changed back within one batch
    assert state() == (
        "b",
        [("CREATE", None, "a"), ("UPDATE", "a", "b"), ("UPDATE", "b", "c"), ("UPDATE", "c", "b")],
    )
    listing = app_client.get("/api/public/v2/scores", auth=project.auth).json()
    assert [s["id"] for s in listing["data"]] == ["dup-1"]
