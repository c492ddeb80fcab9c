"""First start, score configs, the scores page and its export, roles: in a real browser
(Debian's chromium) against a real `tracemark serve`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_process_queue import VIEWPORT, browser, logged_in, process_url, shot
from tests.conftest import ProjectFixture, Server
from tests.queue_world import Person, make_configs, make_world
from tracemark.db.engine import Database
from tracemark.services import accounts, score_queries, scores

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the module-scoped fixture, shared with the queue tests


def test_first_admin_then_score_configs(
    browser: Browser, server: Server, db: Database, engine_name: str
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(server.url + "/")
    page.wait_for_url(server.url + "/setup")
    expect(page.get_by_role("heading", name="Welcome to Tracemark")).to_be_visible()
    page.get_by_label("Name").fill("Root Admin")
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password", exact=True).fill("root-password")
    page.get_by_label("Repeat password").fill("root-password")
    shot(page, "setup", engine_name)
    page.get_by_role("button", name="Create administrator").click()
    page.wait_for_url(server.url + "/")
    expect(page.locator(".whoami")).to_contain_text("Root Admin")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(server.url + "/login")
    assert page.goto(server.url + "/").url.startswith(server.url + "/login")  # logged out
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill("root-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.url + "/")

    with db.write() as session:
        root = accounts.get_user_by_email(session, "root@example.com")
        project_id = accounts.create_project(session, "Support bot", owner=root).id
    page.goto(server.url + "/")
    page.get_by_role("link", name="Support bot").click()
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Score configs").click()
    page.get_by_role("link", name="New score config").click()

    # A range the wrong way round: the service's message, next to the form, typed values kept.
    page.get_by_label("Name").fill("quality")
    page.get_by_label("Data type").select_option("NUMERIC")
    expect(page.get_by_label("Category 1 label")).to_be_hidden()
    page.get_by_label("Minimum").fill("5")
    page.get_by_label("Maximum").fill("1")
    page.get_by_role("button", name="Create score config").click()
    error = page.get_by_role("alert")
    expect(error).to_have_text("maxValue: must be greater than minValue (1 <= 5)")
    expect(page.get_by_label("Name")).to_have_value("quality")
    shot(page, "score-config-error", engine_name)
    page.get_by_label("Maximum").fill("10")
    page.get_by_role("button", name="Create score config").click()
    page.wait_for_url(f"{server.url}/project/{project_id}/score-configs")

    page.get_by_role("link", name="New score config").click()
    page.get_by_label("Name").fill("tone")
    page.get_by_label("Data type").select_option("CATEGORICAL")
    expect(page.get_by_label("Minimum")).to_be_hidden()
    for n, (label, value) in enumerate((("friendly", "2"), ("neutral", "1"), ("rude", "0")), 1):
        if n > 2:
            page.get_by_role("button", name="Add a category").click()
        page.get_by_label(f"Category {n} label").fill(label)
        page.get_by_label(f"Category {n} value").fill(value)
    page.get_by_label("Description").fill("How the answer sounds to the customer.")
    shot(page, "score-config-form", engine_name)
    page.get_by_role("button", name="Create score config").click()
    page.wait_for_url(f"{server.url}/project/{project_id}/score-configs")

    page.get_by_role("link", name="New score config").click()
    page.get_by_label("Name").fill("correct")
    page.get_by_label("Data type").select_option("BOOLEAN")
    page.get_by_role("button", name="Create score config").click()
    page.wait_for_url(f"{server.url}/project/{project_id}/score-configs")

    rows = page.locator(".configs-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="quality")).to_contain_text("5 to 10")
    expect(rows.filter(has_text="tone")).to_contain_text("friendly")
    expect(rows.filter(has_text="tone")).to_contain_text("rude")
    shot(page, "score-configs", engine_name)
    context.close()


def test_scores_page_filter_and_export(
    browser: Browser,
    server: Server,
    project: ProjectFixture,
    db: Database,
    engine_name: str,
    tmp_path: Path,
) -> None:
    world = make_world(db, project, [], annotators_per_item=1)
    api = [
        {"id": f"api-{i}", "traceId": f"t{i}", "name": "length_ok", "value": i % 2}
        for i in range(6)
    ] + [
        {"id": f"eval-{i}", "traceId": f"t{i}", "name": "judge", "value": i / 10, "source": "EVAL"}
        for i in range(4)
    ]
    for body in api:
        response = httpx.post(
            server.url + "/api/public/scores", json=body, auth=project.auth, timeout=30
        )
        assert response.status_code == 200, response.text
    annotator = world.annotators[0]
    with db.write() as session:
        result = scores.write_scores(
            session,
            project.project.id,
            [
                scores.ScoreInput(
                    {
                        "id": f"ann-{i}",
                        "configId": world.configs["tone"],
                        "value": label,
                        "source": "ANNOTATION",
                        "traceId": f"t{i}",
                        "comment": "Polite, but <b>vague</b>." if i == 0 else None,
                    },
                    i,
                )
                for i, label in enumerate(("friendly", "neutral", "rude"))
            ],
            scores.Actor(user_id=annotator.user.id),
        )
        assert not result.errors

    context, page = logged_in(browser, server, annotator)
    page.get_by_role("link", name=project.project.name).click()
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Scores").click()
    expect(page.locator(".scores-table tbody tr")).to_have_count(13)
    page.get_by_label("Source").select_option("ANNOTATION")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/scores?source=ANNOTATION")
    rows = page.locator(".scores-table tbody tr")
    expect(rows).to_have_count(3)
    for i in range(3):
        expect(rows.nth(i).locator(".source")).to_have_text("ANNOTATION")
    expect(rows.filter(has_text="friendly")).to_contain_text("Polite, but <b>vague</b>.")
    expect(rows.filter(has_text="friendly").get_by_role("link")).to_have_attribute(
        "href", f"/project/{project.project.id}/traces/t0"
    )
    shot(page, "scores-filtered", engine_name)

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV", exact=True).click()
    csv_path = tmp_path / "scores.csv"
    csv_download.value.save_as(csv_path)
    with page.expect_download() as jsonl_download:
        page.get_by_role("link", name="JSON Lines").click()
    jsonl_path = tmp_path / "scores.jsonl"
    jsonl_download.value.save_as(jsonl_path)

    with db.read() as session:
        expected, _ = score_queries.list_page(
            session,
            project.project.id,
            score_queries.ScoreFilter(source="ANNOTATION"),
            page=1,
            limit=100,
        )
    want = {s.id: s.string_value for s in expected}
    assert len(want) == 3
    with csv_path.open(newline="", encoding="utf-8") as handle:
        from_csv = {row["id"]: row["stringValue"] for row in csv.DictReader(handle)}
    assert from_csv == want
    lines = jsonl_path.read_text(encoding="utf-8").splitlines()
    from_jsonl = {r["id"]: r["stringValue"] for r in map(json.loads, lines)}
    assert from_jsonl == want
    assert all(json.loads(line)["authorEmail"] == annotator.email for line in lines)
    context.close()


def test_annotator_cannot_edit_configs_and_viewer_cannot_annotate(
    browser: Browser, server: Server, project: ProjectFixture, db: Database, engine_name: str
) -> None:
    world = make_world(db, project, [], annotators_per_item=1)
    configs_url = f"{server.url}/project/{world.project_id}/score-configs"

    context, page = logged_in(browser, server, world.annotators[0])
    page.goto(configs_url)
    expect(page.locator(".configs-table tbody tr")).to_have_count(4)
    expect(page.get_by_role("link", name="New score config")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    response = page.goto(configs_url + "/new")
    assert response is not None and response.status == 403
    expect(page.get_by_text("may not create, edit and archive score configs")).to_be_visible()
    response = page.goto(f"{configs_url}/{world.configs['tone']}/edit")
    assert response is not None and response.status == 403
    shot(page, "annotator-config-403", engine_name)
    context.close()

    context, page = logged_in(browser, server, world.viewer)
    page.goto(f"{server.url}/project/{world.project_id}/annotation-queues")
    expect(page.get_by_role("link", name="Support review")).to_be_visible()
    expect(page.get_by_role("link", name="Process")).to_have_count(0)
    expect(page.get_by_role("link", name="New queue")).to_have_count(0)
    page.get_by_role("link", name="Support review").click()
    expect(page.get_by_role("heading", name="Support review")).to_be_visible()
    expect(page.get_by_role("link", name="Process queue")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit queue")).to_have_count(0)
    response = page.goto(process_url(server, world))
    assert response is not None and response.status == 403
    expect(page.get_by_text("may not process annotation queues")).to_be_visible()
    shot(page, "viewer-process-403", engine_name)
    context.close()


def test_settings_invite_and_queue_form(
    browser: Browser, server: Server, project: ProjectFixture, db: Database, engine_name: str
) -> None:
    make_configs(db, project.project.id)
    owner = Person(project.owner, project.owner.email, "owner-password")
    context, page = logged_in(browser, server, owner)
    page.get_by_role("link", name=project.project.name).click()
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Settings").click()
    members = page.get_by_role("form", name="Add a member")
    members.get_by_label("Email").fill("newbie@example.com")
    members.get_by_label("Name").fill("Newbie")
    members.get_by_label("Role").select_option("ANNOTATOR")
    members.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status").first).to_contain_text("had no account")
    link = page.locator("#new-link").inner_text()
    assert link.startswith(server.url + "/set-password/")
    page.get_by_role("form", name="Create an API key").get_by_label("Note").fill("prod app")
    page.get_by_role("button", name="Create API key").click()
    secret = page.locator("#new-secret-key").inner_text()
    assert secret.startswith("sk-tm-")
    shot(page, "settings", engine_name, full_page=True)

    page.get_by_role("navigation", name="Project").get_by_role(
        "link", name="Annotation queues"
    ).click()
    page.get_by_role("link", name="New queue").click()
    page.get_by_label("Name").fill("Tone review")
    page.get_by_label("Guidelines").fill("# Tone\nIs the answer **polite**?")
    page.get_by_label("tone").check()
    page.get_by_label("Annotators per item").fill("2")
    page.get_by_label("Newbie").check()
    shot(page, "queue-form", engine_name)
    page.get_by_role("button", name="Create queue").click()
    expect(page.get_by_role("heading", name="Tone review")).to_be_visible()
    expect(page.locator(".guidelines-card strong")).to_have_text("polite")
    context.close()

    invited = browser.new_context(viewport=VIEWPORT)
    invited.set_default_timeout(15_000)
    guest = invited.new_page()
    guest.goto(link)
    guest.get_by_label("Password", exact=True).fill("newbie-password")
    guest.get_by_label("Repeat password").fill("newbie-password")
    shot(guest, "set-password", engine_name)
    guest.get_by_role("button", name="Set password and log in").click()
    guest.wait_for_url(server.url + "/")
    expect(guest.locator(".whoami")).to_contain_text("Newbie")
    guest.get_by_role("link", name=project.project.name).click()
    guest.get_by_role("navigation", name="Project").get_by_role(
        "link", name="Annotation queues"
    ).click()
    expect(guest.get_by_role("link", name="Process")).to_be_visible()  # a member of the queue
    response = guest.goto(link)
    assert response is not None and response.status == 404  # used once
    invited.close()
