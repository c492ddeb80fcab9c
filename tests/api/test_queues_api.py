"""Annotation queues through the API, in-process: definition, items, processing, progress."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture, make_member, make_project
from tracemark.db.engine import Database
from tracemark.db.models import Role


def seed_traces(client: TestClient, project: ProjectFixture, n: int, user: str = "u1") -> list[str]:
    batch = [
        {
            "id": f"e{i}",
            "type": "trace-create",
            "timestamp": f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z",
            "body": {
                "id": f"t{i:03d}",
                "name": "chat",
                "userId": user if i % 2 else "other",
                "tags": ["vip"] if i % 3 == 0 else [],
                "sessionId": "s1",
                "timestamp": f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z",
                "input": f"q{i}",
                "output": f"a{i}",
            },
        }
        for i in range(n)
    ]
    assert (
        client.post("/api/public/ingestion", json={"batch": batch}, auth=project.auth).status_code
        == 207
    )
    return [f"t{i:03d}" for i in range(n)]


def make_configs(client: TestClient, project: ProjectFixture) -> dict[str, str]:
    out = {}
    for body in (
        {"name": "quality", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
        {"name": "correct", "dataType": "BOOLEAN"},
    ):
        out[body["name"]] = client.post(
            "/api/public/score-configs", json=body, auth=project.auth
        ).json()["id"]
    return out


@pytest.fixture
def setup(app_client: TestClient, project: ProjectFixture, db: Database) -> dict[str, Any]:
    configs = make_configs(app_client, project)
    ann_user, ann = make_member(db, project.project, "ann@example.com", Role.ANNOTATOR)
    bob_user, bob = make_member(db, project.project, "bob@example.com", Role.ANNOTATOR)
    traces = seed_traces(app_client, project, 6)
    queue = app_client.post(
        "/api/public/annotation-queues",
        json={
            "name": "Review",
            "description": "# Guidelines\nBe strict.",
            "scoreConfigIds": list(configs.values()),
            "annotatorsPerItem": 2,
        },
        auth=project.auth,
    )
    assert queue.status_code == 200, queue.text
    return {
        "configs": configs,
        "ann": ann,
        "bob": bob,
        "ann_id": ann_user.id,
        "bob_id": bob_user.id,
        "traces": traces,
        "queue": queue.json(),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_queue_definition_and_sdk_shape(
    app_client: TestClient, project: ProjectFixture, setup: dict[str, Any]
) -> None:
    queue = setup["queue"]
    assert (
        queue["annotatorsPerItem"] == 2 and queue["leaseSeconds"] == 600 and queue["blind"] is False
    )
    assert {"id", "name", "scoreConfigIds", "createdAt", "updatedAt"} <= set(queue)
    listing = app_client.get("/api/public/annotation-queues", auth=project.auth).json()
    assert [q["name"] for q in listing["data"]] == ["Review"]
    dup = app_client.post(
        "/api/public/annotation-queues",
        json={"name": "review", "scoreConfigIds": list(setup["configs"].values())},
        auth=project.auth,
    )
    assert dup.status_code == 409


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "Q"}, "scoreConfigIds"),
        ({"name": "Q", "scoreConfigIds": ["nope"]}, "no score config nope"),
        (
            {"name": "Q", "scoreConfigIds": "CONFIG", "annotatorsPerItem": 21},
            "annotatorsPerItem: must be between 1 and 20",
        ),
        ({"name": "Q", "scoreConfigIds": "CONFIG", "annotatorsPerItem": 0}, "annotatorsPerItem"),
        ({"name": "", "scoreConfigIds": "CONFIG"}, "name"),
    ],
)
def test_bad_queues(
    app_client: TestClient,
    project: ProjectFixture,
    setup: dict[str, Any],
    body: dict[str, Any],
    message: str,
) -> None:
    body = dict(body)
    if body.get("scoreConfigIds") == "CONFIG":
        body["scoreConfigIds"] = [setup["configs"]["quality"]]
    response = app_client.post("/api/public/annotation-queues", json=body, auth=project.auth)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_items_single_bulk_and_from_filter(
    app_client: TestClient, project: ProjectFixture, setup: dict[str, Any], db: Database
) -> None:
    qid = setup["queue"]["id"]
    first = app_client.post(
        f"/api/public/annotation-queues/{qid}/items",
        json={"objectType": "TRACE", "objectId": "t000"},
        auth=project.auth,
    )
    assert first.status_code == 200 and first.json()["alreadyPresent"] is False
    again = app_client.post(
        f"/api/public/annotation-queues/{qid}/items",
        json={"objectType": "TRACE", "objectId": "t000"},
        auth=project.auth,
    )
    assert again.json()["alreadyPresent"] is True and again.json()["id"] == first.json()["id"]
    missing = app_client.post(
        f"/api/public/annotation-queues/{qid}/items",
        json={"objectType": "TRACE", "objectId": "zzz"},
        auth=project.auth,
    )
    assert missing.status_code == 404
    other = make_project(db, "Other", owner_email="o@example.com")
    seed_traces(app_client, other, 1)
    bulk = app_client.post(
        f"/api/public/annotation-queues/{qid}/items/bulk",
        json={
            "items": [
                {"objectType": "TRACE", "objectId": "t001"},
                {"objectType": "TRACE", "objectId": "t000"},
                {"objectType": "SESSION", "objectId": "s1"},
                {"objectType": "TRACE", "objectId": "nope"},
            ]
        },
        auth=project.auth,
    ).json()
    assert bulk["added"] == 2
    assert bulk["alreadyPresent"] == [{"objectType": "TRACE", "objectId": "t000"}]
    assert bulk["notFound"] == [{"objectType": "TRACE", "objectId": "nope"}]
    filtered = app_client.post(
        f"/api/public/annotation-queues/{qid}/items/from-filter",
        json={"filter": {"userId": "u1"}},
        auth=project.auth,
    ).json()
    assert filtered["added"] == 2  # t003, t005 (t001 already present)
    sampled = app_client.post(
        f"/api/public/annotation-queues/{qid}/items/from-filter",
        json={"filter": {}, "limit": 1},
        auth=project.auth,
    ).json()
    assert sampled["added"] == 1
    items = app_client.get(
        f"/api/public/annotation-queues/{qid}/items", params={"limit": 100}, auth=project.auth
    ).json()
    ids = sorted(i["objectId"] for i in items["data"])
    assert len(ids) == len(set(ids)) == 6
    assert item_counts(app_client, project, qid) == (6, 6)
    removed = app_client.delete(
        f"/api/public/annotation-queues/{qid}/items/{items['data'][0]['id']}", auth=project.auth
    )
    assert removed.status_code == 200, removed.text
    assert item_counts(app_client, project, qid) == (5, 5)
    remaining = [i for i in items["data"][1:] if i["objectType"] == "TRACE"]
    done = app_client.patch(
        f"/api/public/annotation-queues/{qid}/items/{remaining[0]['id']}",
        json={"status": "COMPLETED"},
        auth=project.auth,
    )
    assert done.status_code == 200, done.text

    def listed(**params: str) -> tuple[int, int]:
        """(totalItems of a one-row page, rows really matching, read page by page)."""
        url = f"/api/public/annotation-queues/{qid}/items"
        meta = app_client.get(url, params={**params, "limit": 1}, auth=project.auth).json()
        full = app_client.get(url, params={**params, "limit": 100}, auth=project.auth).json()
        return meta["meta"]["totalItems"], len(full["data"])

    assert listed() == (5, 5)
    assert listed(status="COMPLETED") == (1, 1)
    assert listed(status="PENDING") == (4, 4)
    assert listed(status="PENDING", objectType="TRACE") == (3, 3)
    bad = app_client.post(
        f"/api/public/annotation-queues/{qid}/items/from-filter",
        json={"filter": {"colour": "red"}},
        auth=project.auth,
    )
    assert bad.status_code == 400 and "colour" in bad.json()["message"]


def item_counts(client: TestClient, project: ProjectFixture, qid: str) -> tuple[int, int]:
    """The queue's item count in the queue list and in its progress."""
    listed = client.get("/api/public/annotation-queues", auth=project.auth).json()["data"]
    progress = client.get(f"/api/public/annotation-queues/{qid}/progress", auth=project.auth)
    count = next(q["itemCount"] for q in listed if q["id"] == qid)
    return count, progress.json()["total"]


def test_two_annotators_process_a_queue(
    app_client: TestClient, project: ProjectFixture, setup: dict[str, Any]
) -> None:
    qid = setup["queue"]["id"]
    cfg = setup["configs"]
    app_client.post(
        f"/api/public/annotation-queues/{qid}/items/bulk",
        json={"items": [{"objectType": "TRACE", "objectId": t} for t in setup["traces"][:3]]},
        auth=project.auth,
    )
    done: dict[str, list[str]] = {"ann": [], "bob": []}
    for who in ("ann", "bob"):
        while True:
            response = app_client.post(
                f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup[who])
            )
            assert response.status_code == 200, response.text
            item = response.json()["item"]
            if item is None:
                break
            assert item["object"]["input"].startswith("q")
            assert [c["name"] for c in item["configs"]] == ["quality", "correct"]
            assert item["description"].startswith("# Guidelines")
            again = app_client.post(
                f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup[who])
            ).json()
            assert again["item"]["id"] == item["id"]  # same item while the lease lives
            completed = app_client.post(
                f"/api/public/annotation-queues/{qid}/items/{item['id']}/complete",
                json={
                    "scores": [
                        {"configId": cfg["quality"], "value": 4 if who == "ann" else 2},
                        {"configId": cfg["correct"], "value": True},
                    ],
                    "comment": f"by {who}",
                },
                headers=bearer(setup[who]),
            )
            assert completed.status_code == 200, completed.text
            done[who].append(item["objectId"])
    assert sorted(done["ann"]) == sorted(done["bob"]) == setup["traces"][:3]
    items = app_client.get(f"/api/public/annotation-queues/{qid}/items", auth=project.auth).json()[
        "data"
    ]
    assert all(i["status"] == "COMPLETED" and i["completionCount"] == 2 for i in items)
    assert all(
        sorted(i["completedByUserIds"]) == sorted([setup["ann_id"], setup["bob_id"]]) for i in items
    )
    scores = app_client.get(
        "/api/public/v2/scores",
        params={"traceId": setup["traces"][0], "limit": 50},
        auth=project.auth,
    ).json()["data"]
    quality = sorted(s["value"] for s in scores if s["name"] == "quality")
    assert quality == [2.0, 4.0]
    assert all(s["source"] == "ANNOTATION" and s["queueId"] == qid for s in scores)
    progress = app_client.get(
        f"/api/public/annotation-queues/{qid}/progress", auth=project.auth
    ).json()
    assert (
        progress["total"],
        progress["completed"],
        progress["pending"],
        progress["completions"],
    ) == (3, 3, 0, 6)
    assert {a["email"]: a["completed"] for a in progress["annotators"]} == {
        "ann@example.com": 3,
        "bob@example.com": 3,
    }
    assert all(a["medianSeconds"] is not None for a in progress["annotators"])
    export = app_client.get(f"/api/public/annotation-queues/{qid}/export", auth=project.auth).text
    rows = list(csv.DictReader(io.StringIO(export)))
    assert len(rows) == 6
    assert {(r["annotatorEmail"], r["quality"]) for r in rows} >= {
        ("ann@example.com", "4.0"),
        ("bob@example.com", "2.0"),
    }
    assert {r["correct"] for r in rows} == {"True"}


def test_no_third_annotator_and_skip_and_assignment(
    app_client: TestClient, project: ProjectFixture, setup: dict[str, Any], db: Database
) -> None:
    qid = setup["queue"]["id"]
    cfg = setup["configs"]
    _, cid = make_member(db, project.project, "cid@example.com", Role.ANNOTATOR)
    item = app_client.post(
        f"/api/public/annotation-queues/{qid}/items",
        json={"objectType": "TRACE", "objectId": "t000"},
        auth=project.auth,
    ).json()
    a = app_client.post(
        f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["ann"])
    ).json()["item"]
    b = app_client.post(
        f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["bob"])
    ).json()["item"]
    assert a["id"] == b["id"] == item["id"]
    assert (
        app_client.post(f"/api/public/annotation-queues/{qid}/next", headers=bearer(cid)).json()[
            "item"
        ]
        is None
    )
    full = app_client.post(
        f"/api/public/annotation-queues/{qid}/items/{item['id']}/complete",
        json={"scores": [{"configId": cfg["quality"], "value": 3}]},
        headers=bearer(cid),
    )
    assert full.status_code == 409 and "already has its 2 annotator" in full.json()["message"]
    skip = app_client.post(
        f"/api/public/annotation-queues/{qid}/items/{item['id']}/skip", headers=bearer(setup["bob"])
    )
    assert skip.status_code == 200
    # Bob's skip frees a place for Cid; Bob never gets it again.
    assert (
        app_client.post(f"/api/public/annotation-queues/{qid}/next", headers=bearer(cid)).json()[
            "item"
        ]["id"]
        == item["id"]
    )
    assert (
        app_client.post(
            f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["bob"])
        ).json()["item"]
        is None
    )
    # Assigned items go to their assignee first and to nobody else.
    second = app_client.post(
        f"/api/public/annotation-queues/{qid}/items",
        json={"objectType": "TRACE", "objectId": "t001", "assigneeUserId": setup["bob_id"]},
        auth=project.auth,
    ).json()
    assert (
        app_client.post(
            f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["bob"])
        ).json()["item"]["id"]
        == second["id"]
    )
    assert (
        app_client.post(
            f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["ann"])
        ).json()["item"]["id"]
        == item["id"]
    )


def test_bad_completions(
    app_client: TestClient, project: ProjectFixture, setup: dict[str, Any], db: Database
) -> None:
    qid = setup["queue"]["id"]
    cfg = setup["configs"]
    item = app_client.post(
        f"/api/public/annotation-queues/{qid}/items",
        json={"objectType": "TRACE", "objectId": "t000"},
        auth=project.auth,
    ).json()
    app_client.post(f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["ann"]))
    url = f"/api/public/annotation-queues/{qid}/items/{item['id']}/complete"
    out_of_range = app_client.post(
        url,
        json={"scores": [{"configId": cfg["quality"], "value": 9}]},
        headers=bearer(setup["ann"]),
    )
    assert (
        out_of_range.status_code == 400 and "above the maximum 5" in out_of_range.json()["message"]
    )
    other_cfg = app_client.post(
        "/api/public/score-configs", json={"name": "other", "dataType": "TEXT"}, auth=project.auth
    ).json()["id"]
    not_in_queue = app_client.post(
        url, json={"scores": [{"configId": other_cfg, "value": "x"}]}, headers=bearer(setup["ann"])
    )
    assert (
        not_in_queue.status_code == 400
        and "not one of this queue's" in not_in_queue.json()["message"]
    )
    too_long = app_client.post(
        url,
        json={"scores": [{"configId": cfg["quality"], "value": 3}], "comment": "x" * 5001},
        headers=bearer(setup["ann"]),
    )
    assert too_long.status_code == 400
    assert too_long.json()["message"] == "comment: at most 5000 characters"
    # Nothing was written by the failed attempts.
    assert app_client.get("/api/public/v2/scores", auth=project.auth).json()["data"] == []
    key_next = app_client.post(f"/api/public/annotation-queues/{qid}/next", auth=project.auth)
    assert key_next.status_code == 403 and "personal access token" in key_next.json()["message"]
    _, viewer = make_member(db, project.project, "v@example.com", Role.VIEWER)
    assert (
        app_client.post(
            f"/api/public/annotation-queues/{qid}/next", headers=bearer(viewer)
        ).status_code
        == 403
    )
    foreign = make_project(db, "Other", owner_email="o@example.com")
    assert (
        app_client.get(f"/api/public/annotation-queues/{qid}", auth=foreign.auth).status_code == 404
    )
    shrink = app_client.patch(
        f"/api/public/annotation-queues/{qid}", json={"annotatorsPerItem": 30}, auth=project.auth
    )
    assert shrink.status_code == 400
    archived = app_client.delete(f"/api/public/annotation-queues/{qid}", auth=project.auth)
    assert archived.json()["archived"] is True
    edit = app_client.patch(
        f"/api/public/annotation-queues/{qid}", json={"name": "New"}, auth=project.auth
    )
    assert edit.status_code == 409 and "archived" in edit.json()["message"]


def test_members_limit_who_may_work(
    app_client: TestClient, project: ProjectFixture, setup: dict[str, Any]
) -> None:
    qid = setup["queue"]["id"]
    app_client.post(
        f"/api/public/annotation-queues/{qid}/items",
        json={"objectType": "TRACE", "objectId": "t000"},
        auth=project.auth,
    )
    assigned = app_client.post(
        f"/api/public/annotation-queues/{qid}/assignments",
        json={"email": "ann@example.com"},
        auth=project.auth,
    )
    assert assigned.status_code == 200 and assigned.json()["userId"] == setup["ann_id"]
    assert (
        app_client.post(
            f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["ann"])
        ).json()["item"]
        is not None
    )
    refused = app_client.post(
        f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["bob"])
    )
    assert refused.status_code == 403 and "not a member of this queue" in refused.json()["message"]
    listing = app_client.get("/api/public/annotation-queues", headers=bearer(setup["ann"])).json()
    assert listing["data"][0]["assignedToMe"] is True


def test_lease_expiry_frees_the_place_and_heartbeat_keeps_it(
    app_client: TestClient, project: ProjectFixture, setup: dict[str, Any], db: Database
) -> None:
    qid = setup["queue"]["id"]
    app_client.patch(
        f"/api/public/annotation-queues/{qid}",
        json={"annotatorsPerItem": 1, "leaseSeconds": 10},
        auth=project.auth,
    )
    item = app_client.post(
        f"/api/public/annotation-queues/{qid}/items",
        json={"objectType": "TRACE", "objectId": "t000"},
        auth=project.auth,
    ).json()
    assert (
        app_client.post(
            f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["ann"])
        ).json()["item"]["id"]
        == item["id"]
    )
    assert (
        app_client.post(
            f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["bob"])
        ).json()["item"]
        is None
    )
    beat = app_client.post(
        f"/api/public/annotation-queues/{qid}/items/{item['id']}/heartbeat",
        headers=bearer(setup["ann"]),
    )
    assert beat.status_code == 200 and beat.json()["leaseExpiresAt"]
    # Let Ann's lease run out (move it into the past, as time passing would).
    from sqlalchemy import text

    with db.write() as session:
        session.execute(
            text("UPDATE annotation_queue_work SET lease_expires_at = :t"),
            {"t": __import__("datetime").datetime(2000, 1, 1, tzinfo=__import__("datetime").UTC)},
        )
    assert (
        app_client.post(
            f"/api/public/annotation-queues/{qid}/next", headers=bearer(setup["bob"])
        ).json()["item"]["id"]
        == item["id"]
    )
    late = app_client.post(
        f"/api/public/annotation-queues/{qid}/items/{item['id']}/heartbeat",
        headers=bearer(setup["ann"]),
    )
    assert late.status_code == 409
