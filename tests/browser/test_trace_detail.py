"""The trace page and the process page's Detailed view in a real browser (Debian's chromium)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_process_queue import (  # noqa: F401 (browser is a fixture)
    browser,
    ingest,
    logged_in,
    process_url,
    shot,
)
from tests.conftest import ProjectFixture, Server
from tests.detail_world import tree_batch
from tests.queue_world import make_world
from tracemark.db.engine import Database
from tracemark.services import scores

pytestmark = pytest.mark.e2e


def test_single_trace_annotation_from_the_trace_page(
    browser: Browser,  # noqa: F811
    server: Server,
    project: ProjectFixture,
    db: Database,
    engine_name: str,
) -> None:
    ingest(server, project, tree_batch())
    world = make_world(db, project, [])
    ann = world.annotators[0]
    context, page = logged_in(browser, server, ann)
    trace_url = f"{server.url}/project/{world.project_id}/traces/tr-1"
    page.goto(trace_url)
    page.evaluate("window.stillTheSamePage = true")
    expect(page.locator("a.tnode[aria-current=true]")).to_contain_text("support-agent")

    # Selecting an observation swaps its panel in, without reloading the page.
    page.locator("a.tnode", has_text="draft-answer").click()
    expect(page.locator("#node-detail .node-title")).to_have_text("draft-answer")
    expect(page.locator("#node-detail")).to_contain_text("gpt-4o")
    assert page.url.endswith("/traces/tr-1?observation=obs-llm")
    assert page.evaluate("window.stillTheSamePage === true")
    page.keyboard.press("ArrowDown")  # the focused row moves down the tree
    expect(page.locator("#node-detail .node-title")).to_have_text("update-invoice")
    shot(page, "trace-observation", engine_name)

    # Annotate the trace itself.
    page.locator("a.tnode", has_text="support-agent").click()
    expect(page.locator("#node-detail .node-title")).to_have_text("support-agent")
    page.get_by_role("button", name="Annotate").click()
    form = page.locator("#annotate-form")
    expect(form).to_be_visible()
    expect(form.locator(".annotate-target")).to_contain_text("support-agent")
    form.locator("label.choice", has_text="friendly").click()
    form.locator("fieldset[data-name=quality] input").fill("4")
    form.locator("textarea[name=comment]").fill("Clear <b>and</b> kind.")
    shot(page, "trace-annotate", engine_name)
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#annotate-form .alert.ok")).to_have_text("2 scores saved, comment added.")
    expect(page.locator("fieldset[data-name=quality] input")).to_have_value("4")

    # The Scores tab shows them with source and author.
    page.get_by_role("tab", name=re.compile("Scores")).click()
    table = page.locator(".scores-table")
    row = table.locator("tr", has_text="quality")
    expect(row.locator(".score-value")).to_have_text("4")
    expect(row).to_contain_text("ANNOTATION")
    expect(row.locator(".score-author")).to_have_text(ann.user.name)
    expect(page.locator(".comments")).to_contain_text("Clear <b>and</b> kind.")
    assert page.url.endswith("tab=scores")

    # Editing keeps the history.
    form = page.locator("#annotate-form")
    form.locator("fieldset[data-name=quality] input").fill("2")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#annotate-form .alert.ok")).to_have_text("1 score saved.")
    page.get_by_role("tab", name=re.compile("Scores")).click()
    row = page.locator(".scores-table tr", has_text="quality")
    expect(row.locator(".score-value")).to_have_text("2")
    row.locator("details.history summary").click()
    expect(row.locator("details.history li").nth(1)).to_contain_text("4 → 2")
    expect(row.locator("details.history li").nth(1)).to_contain_text(ann.user.name)
    shot(page, "trace-scores", engine_name)
    with db.read() as session:
        mine = [
            s
            for s in scores.scores_for_trace(session, world.project_id, "tr-1")
            if s.name == "quality"
        ]
        assert [(s.value, s.source, s.author_user_id) for s in mine] == [
            (2.0, "ANNOTATION", ann.user.id)
        ]

    # The session page: its traces as a conversation.
    page.goto(f"{server.url}/project/{world.project_id}/sessions/conv-1")
    expect(page.locator(".turn-card")).to_have_count(2)
    shot(page, "session", engine_name)
    context.close()


def test_detailed_view_toggle_is_remembered(
    browser: Browser,  # noqa: F811
    server: Server,
    project: ProjectFixture,
    db: Database,
    engine_name: str,
) -> None:
    ingest(server, project, tree_batch())
    world = make_world(db, project, ["tr-1", "tr-2"], priority={"tr-1": 5})
    context, page = logged_in(browser, server, world.annotators[0])
    page.goto(process_url(server, world))
    process = page.locator("#process")
    expect(process).not_to_have_class(re.compile("detailed"))
    expect(page.locator(".view-detailed .ttree")).to_be_hidden()
    page.locator("#item-panel").click(position={"x": 5, "y": 5})
    page.keyboard.press("d")
    expect(process).to_have_class(re.compile("detailed"))
    expect(page.locator(".view-detailed .ttree")).to_be_visible()
    page.reload()
    expect(page.locator("#process")).to_have_class(re.compile("detailed"))
    expect(page.locator(".view-detailed .ttree")).to_be_visible()
    expect(page.get_by_role("button", name="Detailed")).to_have_attribute("aria-pressed", "true")
    # The tree works inside the process page too, and the Scores tab is there.
    page.locator(".view-detailed a.tnode", has_text="draft-answer").click()
    expect(page.locator("#node-detail .node-title")).to_have_text("draft-answer")
    shot(page, "process-detailed", engine_name)
    page.get_by_role("tab", name=re.compile("Scores")).click()
    expect(page.locator("#p-panel-scores")).to_be_visible()
    # Complete + Next keeps the Detailed view; Previous brings my scores back.
    page.locator("fieldset[data-name=quality] input").fill("3")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#item-panel > .item-head .item-title")).to_have_text("follow-up")
    expect(page.locator(".view-detailed .totals")).to_be_visible()
    page.locator("#item-panel").click(position={"x": 5, "y": 5})
    page.keyboard.press("p")
    expect(page.locator(".history-note")).to_contain_text("You completed this item before")
    expect(page.locator("fieldset[data-name=quality] input")).to_have_value("3")
    shot(page, "process-previous", engine_name)
    page.get_by_role("button", name=re.compile("Forward")).click()
    expect(page.locator("#item-panel > .item-head .item-title")).to_have_text("follow-up")
    page.keyboard.press("d")
    expect(page.locator("#process")).not_to_have_class(re.compile("detailed"))
    page.reload()
    expect(page.locator("#process")).not_to_have_class(re.compile("detailed"))
    context.close()
