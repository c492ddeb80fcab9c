"""The dashboard page on both engines: the numbers shown, SVG charts, escaping, bad input."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from tests.analytics_world import EVIL, AnalyticsWorld, make_analytics_world
from tests.conftest import ProjectFixture, make_project
from tests.queue_world import form_csrf
from tracemark.db.engine import Database

RANGE = {"from": "2026-11-01", "to": "2026-11-07"}


def login(app_client: TestClient, email: str, password: str) -> TestClient:
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


@pytest.fixture
def world(db: Database, project: ProjectFixture) -> AnalyticsWorld:
    return make_analytics_world(db, project)


@pytest.fixture
def owner(app_client: TestClient, project: ProjectFixture) -> TestClient:
    return login(app_client, "owner@example.com", "owner-password")


def table_rows(page: str, css_class: str) -> list[list[str]]:
    match = re.search(rf'<table class="table {css_class}">(.*?)</table>', page, re.S)
    assert match, f"no table {css_class}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [
        [html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in row] for row in cells if row
    ]


def test_numbers_on_the_page(owner: TestClient, world: AnalyticsWorld) -> None:
    response = owner.get(f"/project/{world.project_id}/dashboard", params=RANGE)
    assert response.status_code == 200
    page = response.text
    assert "2026-11-01 to 2026-11-07 (UTC)" in page
    assert "15 scores" in page
    rows = {(r[0], r[1]): r for r in table_rows(page, "dashboard-scores")}
    assert rows[("quality", "API")][2:] == ["NUMERIC", "4", "0.625", "0.1", "1"]
    assert rows[("rating", "ANNOTATION")][2:] == ["NUMERIC", "4", "2.5", "1", "5"]
    assert rows[("tone", "EVAL")][2:5] == ["CATEGORICAL", "3", "\u2013"]  # no mean of labels
    # Charts are inline SVG with axes labels and tooltips.
    assert page.count('<svg class="chart"') >= 10
    assert "<title>good: 2 scores (66.7%)</title>" in page
    assert "<title>2: 2 scores</title>" in page  # rating's integer bin 2
    assert "<title>quality · Nov 02: 0.3</title>" in page  # the daily mean
    assert ">value</text>" in page and ">time (UTC)</text>" in page
    # Throughput and queue progress.
    people = {r[0]: r for r in table_rows(page, "dashboard-throughput")}
    assert people["alice"][1:3] == ["4", "3"] and people["bob"][1:3] == ["3", "2"]
    (queue,) = table_rows(page, "dashboard-queues")
    assert queue[0] == "Review" and "2 / 4" in queue[1] and queue[2:4] == ["2", "2"]
    assert not re.search(r"\bnan\b", page, re.IGNORECASE)


def test_html_in_names_is_escaped(owner: TestClient, world: AnalyticsWorld) -> None:
    page = owner.get(
        f"/project/{world.project_id}/dashboard", params={**RANGE, "traceName": EVIL}
    ).text
    assert EVIL not in page and 'onerror="alert' not in page
    escaped = str(escape(EVIL))
    assert f'value="{escaped}"' in page  # the trace-name filter as typed
    assert f"<title>Distribution of {escaped} · API · NUMERIC</title>" in page  # in the SVG
    assert f">{escaped}</a></td>" in page  # in the table
    rows = table_rows(page, "dashboard-scores")
    assert len(rows) == 5  # the scores of t2, the trace with that name


def test_empty_range_says_what_is_missing(owner: TestClient, world: AnalyticsWorld) -> None:
    page = owner.get(
        f"/project/{world.project_id}/dashboard", params={"from": "2025-01-01", "to": "2025-01-31"}
    ).text
    assert "No scores in this range." in page
    assert "No ANNOTATION scores by annotators in this range." in page
    assert '<svg class="chart"' not in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-11-07", "to": "2026-11-01"}, "must be before"),
        ({"from": "yesterday"}, "from: &#39;yesterday&#39; is not a date; use YYYY-MM-DD"),
        ({"colour": "blue"}, "unknown filter colour"),
        ({"source": "HUMAN"}, "source: &#39;HUMAN&#39; is not one of"),
    ],
)
def test_bad_input_shows_a_message(
    owner: TestClient, world: AnalyticsWorld, params: dict[str, str], message: str
) -> None:
    response = owner.get(f"/project/{world.project_id}/dashboard", params=params)
    assert response.status_code == 400
    assert 'class="alert error"' in response.text and message in response.text


def test_other_projects_are_hidden(
    app_client: TestClient, db: Database, world: AnalyticsWorld
) -> None:
    make_project(db, "Other", "other@example.com")
    stranger = login(app_client, "other@example.com", "owner-password")
    assert stranger.get(f"/project/{world.project_id}/dashboard").status_code == 404


def test_nav_links_the_dashboard(owner: TestClient, world: AnalyticsWorld) -> None:
    page = owner.get(f"/project/{world.project_id}/annotation-queues").text
    assert f'href="/project/{world.project_id}/dashboard"' in page
