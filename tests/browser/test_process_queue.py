"""Processing a queue in a real browser (Debian's chromium) against a real `tracemark serve`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import ProjectFixture, Server
from tests.detail_world import tree_batch
from tests.queue_world import Person, QueueWorld, ingestion_batch, make_world
from tracemark.db.engine import Database
from tracemark.services import queue_work, queues

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
VIEWPORT = {"width": 1280, "height": 800}


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


def shot(page: Page, name: str, engine_name: str, *, full_page: bool = False) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}-{engine_name}.png"), full_page=full_page)


def ingest(server: Server, project: ProjectFixture, batch: dict[str, Any]) -> None:
    response = httpx.post(
        server.url + "/api/public/ingestion", json=batch, auth=project.auth, timeout=30
    )
    assert response.status_code == 207 and not response.json()["errors"], response.text


def logged_in(browser: Browser, server: Server, person: Person) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(server.url + "/login")
    page.fill("input[name=email]", person.email)
    page.fill("input[name=password]", person.password)
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/")
    return context, page


def process_url(server: Server, world: QueueWorld) -> str:
    return f"{server.url}/project/{world.project_id}/annotation-queues/{world.queue_id}/process"


def current_item(page: Page) -> str | None:
    return page.locator("#score-form").get_attribute("data-item-id")


def wait_for_swap(page: Page, old_item: str) -> None:
    page.wait_for_function(
        "old => { const f = document.getElementById('score-form');"
        " return f && f.dataset.itemId !== old && !f.hasAttribute('aria-busy'); }",
        arg=old_item,
    )


def score_with_keyboard(page: Page, tone: int, correct: int, quality: int) -> None:
    """The first field (tone) has the focus when an item appears; only keys from here on."""
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.closest('[data-field]')"
    )
    page.keyboard.press(str(tone))  # 1-3: friendly, neutral, rude
    page.keyboard.press("ArrowDown")
    page.keyboard.press(str(correct))  # 1 yes, 2 no
    page.keyboard.press("ArrowDown")
    page.keyboard.type(str(quality))  # the numeric field
    page.keyboard.press("Control+Enter")


TONES = {1: "friendly", 2: "neutral", 3: "rude"}


def test_two_annotators_process_a_queue_with_the_keyboard(
    browser: Browser, server: Server, project: ProjectFixture, db: Database, engine_name: str
) -> None:
    ingest(server, project, ingestion_batch(4))
    world = make_world(db, project, ["t0", "t1", "t2", "t3"], annotators_per_item=2)
    sessions = [logged_in(browser, server, person) for person in world.annotators]
    pages = [page for _, page in sessions]
    for page in pages:
        page.goto(process_url(server, world))
        page.evaluate("window.stillTheSamePage = true")  # gone if the page ever reloads
    chat_seen = False
    expected: dict[tuple[str, str], tuple[str, float, float]] = {}
    for round_number in range(len(world.trace_ids)):
        for index, (page, person) in enumerate(zip(pages, world.annotators, strict=True)):
            item_id = current_item(page)
            assert item_id, f"{person.email} got no item in round {round_number}"
            tone, correct, quality = (round_number + index) % 3 + 1, index + 1, round_number + 1
            if not chat_seen and page.locator(".item-title").inner_text() == "chat":
                chat_seen = True
                shot(page, "process-chat", engine_name)
            if round_number == 1 and index == 0:
                shot(page, "process-before-complete", engine_name)
                page.keyboard.press("?")
                page.locator("dialog#shortcuts").wait_for(state="visible")
                shot(page, "process-shortcuts", engine_name)
                page.keyboard.press("Escape")
                page.locator("dialog#shortcuts").wait_for(state="hidden")
                page.locator("#score-form input[type=radio]").first.focus()
            score_with_keyboard(page, tone, correct, quality)
            wait_for_swap(page, item_id)
            expected[(item_id, person.user.id)] = (
                TONES[tone],
                1.0 if correct == 1 else 0.0,
                float(quality),
            )
    for page in pages:
        page.get_by_role("heading", name="You are done with this queue").wait_for()
        assert page.locator('[data-progress="mineCompleted"]').inner_text() == "4"
        assert page.evaluate("window.stillTheSamePage === true"), "Complete + Next reloaded"
    assert chat_seen
    # The first to finish saw the queue before the other's last item; a reload shows all.
    for page in pages:
        page.reload()
        page.get_by_role("heading", name="You are done with this queue").wait_for()
        assert page.locator('[data-progress="queueCompleted"]').inner_text() == "4"
        assert page.locator('[data-progress="queueTotal"]').inner_text() == "4"
    shot(pages[0], "process-done", engine_name)

    with db.read() as session:
        for (item_id, user_id), (tone_label, correct_value, quality_value) in expected.items():
            item = queues.get_item(session, world.project_id, world.queue_id, item_id)
            assert item.completion_count == 2 and item.status == "COMPLETED"
            saved = {
                s.name: s for s in queue_work.my_scores(session, world.project_id, item, user_id)
            }
            assert saved["tone"].string_value == tone_label
            assert saved["correct"].value == correct_value
            assert saved["quality"].value == quality_value
        assert len(expected) == 2 * len(world.trace_ids)

    queue_page = pages[1]
    queue_page.goto(f"{server.url}/project/{world.project_id}/annotation-queues/{world.queue_id}")
    assert queue_page.locator(".queue-summary progress").get_attribute("value") == "4"
    rows = queue_page.locator(".annotators-table tbody tr")
    assert rows.count() == 2
    for i in range(2):
        assert rows.nth(i).locator("td").nth(1).inner_text() == "4"
    assert queue_page.locator(".items-table .status-completed").count() == 4
    shot(queue_page, "queue-page", engine_name, full_page=True)
    queue_page.goto(f"{server.url}/project/{world.project_id}/annotation-queues")
    shot(queue_page, "queue-list", engine_name)
    for context, _ in sessions:
        context.close()


def test_hostile_trace_content_stays_inert(
    browser: Browser, server: Server, project: ProjectFixture, db: Database, engine_name: str
) -> None:
    ingest(server, project, ingestion_batch(1, xss=True))
    world = make_world(
        db,
        project,
        ["t-xss"],
        description="Guidelines with <script>alert(2)</script> and [a link](javascript:alert(3)).",
    )
    context, page = logged_in(browser, server, world.annotators[0])
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    context.on("request", lambda request: requests.append(request.url))
    page.goto(process_url(server, world))
    panel = page.locator("#item-panel")
    panel.get_by_text("<script>alert(1)</script>", exact=False).first.wait_for()
    assert panel.get_by_text("<img src=x onerror=alert(1)>").count() >= 1
    assert panel.get_by_text("javascript:alert(1)").count() >= 1
    hostile = "#item-panel script, #item-panel img, #item-panel iframe, a[href^='javascript']"
    assert page.locator(hostile).count() == 0
    assert page.locator(".guidelines script").count() == 0
    # Open every collapsed part and click on the text that looked like a link.
    for details in page.locator("#item-panel details:not([open])").all():
        details.locator("summary").first.click()
    panel.get_by_text("click me", exact=False).first.click()
    page.wait_for_timeout(300)
    shot(page, "process-hostile", engine_name)
    # The Detailed view, then the trace pages (hostile name, tags, metadata keys, chat roles,
    # an observation with a hostile name, model and usage keys): still nothing runs.
    page.keyboard.press("d")
    ingest(server, project, tree_batch())
    for trace_id in ("t-xss", "tr-evil"):
        page.goto(f"{server.url}/project/{world.project_id}/traces/{trace_id}")
        page.locator("a.tnode").first.wait_for()
        for node in page.locator("a.tnode").all():
            node.click()
            page.wait_for_function("() => !document.querySelector('.ttree[aria-busy]')")
            page.evaluate("document.querySelectorAll('main details').forEach(d => d.open = true)")
        page.get_by_role("tab", name=re.compile("Scores")).click()
        page.get_by_role("tab", name="Run").click()
        hostile = "main script, main img, main iframe, main svg:not(.tbar), a[href^='javascript']"
        assert page.locator(hostile).count() == 0
        assert page.locator("a[href^='http']:not([href^='" + server.url + "'])").count() == 0
    page.locator("a.tnode").first.click()  # back to the trace: its chat has the fake link
    page.locator("#node-detail").get_by_text("click me", exact=False).first.click()
    page.wait_for_timeout(300)
    shot(page, "trace-hostile", engine_name)
    assert dialogs == []
    unexpected = [url for url in requests if not url.startswith(server.url + "/")]
    assert unexpected == []
    context.close()
