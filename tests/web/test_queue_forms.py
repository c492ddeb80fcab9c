"""Creating and editing annotation queues in the browser UI; roles. In-process, both engines."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture
from tests.queue_world import add_member, form_csrf, make_configs
from tests.web.test_queue_pages import login
from tests.web.test_score_config_pages import alert, post_form
from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import queues


def test_create_and_edit_a_queue(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    configs = make_configs(db, project.project.id)
    ann = add_member(db, project, "ann@example.com", Role.ANNOTATOR)
    add_member(db, project, "vic@example.com", Role.VIEWER)
    owner = login(app_client, project.owner.email, "owner-password")
    base = f"/project/{project.project.id}/annotation-queues"
    listing = owner.get(base).text
    assert f'href="{base}/new"' in listing

    form = owner.get(base + "/new").text
    assert "Ann" in form and "vic@example.com" not in form  # viewers may not annotate
    no_config = post_form(owner, base + "/new", base + "/new", {"name": "Review"})
    assert no_config.status_code == 400
    assert alert(no_config.text) == "scoreConfigIds: give at least one score config id"
    too_many = post_form(
        owner,
        base + "/new",
        base + "/new",
        {"name": "Review", "config": [configs["tone"]], "annotators_per_item": "21"},
    )
    assert alert(too_many.text) == "annotatorsPerItem: must be between 1 and 20, got 21"
    assert f'value="{configs["tone"]}" checked' in too_many.text  # the choice is kept

    created = post_form(
        owner,
        base + "/new",
        base + "/new",
        {
            "name": "Support review",
            "description": "# Guidelines\nBe **strict**.",
            "config": [configs["tone"], configs["correct"]],
            "annotators_per_item": "2",
            "lease_seconds": "120",
            "blind": "on",
            "member": [ann.user.id],
        },
    )
    assert created.status_code == 303, created.text
    queue_url = created.headers["location"]
    queue_id = queue_url.rsplit("/", 1)[1]
    with db.read() as session:
        queue = queues.get_queue(session, project.project.id, queue_id)
        assert queue.name == "Support review"
        assert queue.score_config_ids == [configs["tone"], configs["correct"]]
        assert (queue.annotators_per_item, queue.lease_seconds, queue.blind) == (2, 120, True)
        assert queues.members_by_queue(session, [queue_id])[queue_id] == [ann.user.id]
    page = owner.get(queue_url).text
    assert "<strong>strict</strong>" in page and f'href="{queue_url}/edit"' in page

    duplicate = post_form(
        owner,
        base + "/new",
        base + "/new",
        {"name": "support REVIEW", "config": [configs["tone"]]},
    )
    assert duplicate.status_code == 409
    assert "already exists" in alert(duplicate.text)

    edit = queue_url + "/edit"
    edit_page = owner.get(edit).text
    assert 'value="Support review"' in edit_page and 'name="blind" checked' in edit_page
    saved = post_form(
        owner,
        edit,
        edit,
        {
            "name": "Support review (v2)",
            "description": "",
            "config": [configs["quality"]],
            "annotators_per_item": "1",
            "lease_seconds": "600",
        },
    )
    assert saved.status_code == 303
    with db.read() as session:
        queue = queues.get_queue(session, project.project.id, queue_id)
        assert queue.name == "Support review (v2)" and queue.description is None
        assert queue.score_config_ids == [configs["quality"]]
        assert (queue.annotators_per_item, queue.blind) == (1, False)
        assert queues.members_by_queue(session, [queue_id])[queue_id] == []

    archived = post_form(owner, edit, queue_url + "/archive", {})
    assert archived.status_code == 303
    refused = post_form(owner, edit, edit, {"name": "x", "config": [configs["tone"]]})
    assert refused.status_code == 409
    assert "this queue is archived" in alert(refused.text)
    assert post_form(owner, edit, queue_url + "/restore", {}).status_code == 303
    with db.read() as session:
        queue = queues.get_queue(session, project.project.id, queue_id)
        assert not queue.archived and queue.name == "Support review (v2)"


def test_annotator_and_viewer_cannot_create_or_edit_queues(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    configs = make_configs(db, project.project.id)
    with db.write() as session:
        queue_id = queues.create_queue(
            session, project.project.id, {"name": "Q", "scoreConfigIds": [configs["tone"]]}
        ).id
    add_member(db, project, "ann@example.com", Role.ANNOTATOR)
    add_member(db, project, "vic@example.com", Role.VIEWER)
    base = f"/project/{project.project.id}/annotation-queues"
    for email in ("ann@example.com", "vic@example.com"):
        client = login(app_client, email, "member-password")
        listing = client.get(base)
        assert "New queue" not in listing.text and "/edit" not in listing.text
        assert "Edit queue" not in client.get(f"{base}/{queue_id}").text
        for url in (base + "/new", f"{base}/{queue_id}/edit"):
            page = client.get(url)
            assert page.status_code == 403
            assert "may not create, edit and archive annotation queues" in page.text
        token = form_csrf(listing.text)
        for action in (base + "/new", f"{base}/{queue_id}/edit", f"{base}/{queue_id}/archive"):
            posted = client.post(
                action, data={"name": "hacked", "config": configs["tone"], "csrf_token": token}
            )
            assert posted.status_code == 403
    with db.read() as session:
        summaries, total = queues.list_queues(session, project.project.id, include_archived=True)
        assert total == 1 and summaries[0].queue.name == "Q" and not summaries[0].queue.archived
