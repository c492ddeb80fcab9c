"""The process page's Detailed view, blind mode in both views, and Previous / forward."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture
from tests.detail_world import tree_batch
from tests.queue_world import QueueWorld, make_world, meta_csrf
from tests.web.test_queue_pages import ingest, item_id_of, login, post_json, urls
from tests.web.test_trace_pages import text_of, tree_rows
from tracemark.db.engine import Database
from tracemark.services import accounts, credentials, queues, scores


def world_of(
    app_client: TestClient, project: ProjectFixture, db: Database, *, blind: bool
) -> QueueWorld:
    ingest(app_client, project, tree_batch())
    world = make_world(db, project, ["tr-1", "tr-2"], annotators_per_item=2, priority={"tr-1": 5})
    with db.write() as session:
        queues.update_queue(session, world.project_id, world.queue_id, {"blind": blind})
    return world


def scores_panel(html: str) -> str:
    match = re.search(r'<div id="p-panel-scores".*?</div>\s*</div>', html, re.S)
    assert match, "no Scores tab in the Detailed view"
    return text_of(match.group(0))


def complete(client: TestClient, world: QueueWorld, html: str, body: dict[str, Any]) -> Any:
    url = f"{urls(world)['items']}/{item_id_of(html)}/complete"
    response = post_json(client, url, meta_csrf(html), body)
    assert response.status_code == 200, response.text
    return response.json()


def test_detailed_view_shows_the_whole_trace(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    world = world_of(app_client, project, db, blind=False)
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    assert '<div class="view-focused">' in page and '<div class="view-detailed">' in page
    assert [r.split(" ")[1] for r in tree_rows(page)][:3] == [
        "support-agent",
        "agent-loop",
        "lookup-invoice",
    ]
    assert "Latency 4.00 s" in text_of(page) and 'id="p-tab-scores"' in page
    # The toggle and its key are on the page and in the shortcuts list.
    assert 'data-view="detailed"' in page and "<kbd>D</kbd>" in page
    assert 'data-action="previous"' in page and "<kbd>P</kbd>" in page
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/app.js" defer>',
        '<script src="/static/detail.js" defer>',
        '<script src="/static/process.js" defer>',
    ]


def test_blind_queue_hides_other_scores_in_both_views_until_completed(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    world = world_of(app_client, project, db, blind=True)
    bob = login(app_client, "bob@example.com", "member-password")
    bob_page = bob.get(urls(world)["process"]).text
    first_item = item_id_of(bob_page)
    bob_note = "Bob thinks this is wrong"
    complete(
        bob,
        world,
        bob_page,
        {"scores": [{"configId": world.configs["notes"], "value": bob_note}], "comment": "x"},
    )
    with db.write() as session:  # an evaluator's score as well
        scores.write_scores(
            session,
            world.project_id,
            [
                scores.ScoreInput(
                    {"traceId": "tr-1", "name": "judge", "value": 0.1, "source": "EVAL"}
                )
            ],
            scores.Actor(key_id="k"),
        )
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    assert item_id_of(page) == first_item
    assert bob_note not in page and "judge" not in scores_panel(page)
    assert "Blind queue" in page
    assert "Open trace" not in page  # the trace page would show everyone's scores
    data = complete(
        ann, world, page, {"scores": [{"configId": world.configs["quality"], "value": 3}]}
    )
    assert bob_note not in data["html"]
    # Back on the item she completed: now everyone's scores are shown.
    back = post_json(
        ann, urls(world)["process"] + "/previous", meta_csrf(page), {"itemId": data["itemId"]}
    )
    assert back.status_code == 200, back.text
    panel = scores_panel(back.json()["html"])
    assert bob_note in panel and "judge" in panel and "quality 3 ANNOTATION Ann" in panel


def test_open_queue_shows_other_scores(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    world = world_of(app_client, project, db, blind=False)
    bob = login(app_client, "bob@example.com", "member-password")
    bob_page = bob.get(urls(world)["process"]).text
    complete(bob, world, bob_page, {"scores": [{"configId": world.configs["quality"], "value": 5}]})
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    assert "quality 5 ANNOTATION Bob" in scores_panel(page) and "Open trace" in page


def test_previous_shows_my_scores_saves_changes_with_history_and_goes_forward(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    world = world_of(app_client, project, db, blind=False)
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    token = meta_csrf(page)
    first = item_id_of(page)
    quality = world.configs["quality"]
    data = complete(ann, world, page, {"scores": [{"configId": quality, "value": 2}]})
    second = data["itemId"]
    assert second and second != first
    skipped = post_json(ann, f"{urls(world)['items']}/{second}/skip", token)
    assert skipped.json()["done"] is True
    previous_url = urls(world)["process"] + "/previous"
    forward_url = urls(world)["process"] + "/forward"

    # From the done state: the skipped item, then the completed one with my value.
    back = post_json(ann, previous_url, token, {"itemId": None}).json()
    assert back["mode"] == "history" and back["itemId"] == second
    assert "You skipped this item before." in back["html"]
    back = post_json(ann, previous_url, token, {"itemId": second}).json()
    assert back["itemId"] == first and "You completed this item before." in back["html"]
    assert re.search(r'name="f-3" id="f-3"[^>]*value="2"', back["html"])
    assert f"/process/items/{first}/revise" in back["html"] and "Save changes" in back["html"]
    assert 'data-action="skip"' not in back["html"]
    nothing = post_json(ann, previous_url, token, {"itemId": first})
    assert nothing.status_code == 404 and "no earlier item" in nothing.json()["message"]

    # Save a change: forward to the next item I finished (the skipped one).
    revised = post_json(
        ann,
        f"{urls(world)['items']}/{first}/revise",
        token,
        {"scores": [{"configId": quality, "value": 4}]},
    )
    assert revised.status_code == 200, revised.text
    assert revised.json()["itemId"] == second and revised.json()["mode"] == "history"
    # Forward past the last one: back to the queue's current state (done for me).
    ahead = post_json(ann, forward_url, token, {"itemId": second}).json()
    assert ahead["mode"] == "lease" and ahead["done"] is True
    with db.read() as session:
        item = queues.get_item(session, world.project_id, world.queue_id, first)
        assert item.completion_count == 1  # revising does not complete it twice
        mine = [
            s
            for s in scores.scores_for_trace(session, world.project_id, item.object_id)
            if s.author_user_id == world.annotators[0].user.id
        ]
        assert [(s.name, s.value) for s in mine] == [("quality", 4.0)]
        history = scores.history_of(session, world.project_id, mine[0].id)
        assert [(h.old_value, h.new_value) for h in history] == [(None, 2.0), (2.0, 4.0)]
    # Bob cannot revise Ann's item: he never finished it.
    bob = login(app_client, "bob@example.com", "member-password")
    bob_token = meta_csrf(bob.get(urls(world)["list"]).text)
    refused = post_json(
        bob,
        f"{urls(world)['items']}/{first}/revise",
        bob_token,
        {"scores": [{"configId": quality, "value": 1}]},
    )
    assert refused.status_code == 404


def test_previous_while_holding_an_item_keeps_the_lease(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    world = world_of(app_client, project, db, blind=False)
    ann = login(app_client, "ann@example.com", "member-password")
    page = ann.get(urls(world)["process"]).text
    token = meta_csrf(page)
    first = item_id_of(page)
    data = complete(
        ann, world, page, {"scores": [{"configId": world.configs["quality"], "value": 1}]}
    )
    held = data["itemId"]
    back = post_json(ann, urls(world)["process"] + "/previous", token, {"itemId": held}).json()
    assert back["itemId"] == first
    ahead = post_json(ann, urls(world)["process"] + "/forward", token, {"itemId": first}).json()
    assert ahead["itemId"] == held and ahead["mode"] == "lease"
    viewer = login(app_client, "vic@example.com", "member-password")
    vic_token = meta_csrf(viewer.get(urls(world)["list"]).text)
    assert post_json(viewer, urls(world)["process"] + "/previous", vic_token, {}).status_code == 403


def test_blind_item_hides_other_scores_on_the_trace_page_until_completed(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    """The trace page keeps the blind queue's promise as well: an annotator who works the
    queue sees only their own scores on its items until they complete them; the project's
    owner (who manages queues) sees everything; an open queue hides nothing."""
    world = world_of(app_client, project, db, blind=True)
    bob = login(app_client, "bob@example.com", "member-password")
    bob_page = bob.get(urls(world)["process"]).text
    assert item_id_of(bob_page)
    bob_note = "Bob thinks this is wrong"
    complete(
        bob, world, bob_page, {"scores": [{"configId": world.configs["notes"], "value": bob_note}]}
    )
    trace_url = f"/project/{world.project_id}/traces/tr-1"

    ann = login(app_client, "ann@example.com", "member-password")
    hidden = ann.get(trace_url, params={"tab": "scores"}).text
    assert bob_note not in hidden
    assert "1 score by others hidden: this is an item of a blind queue you work in" in text_of(
        hidden
    )
    # Bob completed it: he sees his own score, with nothing hidden.
    own = bob.get(trace_url, params={"tab": "scores"}).text
    assert bob_note in own and "hidden" not in text_of(own)
    owner = login(app_client, project.owner.email, "owner-password")
    assert bob_note in owner.get(trace_url, params={"tab": "scores"}).text
    # The traces list's score chips: Bob's score counts for the owner, not for Ann yet.
    listing = f"/project/{world.project_id}/traces"
    assert 'title="notes: 1 score' in owner.get(listing).text
    assert 'title="notes: 1 score' not in ann.get(listing).text
    # The Scores page lists Bob's score with its value hidden from Ann.
    scores_page = f"/project/{world.project_id}/scores"
    ann_scores = ann.get(scores_page).text
    assert bob_note not in ann_scores and ">hidden</span>" in ann_scores
    assert bob_note in owner.get(scores_page).text
    # So does the export: Bob's row is there, its value emptied for Ann.
    ann_csv = ann.get(scores_page + "/export.csv").text
    assert bob_note not in ann_csv and "notes" in ann_csv
    assert bob_note in owner.get(scores_page + "/export.csv").text
    with db.write() as session:
        token = credentials.create_token(
            session,
            accounts.get_user(session, world.annotators[0].user.id),  # type: ignore[arg-type]
            accounts.get_project(session, world.project_id),
        ).value
    api_csv = app_client.get(
        "/api/public/scores/export", headers={"Authorization": f"Bearer {token}"}
    )
    assert api_csv.status_code == 200 and bob_note not in api_csv.text
    assert bob_note in app_client.get("/api/public/scores/export", auth=project.auth).text
    # With blind mode off the queue hides nothing.
    with db.write() as session:
        queues.update_queue(session, world.project_id, world.queue_id, {"blind": False})
    assert bob_note in ann.get(trace_url, params={"tab": "scores"}).text
    with db.write() as session:
        queues.update_queue(session, world.project_id, world.queue_id, {"blind": True})

    # Ann completes the item: now she sees Bob's score on the trace page.
    page = ann.get(urls(world)["process"]).text
    complete(ann, world, page, {"scores": [{"configId": world.configs["quality"], "value": 3}]})
    shown = ann.get(trace_url, params={"tab": "scores"}).text
    assert bob_note in shown and "hidden" not in text_of(shown)
    assert 'title="notes: 1 score' in ann.get(listing).text
    assert bob_note in ann.get(scores_page).text
    assert bob_note in ann.get(scores_page + "/export.jsonl").text
