"""The traces list in a real browser against a real `tracemark serve`: filter, select all
matching, add them to a new queue."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests import list_world
from tests.browser.test_process_queue import CHROMIUM, CHROMIUM_ARGS, logged_in, shot
from tests.conftest import ProjectFixture, Server
from tests.queue_world import Person
from tracemark.db.engine import Database
from tracemark.services import queues

pytestmark = pytest.mark.e2e
N = 80  # more vip traces (40) than one page of 25


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is missing: run scripts/test.sh or `apt-get install chromium`"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def api(server: Server, project: ProjectFixture, path: str, body: object) -> httpx.Response:
    response = httpx.post(server.url + path, json=body, auth=project.auth, timeout=30)
    assert response.status_code < 300, response.text
    return response


def test_filter_select_all_matching_and_add_to_a_new_queue(
    browser: Browser, server: Server, project: ProjectFixture, db: Database, engine_name: str
) -> None:
    api(server, project, "/api/public/ingestion", list_world.ingestion_batch(N))
    configs = {
        body["name"]: api(server, project, "/api/public/score-configs", body).json()["id"]
        for body in (
            {"name": "helpful", "dataType": "BOOLEAN"},
            {"name": "quality", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
        )
    }
    scores = [s for s in list_world.score_batch() if s["name"] == "quality"]
    api(server, project, "/api/public/scores", scores)
    owner = Person(project.owner, "owner@example.com", "owner-password")
    context, page = logged_in(browser, server, owner)
    page.get_by_role("link", name="Acme").click()
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Traces").click()
    expect(page.get_by_role("heading", name="Traces")).to_be_visible()
    shot(page, "traces-list", engine_name)

    # Filter: tag vip, 25 rows a page.
    page.get_by_label("Tags").fill("vip")
    page.get_by_label("Rows").select_option("25")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**tags=vip**")
    want = list_world.expected(lambda r: "vip" in r.tags, N)
    assert len(want) == 40
    expect(page.locator("#matching")).to_contain_text("40 traces match this filter")
    rows = page.locator("input[data-row-check]")
    expect(rows).to_have_count(25)
    # The filter is in the URL: a reload (or a colleague with the link) sees the same view.
    page.reload()
    expect(page.get_by_label("Tags")).to_have_value("vip")

    page.get_by_label("Select page").check()
    expect(page.locator("[data-selection]")).to_have_text("25 selected")
    select_all = page.get_by_label("Select all 40 traces matching this filter")
    select_all.check()
    expect(page.locator("[data-selection]")).to_have_text("All 40 matching selected")
    page.get_by_text("Actions").click()
    page.locator("select[name=queue_id]").select_option(label="+ New queue…")
    page.get_by_label("Queue name").fill("VIP review")
    page.get_by_label("helpful").check()
    page.get_by_label("quality").check()
    shot(page, "traces-add-to-queue", engine_name)
    page.get_by_role("button", name="Add to queue").click()

    expect(page.get_by_role("heading", name="Queue “VIP review” created")).to_be_visible()
    expect(page.locator('[data-result="added"]')).to_have_text("40 traces")
    expect(page.locator('[data-result="already"]')).to_have_text("0")
    shot(page, "traces-added", engine_name)
    with db.read() as session:
        summaries, _ = queues.list_queues(session, project.project.id)
        queue = next(s.queue for s in summaries if s.queue.name == "VIP review")
        items, total = queues.list_items(
            session, project.project.id, queue.id, queues.ItemFilter(), limit=1000
        )
        assert queue.score_config_ids == [configs["helpful"], configs["quality"]]
    assert total == 40 and {i.object_id for i in items} == want

    page.get_by_role("link", name="Open the queue").click()
    expect(page.locator(".items-table tbody tr")).to_have_count(40)

    # "Not in queue" now hides them; sessions and observations lists render too.
    page.goto(f"{server.url}/project/{project.project.id}/traces")
    page.get_by_label("Not in queue").select_option(label="VIP review")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#matching")).to_contain_text(f"{N + 1 - 40} traces match")
    page.goto(f"{server.url}/project/{project.project.id}/sessions")
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    shot(page, "sessions-list", engine_name)
    page.goto(f"{server.url}/project/{project.project.id}/observations")
    expect(page.get_by_role("heading", name="Observations")).to_be_visible()
    shot(page, "observations-list", engine_name)
    context.close()
