"""Queue pages and processing in the browser UI, in-process, on both engines."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture, make_member
from tests.queue_world import (
    QueueWorld,
    form_csrf,
    ingestion_batch,
    make_world,
    meta_csrf,
)
from tracemark.db.engine import Database
from tracemark.db.models import Role, ScoreSource
from tracemark.services import queue_work, queues, scores


def login(app_client: TestClient, email: str, password: str) -> TestClient:
    """A new client (own cookies) on the same app, logged in as `email`."""
    client = TestClient(app_client.app, follow_redirects=False)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "next": "/",
            "csrf_token": form_csrf(page.text),
        },
    )
    assert response.status_code == 303, response.text
    return client


def ingest(client: TestClient, project: ProjectFixture, batch: dict[str, Any]) -> None:
    response = client.post("/api/public/ingestion", json=batch, auth=project.auth)
    assert response.status_code == 207, response.text
    assert not response.json()["errors"]


@pytest.fixture
def world(app_client: TestClient, project: ProjectFixture, db: Database) -> QueueWorld:
    ingest(app_client, project, ingestion_batch(4, xss=True))
    return make_world(
        db,
        project,
        ["t0", "t1", "t2", "t3", "t-xss"],
        members_only=True,
        description=(
            "# Guidelines\nBe **strict**. <script>alert('guidelines')</script>\n\n"
            "- check [the policy](https://example.com/policy)\n- never [this](javascript:alert(1))"
        ),
        priority={"t-xss": 10, "t0": 5},
    )


def urls(world: QueueWorld) -> dict[str, str]:
    queue = f"/project/{world.project_id}/annotation-queues/{world.queue_id}"
    return {
        "list": f"/project/{world.project_id}/annotation-queues",
        "queue": queue,
        "process": queue + "/process",
        "next": queue + "/process/next",
        "items": queue + "/process/items",
    }


def item_id_of(html: str) -> str | None:
    match = re.search(r'data-item-id="([^"]+)"', html)
    return match.group(1) if match else None


def post_json(client: TestClient, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json=body or {}, headers={"X-CSRF-Token": token})


def test_queue_list_puts_my_queues_first(
    app_client: TestClient, project: ProjectFixture, db: Database, world: QueueWorld
) -> None:
    with db.write() as session:
        queues.create_queue(
            session,
            project.project.id,
            {"name": "Open to all", "scoreConfigIds": [world.configs["quality"]]},
        )
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["list"])
    assert page.status_code == 200
    html = page.text
    # The newer "Open to all" queue would come first by date; Ann's own queue comes first.
    assert html.index("Support review") < html.index("Open to all")
    assert "assigned to me" in html
    assert '<progress value="0" max="5"' in html
    assert f'href="{urls(world)["process"]}"' in html
    assert 'aria-current="page">Annotation queues</a>' in html


def test_queue_page_shows_guidelines_safely_and_filters_items(
    app_client: TestClient, world: QueueWorld
) -> None:
    ann = login(app_client, "ann@example.com", "member-password")
    html = ann.get(urls(world)["queue"]).text
    assert "<h3>Guidelines</h3>" in html
    assert "<strong>strict</strong>" in html
    assert "<script>alert('guidelines')</script>" not in html
    assert "&lt;script&gt;alert(&#39;guidelines&#39;)&lt;/script&gt;" in html
    assert '<a href="https://example.com/policy" rel="noopener noreferrer nofollow">' in html
    assert 'href="javascript:' not in html
    assert html.count('<span class="status status-pending">') == 5
    assert "Process queue" in html
    assert f'href="{urls(world)["queue"]}/export.csv"' in html
    done = ann.get(urls(world)["queue"], params={"status": "COMPLETED"}).text
    assert "No items match these filters." in done
    bad = ann.get(urls(world)["queue"], params={"status": "MAYBE"})
    assert bad.status_code == 400 and "status: must be PENDING or COMPLETED" in bad.text


def test_trace_content_is_rendered_inert(app_client: TestClient, world: QueueWorld) -> None:
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"])
    assert page.status_code == 200
    html = page.text
    assert "t-xss" in html  # the highest-priority item is leased first
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x onerror" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<iframe" not in html and "&lt;iframe" in html
    assert "<script>alert(&#39;name&#39;)" not in html and "<script>alert('name')" not in html
    assert 'href="javascript:' not in html
    assert "<b>key</b>" not in html and "&lt;b&gt;key&lt;/b&gt;" in html
    # Scripts only from our origin, never inline.
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/app.js" defer>',
        '<script src="/static/detail.js" defer>',
        '<script src="/static/process.js" defer>',
    ]


def test_chat_input_renders_as_a_conversation(
    app_client: TestClient, world: QueueWorld, db: Database
) -> None:
    ann = login(app_client, "ann@example.com", "member-password")
    first = ann.get(urls(world)["process"]).text
    token = meta_csrf(first)
    skipped = post_json(ann, f"{urls(world)['items']}/{item_id_of(first)}/skip", token)
    assert skipped.status_code == 200
    html = skipped.json()["html"]
    assert '<li class="msg msg-system">' in html and '<li class="msg msg-user">' in html
    assert '<li class="msg msg-assistant">' in html
    assert "My invoice is wrong.\nCan you fix it?" in html
    assert f'href="/project/{world.project_id}/traces/t0"' in html
    assert skipped.json()["progress"]["mineSkipped"] == 1


def test_complete_saves_scores_and_returns_the_next_item(
    app_client: TestClient, world: QueueWorld, db: Database
) -> None:
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    token = meta_csrf(page)
    item_id = item_id_of(page)
    assert item_id
    # Every config has a control of its kind.
    assert 'type="number" step="any"' in page and 'min="1"' in page and 'max="5"' in page
    assert page.count('type="radio"') == 3 + 2
    assert "<textarea" in page
    body = {
        "scores": [
            {"configId": world.configs["tone"], "value": "rude"},
            {"configId": world.configs["correct"], "value": 0},
            {"configId": world.configs["quality"], "value": 2},
            {"configId": world.configs["notes"], "value": "contains markup"},
        ],
        "comment": "Odd trace.",
    }
    done = post_json(ann, f"{urls(world)['items']}/{item_id}/complete", token, body)
    assert done.status_code == 200, done.text
    data = done.json()
    assert data["done"] is False and data["itemId"] and data["itemId"] != item_id
    assert item_id_of(data["html"]) == data["itemId"]
    assert 'id="item-panel"' in data["html"] and 'id="score-form"' in data["html"]
    assert data["progress"]["mineCompleted"] == 1
    assert data["progress"]["completions"] == 1
    with db.read() as session:
        item = queues.get_item(session, world.project_id, world.queue_id, item_id)
        saved = queue_work.my_scores(session, world.project_id, item, world.annotators[0].user.id)
        by_name = {s.name: s for s in saved}
        assert set(by_name) == {"tone", "correct", "quality", "notes"}
        assert all(s.source == ScoreSource.ANNOTATION.value for s in saved)
        assert by_name["tone"].string_value == "rude" and by_name["tone"].value == 0
        assert by_name["correct"].value == 0 and by_name["quality"].value == 2
        assert by_name["notes"].string_value == "contains markup"
        assert all(s.queue_id == world.queue_id for s in saved)
        assert item.completion_count == 1
        assert scores.scores_for_trace(session, world.project_id, "t-xss")


def test_complete_rejects_bad_values_with_a_message(
    app_client: TestClient, world: QueueWorld, db: Database
) -> None:
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    token, item_id = meta_csrf(page), item_id_of(page)
    url = f"{urls(world)['items']}/{item_id}/complete"
    high = post_json(
        ann, url, token, {"scores": [{"configId": world.configs["quality"], "value": 9}]}
    )
    assert high.status_code == 400
    assert "above the maximum 5" in high.json()["message"]
    empty = post_json(ann, url, token, {"scores": []})
    assert empty.status_code == 400 and "at least one score" in empty.json()["message"]
    with db.read() as session:
        assert (
            queues.get_item(
                session, world.project_id, world.queue_id, str(item_id)
            ).completion_count
            == 0
        )


def test_json_endpoints_need_the_csrf_header(app_client: TestClient, world: QueueWorld) -> None:
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    item_id = item_id_of(page)
    complete = f"{urls(world)['items']}/{item_id}/complete"
    body = {"scores": [{"configId": world.configs["quality"], "value": 3}]}
    assert ann.post(complete, json=body).status_code == 403
    assert ann.post(complete, json=body, headers={"X-CSRF-Token": "f" * 64}).status_code == 403
    assert ann.post(urls(world)["next"], json={}).status_code == 403
    # Another user's token is no good either.
    bob = login(app_client, "bob@example.com", "member-password")
    bob_token = meta_csrf(bob.get(urls(world)["list"]).text)
    assert post_json(ann, complete, bob_token, body).status_code == 403
    assert post_json(ann, complete, meta_csrf(page), body).status_code == 200


def test_viewer_sees_queues_but_cannot_process(app_client: TestClient, world: QueueWorld) -> None:
    vic = login(app_client, "vic@example.com", "member-password")
    listing = vic.get(urls(world)["list"])
    assert listing.status_code == 200 and "Support review" in listing.text
    assert "/process" not in listing.text
    queue_page = vic.get(urls(world)["queue"])
    assert queue_page.status_code == 200 and "/process" not in queue_page.text
    page = vic.get(urls(world)["process"])
    assert page.status_code == 403
    assert "VIEWER may not process annotation queues" in page.text
    assert "Back to the queue" in page.text
    token = meta_csrf(queue_page.text)
    refused = post_json(vic, urls(world)["next"], token)
    assert refused.status_code == 403
    assert "may not process annotation queues" in refused.json()["message"]


def test_non_member_gets_a_clear_page(
    app_client: TestClient, project: ProjectFixture, db: Database, world: QueueWorld
) -> None:
    make_member(db, project.project, "carol@example.com", Role.ANNOTATOR)
    carol = login(app_client, "carol@example.com", "member-password")
    assert "/process" not in carol.get(urls(world)["list"]).text
    page = carol.get(urls(world)["process"])
    assert page.status_code == 403 and "not a member of this queue" in page.text


def test_outsiders_get_404(app_client: TestClient, db: Database, world: QueueWorld) -> None:
    from tracemark.services import accounts

    with db.write() as session:
        accounts.create_user(session, email="out@example.com", name="Out", password="outsider-pw")
    out = login(app_client, "out@example.com", "outsider-pw")
    for url in (urls(world)["list"], urls(world)["queue"], urls(world)["process"]):
        assert out.get(url).status_code == 404
    token = meta_csrf(out.get("/").text)
    assert post_json(out, urls(world)["next"], token).status_code == 404


def test_both_annotators_finish_and_see_the_done_state(
    app_client: TestClient, world: QueueWorld, db: Database
) -> None:
    for person in world.annotators:
        client = login(app_client, person.email, person.password)
        page = client.get(urls(world)["process"]).text
        token, item_id = meta_csrf(page), item_id_of(page)
        data: dict[str, Any] = {}
        for _ in range(len(world.trace_ids)):
            body = {"scores": [{"configId": world.configs["correct"], "value": 1}]}
            response = post_json(client, f"{urls(world)['items']}/{item_id}/complete", token, body)
            assert response.status_code == 200, response.text
            data = response.json()
            item_id = data["itemId"]
        assert data["done"] is True and item_id is None
        assert "You are done with this queue" in data["html"]
        assert data["progress"]["mineCompleted"] == len(world.trace_ids)
        # The page itself shows the done state too.
        assert "You are done with this queue" in client.get(urls(world)["process"]).text
    with db.read() as session:
        progress = queue_work.progress(session, world.project_id, world.queue_id)
        assert progress.completed == progress.total == len(world.trace_ids)
    ann = login(app_client, "ann@example.com", "member-password")
    html = ann.get(urls(world)["queue"]).text
    assert html.count('<span class="status status-completed">') == 5
    assert '<progress value="5" max="5"' in html
    assert "ann@example.com" in html and "bob@example.com" in html
    export = ann.get(urls(world)["queue"] + "/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 2 * len(world.trace_ids)
    assert {r["annotatorEmail"] for r in rows} == {"ann@example.com", "bob@example.com"}
    assert {r["correct"] for r in rows} == {"True"}
    jsonl = ann.get(urls(world)["queue"] + "/export.jsonl")
    assert jsonl.status_code == 200 and len(jsonl.text.splitlines()) == 2 * len(world.trace_ids)
    assert ann.get(urls(world)["queue"] + "/export.xml").status_code == 400


def test_heartbeat_extends_my_lease_only(app_client: TestClient, world: QueueWorld) -> None:
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    token, item_id = meta_csrf(page), item_id_of(page)
    beat = post_json(ann, f"{urls(world)['items']}/{item_id}/heartbeat", token)
    assert beat.status_code == 200 and beat.json()["leaseExpiresAt"]
    bob = login(app_client, "bob@example.com", "member-password")
    bob_token = meta_csrf(bob.get(urls(world)["list"]).text)
    refused = post_json(bob, f"{urls(world)['items']}/{item_id}/heartbeat", bob_token)
    assert refused.status_code == 409 and "no lease" in refused.json()["message"]


def test_project_page_lists_queues_with_process(app_client: TestClient, world: QueueWorld) -> None:
    ann = login(app_client, "ann@example.com", "member-password")
    html = ann.get(f"/project/{world.project_id}").text
    assert "Support review" in html and f'href="{urls(world)["process"]}"' in html
    vic = login(app_client, "vic@example.com", "member-password")
    html = vic.get(f"/project/{world.project_id}").text
    assert "Support review" in html and "/process" not in html


def test_session_and_observation_items_render(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    batch = ingestion_batch(3)
    batch["batch"].append(
        {
            "id": "ev-gen",
            "type": "generation-create",
            "timestamp": "2026-11-20T10:00:05Z",
            "body": {
                "id": "gen-1",
                "traceId": "t1",
                "name": "llm-call",
                "model": "gpt-4o",
                "startTime": "2026-11-20T10:00:05Z",
                "input": [{"role": "user", "content": "Where is <b>my</b> order?"}],
                "output": {"role": "assistant", "content": "On its way."},
            },
        }
    )
    ingest(app_client, project, batch)
    world = make_world(db, project, [], annotators_per_item=1)
    with db.write() as session:
        queues.add_items(
            session,
            world.project_id,
            world.queue_id,
            [
                queues.ObjectRef("SESSION", "s1", priority=2),
                queues.ObjectRef("OBSERVATION", "gen-1"),
            ],
        )
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    assert "Turn 1 · answer" in page and "Turn 2 · answer" in page
    assert "Open session" in page and f"/project/{world.project_id}/sessions/s1" in page
    body = {"scores": [{"configId": world.configs["quality"], "value": 4}]}
    data = post_json(
        ann, f"{urls(world)['items']}/{item_id_of(page)}/complete", meta_csrf(page), body
    ).json()
    html = data["html"]
    assert "llm-call" in html and "gpt-4o" in html
    assert "Where is &lt;b&gt;my&lt;/b&gt; order?" in html
    assert f"/project/{world.project_id}/traces/t1?observation=gen-1" in html
    with db.read() as session:
        saved = [
            s
            for s in scores.scores_for_trace(session, world.project_id, "t1")
            if s.observation_id == "gen-1"
        ]
        assert saved == []  # not scored yet: the session item was scored, on the session
        item = queues.list_items(
            session, world.project_id, world.queue_id, queues.ItemFilter(object_type="SESSION")
        )[0][0]
        stored = queue_work.my_scores(session, world.project_id, item, world.annotators[0].user.id)
        assert [(s.name, s.value, s.session_id) for s in stored] == [("quality", 4.0, "s1")]
