"""The dashboard in a real browser (Debian's chromium) against a real `tracemark serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.analytics_world import EVIL, make_analytics_world
from tests.conftest import ProjectFixture, Server
from tracemark.db.engine import Database

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


def test_dashboard_with_data(
    browser: Browser, server: Server, db: Database, project: ProjectFixture, engine_name: str
) -> None:
    world = make_analytics_world(db, project)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.goto(server.url + "/login")
    page.fill("input[name=email]", "owner@example.com")
    page.fill("input[name=password]", "owner-password")
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/")

    page.goto(f"{server.url}/project/{world.project_id}")
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"{server.url}/project/{world.project_id}/dashboard")
    # A range without scores: the page says what is missing.
    page.fill("input[name=from]", "2025-01-01")
    page.fill("input[name=to]", "2025-01-31")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**from=2025-01-01**")
    assert page.get_by_text("No scores in this range").is_visible()

    page.fill("input[name=from]", "2026-11-01")
    page.fill("input[name=to]", "2026-11-07")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**from=2026-11-01**")
    assert page.get_by_text("15 scores").is_visible()
    quality = page.locator("section.series-card", has_text="quality")
    assert quality.locator("svg.chart").count() == 2
    # Each bar and point carries its tooltip; the score name holding HTML stayed text.
    bar = page.locator("svg.chart rect title", has_text="good: 2 scores")
    assert bar.count() == 1
    assert page.get_by_role("heading", name=EVIL).is_visible()
    assert alerts == []
    box = quality.locator("svg.chart").first.bounding_box()
    assert box is not None and box["width"] >= 500  # readable at 1280x800
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"dashboard-{engine_name}.png"))
    page.screenshot(path=str(OUTPUT / f"dashboard-full-{engine_name}.png"), full_page=True)
    context.close()
