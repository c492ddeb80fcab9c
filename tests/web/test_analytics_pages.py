"""The calibration and agreement pages, in-process, on both engines."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score

from tests.calibration_world import (
    CONSENSUS,
    JUDGE,
    JUDGE_SAYS,
    WEEK_A,
    XSS,
    World,
    annotate,
    judge,
    make_queue,
    make_world,
)
from tests.conftest import ProjectFixture, make_member, make_project
from tests.queue_world import form_csrf
from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import queues, score_configs

EVIL_JUDGE = "<img src=x onerror=alert(1)>"


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
def world(db: Database, project: ProjectFixture) -> World:
    made = make_world(db, project)
    judge(db, made.project_id, "t0", "good", WEEK_A, name=EVIL_JUDGE)
    return made


@pytest.fixture
def owner(app_client: TestClient, project: ProjectFixture) -> TestClient:
    return login(app_client, "owner@example.com", "owner-password")


def page(client: TestClient, pid: str, **params: str) -> tuple[int, str]:
    response = client.get(f"/project/{pid}/calibration", params=params)
    return response.status_code, response.text


def test_calibration_page_shows_kappa_matrix_trend_and_disagreements(
    owner: TestClient, world: World
) -> None:
    pid = world.project_id
    status, html = page(owner, pid)
    assert status == 200
    assert 'href="/project/' + pid + '/calibration" aria-current="page"' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and EVIL_JUDGE not in html
    status, html = page(owner, pid, config=world.quality, judge=JUDGE, source="EVAL")
    assert status == 200, html
    kappa = cohen_kappa_score(CONSENSUS, JUDGE_SAYS)
    assert re.search(r'id="kappa"><strong>' + f"{kappa:.3f}", html)
    assert "95% CI" in html and 'id="pairs">8 ' in html
    matrix = html[
        html.index('id="confusion-matrix"') : html.index(
            "</table>", html.index('id="confusion-matrix"')
        )
    ]
    cells = re.findall(r'<td class="num(?: diagonal)?">(\d+)</td>', matrix)
    assert cells == ["2", "1", "0", "0", "1", "1", "1", "0", "2"]
    assert '<svg class="chart"' in html and "<title>week of 2026-11-09 · v2 · kappa" in html
    assert f'href="/project/{pid}/traces/t1"' in html
    assert f'href="/project/{pid}/traces/t7?observation=o7"' in html
    assert f'href="/project/{pid}/sessions/' not in html  # s8 agrees: not a disagreement
    assert XSS not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; judged t1" in html
    assert "nan" not in html.lower().replace("nanoid", "")


def test_calibration_page_explains_bad_choices_without_a_500(
    owner: TestClient, db: Database, world: World
) -> None:
    pid = world.project_id
    status, html = page(owner, pid, config=world.quality, judge="nobody")
    assert status == 400 and "no pairs" in html and 'id="calibration-form"' in html
    other = make_project(db, "Other", "other-owner@example.com")
    with db.write() as session:
        foreign = score_configs.create(
            session, other.project.id, {"name": "foreign", "dataType": "BOOLEAN"}
        ).id
    status, html = page(owner, pid, config=foreign, judge=JUDGE)
    assert status == 400 and "no score config" in html
    status, html = page(owner, pid, config=world.quality)
    assert status == 400 and "Choose both" in html
    status, html = page(owner, pid, config=world.quality, judge=JUDGE, start="yesterday")
    assert status == 400 and "not a date" in html
    status, _ = page(owner, other.project.id)
    assert status == 404  # not a member of the other project


def test_add_disagreements_to_a_queue(
    owner: TestClient, app_client: TestClient, db: Database, project: ProjectFixture, world: World
) -> None:
    pid = world.project_id
    stamp = "2026-11-03T12:00:00Z"
    events = [
        {"id": "e1", "type": "trace-create", "timestamp": stamp, "body": {"id": "t1"}},
        {"id": "e7", "type": "trace-create", "timestamp": stamp, "body": {"id": "t7"}},
        {
            "id": "e7o",
            "type": "span-create",
            "timestamp": stamp,
            "body": {"id": "o7", "traceId": "t7", "startTime": stamp},
        },
    ]
    sent = app_client.post("/api/public/ingestion", json={"batch": events}, auth=project.auth)
    assert sent.status_code == 207 and not sent.json()["errors"], sent.text
    queue = make_queue(db, pid, [world.quality], name="Judge misses")
    status, html = page(owner, pid, config=world.quality, judge=JUDGE, source="EVAL")
    assert status == 200
    boxes = re.findall(r'name="item" value="([^"]+)"', html)
    assert boxes == ["TRACE:t1", "OBSERVATION:o7", "TRACE:t4"]
    response = owner.post(
        f"/project/{pid}/calibration/add-to-queue",
        data={"csrf_token": form_csrf(html), "queue_id": queue, "item": boxes[:2]},
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/annotation-queues/{queue}?added=2")
    with db.read() as session:
        items, total = queues.list_items(session, pid, queue, queues.ItemFilter())
    assert total == 2 and {i.object_id for i in items} == {"t1", "o7"}
    landing = owner.get(response.headers["location"])
    assert "2 items added to this queue." in landing.text
    # t4 was never ingested: nothing is added, and the queue page says so.
    response = owner.post(
        f"/project/{pid}/calibration/add-to-queue",
        data={"csrf_token": form_csrf(html), "queue_id": queue, "item": boxes[2:]},
    )
    landing = owner.get(response.headers["location"])
    assert "0 items added to this queue. 1 not found in this project" in landing.text
    missing_csrf = owner.post(
        f"/project/{pid}/calibration/add-to-queue", data={"queue_id": queue, "item": boxes[2:]}
    )
    assert missing_csrf.status_code == 403


def test_annotators_see_calibration_but_cannot_fill_queues(
    app_client: TestClient, db: Database, project: ProjectFixture, world: World
) -> None:
    pid = world.project_id
    make_queue(db, pid, [world.quality])
    make_member(db, project.project, "viewer@example.com", Role.ANNOTATOR)
    client = login(app_client, "viewer@example.com", "member-password")
    status, html = page(client, pid, config=world.quality, judge=JUDGE)
    assert status == 200 and 'id="kappa"' in html
    assert 'name="item"' not in html
    response = client.post(
        f"/project/{pid}/calibration/add-to-queue",
        data={"csrf_token": form_csrf(html), "queue_id": "x", "item": ["TRACE:t1"]},
    )
    assert response.status_code == 403


def test_agreement_page_from_the_queue_page(
    owner: TestClient, db: Database, project: ProjectFixture
) -> None:
    pid = project.project.id
    with db.write() as session:
        config = score_configs.create(
            session,
            pid,
            {
                "name": "tone",
                "dataType": "CATEGORICAL",
                "categories": [{"label": "<b>calm</b>", "value": 0}, {"label": "rude", "value": 1}],
            },
        ).id
    queue = make_queue(db, pid, [config], name="Tone review")
    first = make_member(db, project.project, "alice@example.com", Role.ANNOTATOR)[0]
    second = make_member(db, project.project, "bob@example.com", Role.ANNOTATOR)[0]
    for ref, a, b in (
        ("x", "<b>calm</b>", "rude"),
        ("y", "rude", "rude"),
        ("z", "<b>calm</b>", "<b>calm</b>"),
    ):
        annotate(db, pid, first, config, ref, a, queue_id=queue)
        annotate(db, pid, second, config, ref, b, queue_id=queue)
    queue_page = owner.get(f"/project/{pid}/annotation-queues/{queue}").text
    link = f"/project/{pid}/agreement?queue={queue}"
    assert f'href="{link}"' in queue_page
    response = owner.get(link)
    assert response.status_code == 200, response.text
    html = response.text
    assert re.search(r'id="alpha"><strong>0\.\d{3}</strong> <span class="muted">nominal', html)
    assert 'id="pairwise"' in html and "alice" in html and "bob" in html
    assert f'href="/project/{pid}/traces/x"' in html
    assert "&lt;b&gt;calm&lt;/b&gt;" in html and "<b>calm</b>" not in html
    one = owner.get(f"/project/{pid}/agreement", params={"config": config, "level": "ratio"})
    assert one.status_code == 400 and "level" in one.text
