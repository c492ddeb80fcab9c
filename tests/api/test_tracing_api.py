"""Langfuse batch ingestion and the trace read API, in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture, make_member, make_project
from tracemark.api.deps import INLINE_INGEST_MAX_BYTES
from tracemark.app import create_app
from tracemark.config import Settings
from tracemark.db.engine import Database
from tracemark.db.models import Role


def event(event_id: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": kind, "timestamp": "2026-11-20T10:00:00Z", "body": body}


def support_batch(
    trace_id: str = "tr-1", user: str = "u-1", tags: list[str] | None = None
) -> dict[str, Any]:
    return {
        "batch": [
            event(
                f"{trace_id}-e1",
                "trace-create",
                {
                    "id": trace_id,
                    "timestamp": "2026-11-20T10:00:00Z",
                    "name": "support-chat",
                    "userId": user,
                    "sessionId": "sess-1",
                    "tags": tags or ["web"],
                    "metadata": {"channel": "chat"},
                    "input": {"question": "Where is my order?"},
                    "release": "r1",
                    "version": "v1",
                    "environment": "production",
                },
            ),
            event(
                f"{trace_id}-e2",
                "span-create",
                {
                    "id": f"{trace_id}-span",
                    "traceId": trace_id,
                    "name": "retrieve",
                    "startTime": "2026-11-20T10:00:00.100Z",
                    "endTime": "2026-11-20T10:00:00.400Z",
                },
            ),
            event(
                f"{trace_id}-e3",
                "generation-create",
                {
                    "id": f"{trace_id}-gen",
                    "traceId": trace_id,
                    "name": "answer",
                    "parentObservationId": f"{trace_id}-span",
                    "model": "gpt-4o",
                    "startTime": "2026-11-20T10:00:00.500Z",
                    "input": [{"role": "user", "content": "Where is my order?"}],
                },
            ),
            event(
                f"{trace_id}-e4",
                "generation-update",
                {
                    "id": f"{trace_id}-gen",
                    "traceId": trace_id,
                    "endTime": "2026-11-20T10:00:02.500Z",
                    "output": {"role": "assistant", "content": "It ships today."},
                    "usageDetails": {"input": 100, "output": 20},
                    "costDetails": {"input": 0.001, "output": 0.002, "total": 0.003},
                },
            ),
            event(
                f"{trace_id}-e5",
                "trace-create",
                {"id": trace_id, "output": {"answer": "It ships today."}},
            ),
        ]
    }


def post(client: TestClient, project: ProjectFixture, payload: Any) -> Any:
    return client.post("/api/public/ingestion", json=payload, auth=project.auth)


def test_batch_is_stored_and_read_back(app_client: TestClient, project: ProjectFixture) -> None:
    response = post(app_client, project, support_batch())
    assert response.status_code == 207
    assert response.json()["errors"] == []
    assert {s["id"] for s in response.json()["successes"]} == {f"tr-1-e{i}" for i in range(1, 6)}

    trace = app_client.get("/api/public/traces/tr-1", auth=project.auth).json()
    assert trace["name"] == "support-chat"
    assert trace["userId"] == "u-1" and trace["sessionId"] == "sess-1"
    assert trace["tags"] == ["web"] and trace["metadata"] == {"channel": "chat"}
    assert trace["input"] == {"question": "Where is my order?"}
    assert trace["output"] == {"answer": "It ships today."}
    assert trace["timestamp"] == "2026-11-20T10:00:00.000Z"
    assert trace["latency"] == pytest.approx(2.4)
    assert trace["totalCost"] == pytest.approx(0.003)
    assert trace["htmlPath"] == f"/project/{project.project.id}/traces/tr-1"
    by_id = {o["id"]: o for o in trace["observations"]}
    gen = by_id["tr-1-gen"]
    assert gen["type"] == "GENERATION" and gen["model"] == "gpt-4o"
    assert gen["parentObservationId"] == "tr-1-span"
    assert gen["usageDetails"] == {"input": 100, "output": 20}
    assert gen["usage"]["input"] == 100 and gen["usage"]["total"] == 120
    assert gen["costDetails"] == {"input": 0.001, "output": 0.002, "total": 0.003}
    assert gen["output"] == {"role": "assistant", "content": "It ships today."}
    assert gen["latency"] == pytest.approx(2.0)


def test_resent_batch_does_not_duplicate(app_client: TestClient, project: ProjectFixture) -> None:
    for _ in range(3):
        assert post(app_client, project, support_batch()).status_code == 207
    listing = app_client.get("/api/public/traces", auth=project.auth).json()
    assert listing["meta"]["totalItems"] == 1
    assert len(listing["data"][0]["observations"]) == 2
    assert listing["data"][0]["tags"] == ["web"]
    observations = app_client.get("/api/public/observations", auth=project.auth).json()
    assert observations["meta"]["totalItems"] == 2


def test_mixed_batch_keeps_the_good_events(app_client: TestClient, project: ProjectFixture) -> None:
    payload = support_batch()
    payload["batch"].append(event("bad-1", "span-create", {"id": "x", "name": "no trace id"}))
    payload["batch"].append(event("bad-2", "unknown-type", {"id": "y"}))
    payload["batch"].append(
        event("bad-3", "span-create", {"id": "z", "traceId": "tr-1", "level": "LOUD"})
    )
    response = post(app_client, project, payload)
    assert response.status_code == 207
    errors = {e["id"]: e for e in response.json()["errors"]}
    assert set(errors) == {"bad-1", "bad-2", "bad-3"}
    assert all(e["status"] == 400 and e["message"] for e in errors.values())
    assert "traceId" in errors["bad-1"]["message"]
    assert "level" in errors["bad-3"]["message"]
    assert app_client.get("/api/public/traces/tr-1", auth=project.auth).status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"", "application/json", "empty"),
        (b'{"batch": 3}', "application/json", "batch"),
        (b"[1, 2]", "application/json", "batch"),
    ],
)
def test_bad_batches_are_400(
    app_client: TestClient, project: ProjectFixture, body: bytes, content_type: str, message: str
) -> None:
    response = app_client.post(
        "/api/public/ingestion",
        content=body,
        headers={"content-type": content_type},
        auth=project.auth,
    )
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_list_filters(app_client: TestClient, project: ProjectFixture) -> None:
    post(app_client, project, support_batch("a", user="alice", tags=["web", "vip"]))
    post(app_client, project, support_batch("b", user="bob", tags=["mobile"]))
    auth = project.auth

    def ids(**params: Any) -> list[str]:
        response = app_client.get("/api/public/traces", params=params, auth=auth)
        assert response.status_code == 200, response.text
        return sorted(t["id"] for t in response.json()["data"])

    assert ids() == ["a", "b"]
    assert ids(userId="alice") == ["a"]
    assert ids(tags="vip") == ["a"]
    assert ids(tags=["web", "vip"]) == ["a"]
    assert ids(tags="mobile") == ["b"]
    assert ids(name="support-chat") == ["a", "b"]
    assert ids(sessionId="sess-1") == ["a", "b"]
    assert ids(fromTimestamp="2026-11-21T00:00:00Z") == []
    assert ids(toTimestamp="2026-11-21T00:00:00Z") == ["a", "b"]
    assert ids(release="r1", version="v1", environment="production") == ["a", "b"]
    page = app_client.get("/api/public/traces", params={"limit": 1, "page": 2}, auth=auth).json()
    assert page["meta"] == {"page": 2, "limit": 1, "totalItems": 2, "totalPages": 2}
    bad = app_client.get("/api/public/traces", params={"orderBy": "nope.desc"}, auth=auth)
    assert bad.status_code == 400 and "orderBy" in bad.json()["message"]
    assert app_client.get("/api/public/traces", params={"limit": 0}, auth=auth).status_code == 400


def test_observations_cursor_pages_through_everything(
    app_client: TestClient, project: ProjectFixture
) -> None:
    for name in "abc":
        post(app_client, project, support_batch(name))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = app_client.get(
            "/api/public/v2/observations", params=params, auth=project.auth
        ).json()
        seen += [o["id"] for o in page["data"]]
        cursor = page["meta"]["cursor"]
        if not cursor:
            break
    assert len(seen) == 6 and len(set(seen)) == 6
    gens = app_client.get(
        "/api/public/observations", params={"type": "GENERATION"}, auth=project.auth
    )
    assert gens.json()["meta"]["totalItems"] == 3


def test_sessions(app_client: TestClient, project: ProjectFixture) -> None:
    post(app_client, project, support_batch("a"))
    post(app_client, project, support_batch("b"))
    listing = app_client.get("/api/public/sessions", auth=project.auth).json()
    assert [s["id"] for s in listing["data"]] == ["sess-1"]
    detail = app_client.get("/api/public/sessions/sess-1", auth=project.auth).json()
    assert [t["id"] for t in detail["traces"]] == ["a", "b"]
    assert app_client.get("/api/public/sessions/nope", auth=project.auth).status_code == 404


def test_delete_traces(app_client: TestClient, project: ProjectFixture) -> None:
    for name in "abc":
        post(app_client, project, support_batch(name))
    assert app_client.delete("/api/public/traces/a", auth=project.auth).status_code == 200
    assert app_client.get("/api/public/traces/a", auth=project.auth).status_code == 404
    assert app_client.get("/api/public/observations/a-gen", auth=project.auth).status_code == 404
    response = app_client.request(
        "DELETE", "/api/public/traces", json={"traceIds": ["b", "c"]}, auth=project.auth
    )
    assert response.status_code == 200
    assert app_client.get("/api/public/traces", auth=project.auth).json()["data"] == []
    assert app_client.delete("/api/public/traces/zzz", auth=project.auth).status_code == 404


def test_other_projects_see_nothing(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    post(app_client, project, support_batch())
    other = make_project(db, "Other", owner_email="other@example.com")
    assert app_client.get("/api/public/traces", auth=other.auth).json()["data"] == []
    assert app_client.get("/api/public/traces/tr-1", auth=other.auth).status_code == 404
    assert app_client.get("/api/public/observations/tr-1-gen", auth=other.auth).status_code == 404
    assert app_client.delete("/api/public/traces/tr-1", auth=other.auth).status_code == 404
    assert app_client.get("/api/public/traces/tr-1", auth=project.auth).status_code == 200


def test_roles_on_ingestion_and_delete(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    _, viewer = make_member(db, project.project, "viewer@example.com", Role.VIEWER)
    headers = {"Authorization": f"Bearer {viewer}"}
    denied = app_client.post("/api/public/ingestion", json=support_batch(), headers=headers)
    assert denied.status_code == 403 and "VIEWER" in denied.json()["message"]
    post(app_client, project, support_batch())
    assert app_client.get("/api/public/traces/tr-1", headers=headers).status_code == 200
    assert app_client.delete("/api/public/traces/tr-1", headers=headers).status_code == 403


def test_model_prices(app_client: TestClient, project: ProjectFixture) -> None:
    created = app_client.post(
        "/api/public/models",
        json={
            "modelName": "my-llm",
            "matchPattern": "(?i)^my-llm$",
            "inputPrice": 0.01,
            "outputPrice": 0.02,
        },
        auth=project.auth,
    )
    assert created.status_code == 200, created.text
    bad = app_client.post(
        "/api/public/models", json={"modelName": "x", "matchPattern": "("}, auth=project.auth
    )
    assert bad.status_code == 400 and "matchPattern" in bad.json()["message"]
    payload = support_batch()
    gen_event = payload["batch"][3]["body"]
    del gen_event["costDetails"]
    payload["batch"][2]["body"]["model"] = "my-llm"
    post(app_client, project, payload)
    gen = app_client.get("/api/public/observations/tr-1-gen", auth=project.auth).json()
    assert gen["costDetails"] == {
        "input": pytest.approx(1.0),
        "output": pytest.approx(0.4),
        "total": pytest.approx(1.4),
    }
    listing = app_client.get("/api/public/models", auth=project.auth).json()
    assert listing["data"][0]["modelName"] == "my-llm"
    assert any(m["isLangfuseManaged"] for m in listing["data"])


def test_a_server_of_several_workers_stores_small_and_large_batches(
    settings: Settings, db: Database, project: ProjectFixture
) -> None:
    """Several workers: bodies up to 2 MB are stored on the event loop, larger ones in a thread;
    both answer only once committed."""
    app = create_app(settings.model_copy(update={"workers": 2}), db)
    large = {
        "batch": [
            event(
                f"big-{n}",
                "span-create",
                {
                    "id": f"big-span-{n}",
                    "traceId": "tr-big",
                    "name": "chunk",
                    "input": "x" * 10_000,
                },
            )
            for n in range(300)
        ]
    }
    assert len(json.dumps(large)) > INLINE_INGEST_MAX_BYTES > len(json.dumps(support_batch()))
    with TestClient(app) as client:
        assert post(client, project, support_batch()).json()["errors"] == []
        assert post(client, project, large).json()["errors"] == []
        small_trace = client.get("/api/public/traces/tr-1", auth=project.auth).json()
        big_trace = client.get("/api/public/traces/tr-big", auth=project.auth).json()
    assert small_trace["output"] == {"answer": "It ships today."}
    assert len(small_trace["observations"]) == 2
    assert len(big_trace["observations"]) == 300
    assert {len(o["input"]) for o in big_trace["observations"]} == {10_000}


def test_ids_holding_a_slash_are_read_and_deleted(
    app_client: TestClient, project: ProjectFixture
) -> None:
    payload = {
        "batch": [
            event("e1", "trace-create", {"id": "chat/42", "name": "slashed", "sessionId": "s/1"}),
            event("e2", "span-create", {"id": "step/1", "traceId": "chat/42", "name": "step"}),
        ]
    }
    assert post(app_client, project, payload).json()["errors"] == []
    trace = app_client.get("/api/public/traces/chat%2F42", auth=project.auth)
    assert trace.status_code == 200
    assert trace.json()["id"] == "chat/42" and trace.json()["name"] == "slashed"
    observation = app_client.get("/api/public/observations/step%2F1", auth=project.auth).json()
    assert observation["id"] == "step/1" and observation["traceId"] == "chat/42"
    session = app_client.get("/api/public/sessions/s%2F1", auth=project.auth).json()
    assert session["id"] == "s/1" and [t["id"] for t in session["traces"]] == ["chat/42"]
    deleted = app_client.delete("/api/public/traces/chat%2F42", auth=project.auth)
    assert deleted.status_code == 200
    assert app_client.get("/api/public/traces/chat%2F42", auth=project.auth).status_code == 404
