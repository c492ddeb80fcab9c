"""Score config pages: list, create, edit, archive, restore; roles. In-process, both engines."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture
from tests.queue_world import add_member, form_csrf
from tests.web.test_queue_pages import login
from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import score_configs


def configs_url(project: ProjectFixture) -> str:
    return f"/project/{project.project.id}/score-configs"


def post_form(
    client: TestClient, page_url: str, action: str, data: dict[str, str | list[str]]
) -> httpx.Response:
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    return client.post(action, data={**data, "csrf_token": form_csrf(page.text)})


def alert(html: str) -> str:
    match = re.search(r'<p class="alert error" role="alert">([^<]*)</p>', html)
    assert match, "no error message on the page"
    return match.group(1).replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")


def stored(db: Database, project: ProjectFixture) -> dict[str, score_configs.ScoreConfig]:
    with db.read() as session:
        rows, _ = score_configs.list_configs(session, project.project.id, limit=100)
        return {c.name: c for c in rows}


def test_create_each_kind_and_see_validation_messages(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    owner = login(app_client, project.owner.email, "owner-password")
    base = configs_url(project)
    empty = owner.get(base)
    assert "New score config" in empty.text and "no active score configs" in empty.text

    bad_range = post_form(
        owner,
        base + "/new",
        base + "/new",
        {"name": "quality", "data_type": "NUMERIC", "min_value": "5", "max_value": "1"},
    )
    assert bad_range.status_code == 400
    html = bad_range.text
    assert alert(html) == "maxValue: must be greater than minValue (1 <= 5)"
    assert 'value="quality"' in html  # what was typed stays in the form

    not_a_number = post_form(
        owner,
        base + "/new",
        base + "/new",
        {"name": "quality", "data_type": "NUMERIC", "min_value": "one"},
    )
    assert alert(not_a_number.text) == "minValue: 'one' is not a number"

    twice = post_form(
        owner,
        base + "/new",
        base + "/new",
        {
            "name": "tone",
            "data_type": "CATEGORICAL",
            "category_label": ["friendly", "friendly", ""],
            "category_value": ["1", "2", ""],
        },
    )
    assert twice.status_code == 400
    assert "'friendly' appears twice; labels must be unique" in alert(twice.text)

    bad_name = post_form(owner, base + "/new", base + "/new", {"name": "a/b", "data_type": "TEXT"})
    assert alert(bad_name.text).startswith("name: only letters, digits")

    for data in (
        {"name": "quality", "data_type": "NUMERIC", "min_value": "1", "max_value": "5"},
        {
            "name": "tone",
            "data_type": "CATEGORICAL",
            "category_label": ["friendly", "neutral", "rude", ""],
            "category_value": ["2", "1", "0", ""],
            "description": "How the answer sounds.",
        },
        {"name": "correct", "data_type": "BOOLEAN"},
        {"name": "notes", "data_type": "TEXT", "min_value": "3"},  # ignored: not numeric
    ):
        created = post_form(owner, base + "/new", base + "/new", data)
        assert created.status_code == 303, created.text
    configs = stored(db, project)
    assert (configs["quality"].min_value, configs["quality"].max_value) == (1.0, 5.0)
    assert configs["tone"].categories == [
        {"label": "friendly", "value": 2.0},
        {"label": "neutral", "value": 1.0},
        {"label": "rude", "value": 0.0},
    ]
    assert configs["correct"].data_type == "BOOLEAN"
    assert configs["notes"].min_value is None

    duplicate = post_form(
        owner, base + "/new", base + "/new", {"name": "Quality", "data_type": "TEXT"}
    )
    assert duplicate.status_code == 409
    assert "already exists" in alert(duplicate.text)

    listing = owner.get(base).text
    for name in ("quality", "tone", "correct", "notes"):
        assert f'<span class="strong">{name}</span>' in listing
    assert "1 to 5" in listing and "friendly" in listing


def test_edit_archive_and_restore(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    with db.write() as session:
        config = score_configs.create(
            session,
            project.project.id,
            {"name": "quality", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
        )
        config_id = config.id
    owner = login(app_client, project.owner.email, "owner-password")
    base = configs_url(project)
    edit = f"{base}/{config_id}/edit"
    page = owner.get(edit)
    assert page.status_code == 200 and 'value="quality"' in page.text and 'value="5"' in page.text

    wrong = post_form(owner, edit, edit, {"name": "quality", "min_value": "1", "max_value": "0"})
    assert wrong.status_code == 400
    assert alert(wrong.text) == "maxValue: must be greater than minValue (0 <= 1)"
    saved = post_form(
        owner, edit, edit, {"name": "overall quality", "min_value": "0", "max_value": "10"}
    )
    assert saved.status_code == 303
    changed = stored(db, project)["overall quality"]
    assert (changed.min_value, changed.max_value, changed.data_type) == (0.0, 10.0, "NUMERIC")

    archived = post_form(owner, base, f"{base}/{config_id}/archive", {})
    assert archived.status_code == 303
    assert stored(db, project)["overall quality"].is_archived
    assert "overall quality" not in owner.get(base).text
    with_archived = owner.get(base + "?archived=1").text
    assert "overall quality" in with_archived and "Restore" in with_archived
    restored = post_form(owner, base + "?archived=1", f"{base}/{config_id}/restore", {})
    assert restored.status_code == 303
    assert not stored(db, project)["overall quality"].is_archived


def test_annotator_and_viewer_cannot_manage_configs(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    with db.write() as session:
        config_id = score_configs.create(
            session, project.project.id, {"name": "correct", "dataType": "BOOLEAN"}
        ).id
    add_member(db, project, "ann@example.com", Role.ANNOTATOR)
    add_member(db, project, "vic@example.com", Role.VIEWER)
    base = configs_url(project)
    for email in ("ann@example.com", "vic@example.com"):
        client = login(app_client, email, "member-password")
        listing = client.get(base)
        assert listing.status_code == 200 and "correct" in listing.text
        assert "New score config" not in listing.text
        assert "/edit" not in listing.text and "Archive" not in listing.text
        for url in (base + "/new", f"{base}/{config_id}/edit"):
            refused = client.get(url)
            assert refused.status_code == 403
            assert "may not create, edit and archive score configs" in refused.text
        token = form_csrf(listing.text)
        for action in (base + "/new", f"{base}/{config_id}/edit", f"{base}/{config_id}/archive"):
            posted = client.post(
                action, data={"name": "hacked", "data_type": "TEXT", "csrf_token": token}
            )
            assert posted.status_code == 403
    configs = stored(db, project)
    assert list(configs) == ["correct"] and not configs["correct"].is_archived
