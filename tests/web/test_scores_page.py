"""The scores page: filters in the URL, keyset pages, links to targets, export of the filtered
set in each format. In-process, both engines."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture
from tests.queue_world import add_member, make_configs
from tests.web.test_queue_pages import login
from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import queues, scores

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def score_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-score-id="([^"]+)">', html)


def write(db: Database, project_id: str, actor: scores.Actor, bodies: list[dict[str, Any]]) -> None:
    with db.write() as session:
        result = scores.write_scores(
            session, project_id, [scores.ScoreInput(b, i) for i, b in enumerate(bodies)], actor
        )
        assert not result.errors, result.errors


@pytest.fixture
def scored(db: Database, project: ProjectFixture) -> dict[str, Any]:
    """65 API scores (one a minute), 3 EVAL scores on a trace / observation / session, and 2
    ANNOTATION scores by Ann in a queue."""
    project_id = project.project.id
    configs = make_configs(db, project_id)
    ann = add_member(db, project, "ann@example.com", Role.ANNOTATOR)
    with db.write() as session:
        queue_id = queues.create_queue(
            session, project_id, {"name": "Review", "scoreConfigIds": [configs["tone"]]}
        ).id
    write(
        db,
        project_id,
        scores.Actor(key_id="key"),
        [
            {
                "id": f"api-{i:02d}",
                "name": "latency_ok",
                "value": i,
                "traceId": f"t{i}",
                "timestamp": (START + timedelta(minutes=i)).isoformat(),
            }
            for i in range(65)
        ]
        + [
            {
                "id": "eval-trace",
                "name": "judge",
                "value": 0.2,
                "source": "EVAL",
                "traceId": "t1",
                "comment": "too <b>long</b>",
                "timestamp": (START + timedelta(hours=3)).isoformat(),
            },
            {
                "id": "eval-observation",
                "name": "judge",
                "value": 0.6,
                "source": "EVAL",
                "traceId": "t1",
                "observationId": "o/1",
                "timestamp": (START + timedelta(hours=4)).isoformat(),
            },
            {
                "id": "eval-session",
                "name": "judge",
                "value": 0.9,
                "source": "EVAL",
                "sessionId": "s 1",
                "timestamp": (START + timedelta(hours=5)).isoformat(),
            },
        ],
    )
    write(
        db,
        project_id,
        scores.Actor(user_id=ann.user.id),
        [
            {
                "id": f"ann-{n}",
                "configId": configs["tone"],
                "value": label,
                "source": "ANNOTATION",
                "traceId": f"t{n}",
                "queueId": queue_id,
                "timestamp": (START + timedelta(days=1, minutes=n)).isoformat(),
            }
            for n, label in ((2, "friendly"), (3, "rude"))
        ],
    )
    return {"ann": ann, "queue_id": queue_id, "configs": configs}


def page_url(project: ProjectFixture, **params: str) -> str:
    base = f"/project/{project.project.id}/scores"
    return base + ("?" + urlencode(params) if params else "")


def test_filters_and_links(
    app_client: TestClient, project: ProjectFixture, db: Database, scored: dict[str, Any]
) -> None:
    viewer = add_member(db, project, "vic@example.com", Role.VIEWER)
    client = login(app_client, viewer.email, viewer.password)
    pid = project.project.id

    evals = client.get(page_url(project, source="EVAL"))
    assert evals.status_code == 200
    assert score_ids(evals.text) == ["eval-session", "eval-observation", "eval-trace"]
    html = evals.text
    assert f'href="/project/{pid}/traces/t1"' in html
    assert f'href="/project/{pid}/traces/t1?observation=o%2F1"' in html
    assert f'href="/project/{pid}/sessions/s%201"' in html
    assert "too &lt;b&gt;long&lt;/b&gt;" in html  # comments are text
    assert '<option value="EVAL" selected>' in html  # the filter is in the URL and the form

    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"source": "ANNOTATION"}, ["ann-3", "ann-2"]),
        ({"author": scored["ann"].user.id}, ["ann-3", "ann-2"]),
        ({"queue": scored["queue_id"]}, ["ann-3", "ann-2"]),
        ({"config": scored["configs"]["tone"]}, ["ann-3", "ann-2"]),
        ({"value": "friendly"}, ["ann-2"]),
        ({"name": "judge", "min": "0.5", "max": "1"}, ["eval-session", "eval-observation"]),
        ({"name": "latency_ok", "value": "7"}, ["api-07"]),
        ({"data_type": "CATEGORICAL"}, ["ann-3", "ann-2"]),
        (
            {"name": "latency_ok", "start": "2026-11-01T12:10", "end": "2026-11-01T12:13"},
            ["api-12", "api-11", "api-10"],
        ),
        ({"source": "API", "min": "63"}, ["api-64", "api-63"]),
    ]
    for params, expected in cases:
        response = client.get(page_url(project, **params))
        assert response.status_code == 200, (params, response.text)
        assert score_ids(response.text) == expected, params

    nothing = client.get(page_url(project, name="nope"))
    assert score_ids(nothing.text) == [] and "No scores match these filters." in nothing.text
    bad = client.get(page_url(project, min="lots"))
    assert bad.status_code == 400 and "minimum value: &#39;lots&#39; is not a number" in bad.text
    bad_source = client.get(page_url(project, source="HUMAN"))
    assert bad_source.status_code == 400 and "source: must be one of" in bad_source.text


def test_keyset_pages(
    app_client: TestClient, project: ProjectFixture, db: Database, scored: dict[str, Any]
) -> None:
    client = login(app_client, project.owner.email, "owner-password")
    first = client.get(page_url(project, source="API"))
    ids = score_ids(first.text)
    assert ids == [f"api-{i:02d}" for i in range(64, 14, -1)]
    older = re.search(r'<a class="button small" rel="next" href="([^"]+)">', first.text)
    assert older, "no link to older scores"
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert score_ids(second.text) == [f"api-{i:02d}" for i in range(14, -1, -1)]
    assert 'rel="next"' not in second.text
    assert "source=API" in older.group(1)  # the filter stays on the next page


@pytest.mark.parametrize(
    "params", [{"source": "EVAL"}, {"source": "API", "min": "10", "max": "12"}]
)
def test_export_returns_exactly_the_filtered_rows(
    app_client: TestClient,
    project: ProjectFixture,
    db: Database,
    scored: dict[str, Any],
    params: dict[str, str],
) -> None:
    client = login(app_client, project.owner.email, "owner-password")
    shown = set(score_ids(client.get(page_url(project, **params)).text))
    assert shown
    page = client.get(page_url(project, **params)).text
    base = f"/project/{project.project.id}/scores"
    for fmt in ("csv", "json", "jsonl"):
        link = f"{base}/export.{fmt}?{urlencode(params).replace('&', '&amp;')}"
        assert f'href="{link}"' in page, f"no {fmt} export link for the filter"
        response = client.get(f"{base}/export.{fmt}?{urlencode(params)}")
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(response.text)))
        elif fmt == "json":
            rows = json.loads(response.text)
        else:
            rows = [json.loads(line) for line in response.text.splitlines()]
        assert {r["id"] for r in rows} == shown, fmt
        assert len(rows) == len(shown)
        for row in rows:
            assert row["source"] == params["source"]
    refused = client.get(f"{base}/export.xml?{urlencode(params)}")
    assert refused.status_code == 400
