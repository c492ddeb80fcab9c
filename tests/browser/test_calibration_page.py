"""The calibration page in a real browser (Debian's chromium) against a real `tracemark serve`."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from sklearn.metrics import cohen_kappa_score

from tests.browser.test_process_queue import browser, logged_in, shot  # noqa: F401
from tests.calibration_world import CONSENSUS, JUDGE, JUDGE_SAYS, make_world
from tests.conftest import ProjectFixture, Server
from tests.queue_world import Person
from tracemark.db.engine import Database

pytestmark = pytest.mark.e2e


def test_pick_config_and_judge_and_see_kappa_and_matrix(
    browser: Browser,  # noqa: F811
    server: Server,
    project: ProjectFixture,
    db: Database,
    engine_name: str,
) -> None:
    world = make_world(db, project)
    owner = Person(project.owner, "owner@example.com", "owner-password")
    context, page = logged_in(browser, server, owner)
    page.goto(f"{server.url}/project/{world.project_id}")
    page.get_by_role("link", name="Calibration").click()
    page.wait_for_url(re.compile(r".*/calibration$"))
    page.select_option("#config", label="quality (categorical)")
    page.select_option("#judge", label=JUDGE)
    page.select_option("#source", label="EVAL")
    page.get_by_role("button", name="Compare").click()
    kappa = cohen_kappa_score(CONSENSUS, JUDGE_SAYS)
    expect(page.locator("#kappa")).to_contain_text(f"{kappa:.3f}")
    expect(page.locator("#kappa")).to_contain_text("95% CI")
    matrix = page.locator("#confusion-matrix")
    expect(matrix.locator("thead th")).to_have_text(
        ["Human ↓ / Judge →", "good", "ok", "bad", "Total"]
    )
    expect(matrix.locator("tbody tr").nth(0).locator("td")).to_have_text(["2", "1", "0", "3"])
    # Four week-version points, one of them a single pair (kappa undefined: not drawn).
    expect(page.locator("#trend-chart circle")).to_have_count(3)
    expect(page.locator("#disagreements tbody tr")).to_have_count(3)
    shot(page, "calibration", engine_name, full_page=True)
    context.close()
