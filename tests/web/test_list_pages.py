"""Traces, observations and sessions lists in-process, on both engines: filters, links, safety,
bulk add to a queue, roles."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from tests import list_world
from tests.conftest import ProjectFixture
from tests.list_world import HOSTILE_NAME, HOSTILE_TAG, HOSTILE_USER, expected
from tests.queue_world import add_member, form_csrf, make_configs
from tests.web.test_queue_pages import login
from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import queues
from tracemark.services import traces as traces_service


@pytest.fixture
def loaded(app_client: TestClient, project: ProjectFixture) -> ProjectFixture:
    response = app_client.post(
        "/api/public/ingestion", json=list_world.ingestion_batch(), auth=project.auth
    )
    assert response.status_code == 207 and not response.json()["errors"], response.text
    scores = app_client.post("/api/public/scores", json=list_world.score_batch(), auth=project.auth)
    assert scores.status_code == 202, scores.text
    return project


@pytest.fixture
def owner(app_client: TestClient, loaded: ProjectFixture) -> TestClient:
    return login(app_client, "owner@example.com", "owner-password")


def traces_url(project: ProjectFixture) -> str:
    return f"/project/{project.project.id}/traces"


def shown_ids(html: str) -> list[str]:
    """The trace ids of the rows, in order (from their checkboxes)."""
    return [unescape(v) for v in re.findall(r'name="ids" value="([^"]*)"', html)]


def links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]*)"', html)]


ALL = expected(lambda r: True) | {"evil"}


FILTER_CASES: list[tuple[dict[str, str], set[str]]] = [
    ({}, ALL),
    ({"name": "chat"}, expected(lambda r: r.name == "chat")),
    ({"user": "user-1"}, expected(lambda r: r.user == "user-1")),
    ({"session": "sess-2"}, expected(lambda r: r.session == "sess-2")),
    ({"tags": "vip"}, expected(lambda r: "vip" in r.tags)),
    ({"tags": "vip, beta"}, expected(lambda r: {"vip", "beta"} <= set(r.tags))),
    ({"level": "ERROR"}, expected(lambda r: r.error)),
    ({"env": "production"}, expected(lambda r: r.environment == "production")),
    ({"release": "v2"}, expected(lambda r: r.release == "v2")),
    ({"meta_key": "customer", "meta_value": "acme"}, expected(lambda r: r.customer == "acme")),
    ({"score": "quality"}, expected(lambda r: r.quality is not None)),
    (
        {"score": "quality", "score_op": ">=", "score_value": "3"},
        expected(lambda r: r.quality is not None and r.quality >= 3),
    ),
    ({"score": "tone", "score_value": "friendly"}, expected(lambda r: r.tone == "friendly")),
    (
        {"from": "2026-11-20T10:05", "to": "2026-11-20T10:10:00"},
        expected(lambda r: 5 <= r.minute < 10),
    ),
    (
        {"name": "answer", "tags": "vip", "user": "user-0"},
        expected(lambda r: r.name == "answer" and "vip" in r.tags and r.user == "user-0"),
    ),
]


def test_filters_narrow_the_rows(owner: TestClient, loaded: ProjectFixture) -> None:
    for params, ids in FILTER_CASES:
        page = owner.get(traces_url(loaded), params=params)
        assert page.status_code == 200, page.text
        assert set(shown_ids(page.text)) == ids, params
        assert f'data-matching="{len(ids)}"' in page.text, params


@pytest.mark.parametrize("set_limit", [150_000, 0], ids=["queue-as-set", "probe-per-trace"])
def test_not_in_queue_hides_queued_traces(
    owner: TestClient,
    loaded: ProjectFixture,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    set_limit: int,
) -> None:
    # A small queue is read as one set of ids; above the limit each trace probes the queue.
    monkeypatch.setattr(traces_service, "NOT_IN_QUEUE_SET_LIMIT", set_limit)
    configs = make_configs(db, loaded.project.id)
    with db.write() as session:
        queue = queues.create_queue(
            session, loaded.project.id, {"name": "Done", "scoreConfigIds": [configs["quality"]]}
        )
        queues.add_items(
            session,
            loaded.project.id,
            queue.id,
            [queues.ObjectRef("TRACE", t) for t in ("r01", "r02")],
        )
    html = owner.get(traces_url(loaded), params={"not_in_queue": queue.id}).text
    assert set(shown_ids(html)) == ALL - {"r01", "r02"}
    counted = owner.get(traces_url(loaded), params={"not_in_queue": queue.id, "count": "1"})
    assert f'data-matching="{len(ALL) - 2}"' in counted.text
    listed = owner.get(
        "/api/public/traces",
        params={"notInQueueId": queue.id, "limit": 100},
        auth=loaded.auth,
    ).json()
    assert {t["id"] for t in listed["data"]} == ALL - {"r01", "r02"}
    assert listed["meta"]["totalItems"] == len(ALL) - 2
    # The queue is offered in the filter and in Actions.
    assert html.count(f'<option value="{queue.id}"') == 2


def test_filters_survive_in_links_and_pages_do_not_overlap(
    owner: TestClient, loaded: ProjectFixture
) -> None:
    params = {"env": "staging", "limit": "25"}
    first = owner.get(traces_url(loaded), params={**params, "sort": "timestamp.desc"}).text
    want = expected(lambda r: r.environment == "staging") | {"evil"}
    ids_1 = shown_ids(first)
    assert len(ids_1) == min(25, len(want))
    # Sort headers, the pager and the user links all keep the filter.
    kept = [u for u in links(first) if u.startswith(traces_url(loaded) + "?")]
    assert kept and all(parse_qs(urlparse(u).query)["env"] == ["staging"] for u in kept)
    assert 'value="staging"' in first  # the form shows the filter
    # The Actions form sends this filter back, with its own CSRF token.
    assert '<input type="hidden" name="filters" value="env=staging">' in first
    assert '<option value="__new__">+ New queue…</option>' in first
    assert first.count(f'name="csrf_token" value="{form_csrf(first)}"') == 2
    if len(want) > 25:
        next_url = next(u for u in kept if "after=" in u)
        second = owner.get(next_url).text
        ids_2 = shown_ids(second)
        assert not set(ids_1) & set(ids_2)
        assert set(ids_1) | set(ids_2) == want
        back = next(u for u in links(second) if "before=" in u)
        assert shown_ids(owner.get(back).text) == ids_1


def test_a_long_list_is_counted_by_a_second_request(
    owner: TestClient, loaded: ProjectFixture
) -> None:
    html = owner.get(traces_url(loaded), params={"limit": "25", "to": "2026-11-20T10:28"}).text
    want = expected(lambda r: r.minute < 28)
    assert len(shown_ids(html)) == 25 < len(want)
    count_url = f"/project/{loaded.project.id}/list-counts/traces?to=2026-11-20T10%3A28"
    assert f'data-count-url="{count_url}"' in unescape(html)
    assert owner.get(count_url).json() == {"matching": len(want), "capped": False}
    everything = owner.get(traces_url(loaded), params={"limit": "25"}).text
    assert "data-count-url" in everything
    counted = owner.get(traces_url(loaded), params={"limit": "25", "count": "1"}).text
    assert f'data-matching="{len(ALL)}"' in counted
    assert owner.get(f"/project/{loaded.project.id}/list-counts/nope").status_code == 404


def test_pages_walk_every_sort_both_ways(owner: TestClient, loaded: ProjectFixture) -> None:
    for sort in ("timestamp.desc", "name.asc", "userId.desc", "latency.desc", "totalCost.asc"):
        url: str | None = traces_url(loaded) + f"?sort={sort}&limit=25"
        pages: list[list[str]] = []
        while url:
            html = owner.get(url).text
            pages.append(shown_ids(html))
            url = next((u for u in links(html) if "after=" in u), None)
        seen = [i for page in pages for i in page]
        assert sorted(seen) == sorted(ALL), sort
        html = owner.get(
            next(
                u
                for u in links(owner.get(traces_url(loaded) + f"?sort={sort}&limit=25").text)
                if "after=" in u
            )
        ).text
        back = next(u for u in links(html) if "before=" in u)
        assert shown_ids(owner.get(back).text) == pages[0], sort


def test_sorting_by_name(owner: TestClient, loaded: ProjectFixture) -> None:
    html = owner.get(traces_url(loaded), params={"sort": "name.asc"}).text
    ids = shown_ids(html)
    names = {r.id: r.name for r in list_world.rows()} | {"evil": HOSTILE_NAME}
    assert [names[i] for i in ids] == sorted(names[i] for i in ids)
    assert 'aria-sort="ascending"' in html


def test_score_summaries_and_columns(owner: TestClient, loaded: ProjectFixture) -> None:
    html = owner.get(traces_url(loaded), params={"user": "user-1", "tags": "beta"}).text
    # r01: quality 1, tone friendly
    row = html[html.index('value="r01"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="score-name">quality</span> 1' in row
    assert '<span class="score-name">tone</span> friendly' in row
    assert ">vip</span>" in row and ">beta</span>" in row
    assert "2.00 s" in row  # latency of the 2-second span
    assert f'href="/project/{loaded.project.id}/traces/r01"' in row
    assert f'href="/project/{loaded.project.id}/sessions/sess-1"' in row


def test_hostile_names_and_tags_are_escaped(owner: TestClient, loaded: ProjectFixture) -> None:
    html = owner.get(traces_url(loaded), params={"user": HOSTILE_USER}).text
    assert shown_ids(html) == ["evil"]
    assert HOSTILE_NAME not in html and HOSTILE_TAG not in html and HOSTILE_USER not in html
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&#34;&gt;&lt;b&gt;user&lt;/b&gt;" in html
    # The session id cannot add path segments to its link.
    assert f'href="/project/{loaded.project.id}/sessions/s%2F..%2Fx"' in html
    # A hostile filter value is echoed escaped, in the form and in the links.
    echo = owner.get(traces_url(loaded), params={"name": "<script>x</script>"}).text
    assert "<script>x</script>" not in echo and 'value="&lt;script&gt;x&lt;/script&gt;"' in echo


BAD_FILTERS: list[tuple[dict[str, str], str]] = [
    ({"level": "LOUD"}, "level: must be one of"),
    ({"from": "yesterday"}, "from: not a date and time"),
    ({"after": "garbage"}, "cursor: not a page link"),
    ({"sort": "color.desc"}, "sort: unknown column"),
    ({"score": "quality", "score_op": ">", "score_value": "high"}, "needs a number"),
    ({"limit": "7"}, "limit: must be one of"),
]


def test_bad_filters_get_a_clear_400(owner: TestClient, loaded: ProjectFixture) -> None:
    for params, message in BAD_FILTERS:
        page = owner.get(traces_url(loaded), params=params)
        assert page.status_code == 400, params
        assert message in unescape(page.text), params


def add(
    client: TestClient, project: ProjectFixture, kind: str, data: dict[str, Any]
) -> httpx.Response:
    page = client.get(f"/project/{project.project.id}/{kind}")
    return client.post(
        f"/project/{project.project.id}/{kind}/add-to-queue",
        data={"csrf_token": form_csrf(page.text), **data},
    )


def queue_objects(db: Database, project: ProjectFixture, queue_id: str) -> set[str]:
    with db.read() as session:
        items, _ = queues.list_items(
            session, project.project.id, queue_id, queues.ItemFilter(), limit=1000
        )
        return {i.object_id for i in items}


def test_select_all_matching_adds_exactly_those_traces(
    owner: TestClient, loaded: ProjectFixture, db: Database
) -> None:
    configs = make_configs(db, loaded.project.id)
    want = expected(lambda r: "vip" in r.tags and r.release == "v1")
    response = add(
        owner,
        loaded,
        "traces",
        {
            "all_matching": "1",
            "filters": "tags=vip&release=v1",
            "ids": ["r03"],  # a ticked row outside the filter does not count with all_matching
            "queue_id": "__new__",
            "new_name": "VIP review",
            "new_configs": [configs["quality"], configs["tone"]],
            "new_annotators": "2",
        },
    )
    assert response.status_code == 200, response.text
    assert "Queue “VIP review” created" in response.text
    assert f'data-result="added">{len(want)} traces' in response.text
    with db.read() as session:
        summaries, _ = queues.list_queues(session, loaded.project.id)
        queue = next(s.queue for s in summaries if s.queue.name == "VIP review")
        assert queue.score_config_ids == [configs["quality"], configs["tone"]]
        assert queue.annotators_per_item == 2
    assert queue_objects(db, loaded, queue.id) == want
    # Again with a wider filter, into the existing queue: the rest are added, none twice.
    wider = expected(lambda r: "vip" in r.tags)
    again = add(
        owner,
        loaded,
        "traces",
        {"all_matching": "1", "filters": "tags=vip", "queue_id": queue.id},
    )
    assert f'data-result="added">{len(wider - want)} traces' in again.text
    assert f'data-result="already">{len(want)}<' in again.text
    assert queue_objects(db, loaded, queue.id) == wider


def test_ticked_rows_are_added_and_reported(
    owner: TestClient, loaded: ProjectFixture, db: Database
) -> None:
    configs = make_configs(db, loaded.project.id)
    with db.write() as session:
        queue = queues.create_queue(
            session, loaded.project.id, {"name": "Picked", "scoreConfigIds": [configs["quality"]]}
        )
        queues.add_items(session, loaded.project.id, queue.id, [queues.ObjectRef("TRACE", "r05")])
    response = add(owner, loaded, "traces", {"ids": ["r04", "r05", "evil"], "queue_id": queue.id})
    assert 'data-result="added">2 traces' in response.text
    assert 'data-result="already">1<' in response.text
    assert queue_objects(db, loaded, queue.id) == {"r04", "r05", "evil"}


def test_add_errors_are_explained_and_change_nothing(
    owner: TestClient, loaded: ProjectFixture, db: Database
) -> None:
    no_configs = add(
        owner, loaded, "traces", {"ids": ["r01"], "queue_id": "__new__", "new_name": "Empty"}
    )
    assert no_configs.status_code == 400
    assert "scoreConfigIds: give at least one score config" in unescape(no_configs.text)
    assert "Back to the list" in no_configs.text
    configs = make_configs(db, loaded.project.id)
    nothing = add(
        owner,
        loaded,
        "traces",
        {"queue_id": "__new__", "new_name": "Nothing", "new_configs": [configs["quality"]]},
    )
    assert nothing.status_code == 400 and "select at least one row" in nothing.text
    with db.read() as session:
        assert queues.list_queues(session, loaded.project.id)[1] == 0  # no queue left behind


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_roles_without_queue_rights_see_no_action_and_are_refused(
    app_client: TestClient, loaded: ProjectFixture, db: Database, role: Role
) -> None:
    person = add_member(db, loaded, f"{role.value.lower()}@example.com", role)
    configs = make_configs(db, loaded.project.id)
    client = login(app_client, person.email, person.password)
    for kind in ("traces", "observations", "sessions"):
        html = client.get(f"/project/{loaded.project.id}/{kind}").text
        assert "Add to queue" not in html and 'name="ids"' not in html
        assert "Actions" not in html
    html = client.get(traces_url(loaded)).text
    assert "r01" in html  # they do see the traces
    response = client.post(
        traces_url(loaded) + "/add-to-queue",
        data={
            "csrf_token": form_csrf(html),
            "ids": ["r01"],
            "queue_id": "__new__",
            "new_name": "Sneaky",
            "new_configs": [configs["quality"]],
        },
    )
    assert response.status_code == 403
    with db.read() as session:
        assert queues.list_queues(session, loaded.project.id)[1] == 0


def test_observations_list_filters_and_adds(
    owner: TestClient, loaded: ProjectFixture, db: Database
) -> None:
    url = f"/project/{loaded.project.id}/observations"
    html = owner.get(url, params={"level": "ERROR"}).text
    errors = {f"{i}-span" for i in expected(lambda r: r.error)}
    assert set(shown_ids(html)) == errors
    assert 'aria-current="page">Observations</a>' in html
    assert f'href="/project/{loaded.project.id}/traces/r07?observation=r07-span"' in html
    configs = make_configs(db, loaded.project.id)
    response = add(
        owner,
        loaded,
        "observations",
        {
            "all_matching": "1",
            "filters": "level=ERROR",
            "queue_id": "__new__",
            "new_name": "Errors",
            "new_configs": [configs["correct"]],
        },
    )
    assert f'data-result="added">{len(errors)} observations' in response.text
    with db.read() as session:
        queue = queues.list_queues(session, loaded.project.id)[0][0].queue
    assert queue_objects(db, loaded, queue.id) == errors


def test_sessions_list_shows_totals_and_adds(
    owner: TestClient, loaded: ProjectFixture, db: Database
) -> None:
    url = f"/project/{loaded.project.id}/sessions"
    html = owner.get(url, params={"user": "user-2"}).text
    want = {r.session for r in list_world.rows() if r.user == "user-2"}
    assert set(shown_ids(html)) == want
    row = html[html.index('value="sess-2"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="num">6</td>' in row  # traces of sess-2
    configs = make_configs(db, loaded.project.id)
    response = add(
        owner,
        loaded,
        "sessions",
        {
            "ids": ["sess-1", "sess-2"],
            "queue_id": "__new__",
            "new_name": "Sessions",
            "new_configs": [configs["notes"]],
        },
    )
    assert 'data-result="added">2 sessions' in response.text


def test_project_nav_links(owner: TestClient, loaded: ProjectFixture) -> None:
    html = owner.get(traces_url(loaded)).text
    base = f"/project/{loaded.project.id}"
    for path, label in (
        ("traces", "Traces"),
        ("sessions", "Sessions"),
        ("observations", "Observations"),
        ("annotation-queues", "Annotation queues"),
    ):
        assert f'href="{base}/{path}"' in html and f">{label}</a>" in html
    assert 'aria-current="page">Traces</a>' in html


def test_api_and_queue_filter_use_the_new_filters(
    app_client: TestClient, loaded: ProjectFixture, db: Database
) -> None:
    listed = app_client.get(
        "/api/public/traces",
        params={"scoreName": "quality", "scoreOperator": ">=", "scoreValue": 3, "level": "ERROR"},
        auth=loaded.auth,
    )
    assert listed.status_code == 200, listed.text
    want = expected(lambda r: r.quality is not None and r.quality >= 3 and r.error)
    assert {t["id"] for t in listed.json()["data"]} == want
    meta = app_client.get(
        "/api/public/traces",
        params={"metadataKey": "customer", "metadataValue": "acme", "limit": 100},
        auth=loaded.auth,
    )
    assert {t["id"] for t in meta.json()["data"]} == expected(lambda r: r.customer == "acme")
    half = app_client.get(
        "/api/public/traces", params={"metadataKey": "customer"}, auth=loaded.auth
    )
    assert half.status_code == 400 and "metadataKey and metadataValue" in half.json()["message"]
    configs = make_configs(db, loaded.project.id)
    queue = app_client.post(
        "/api/public/annotation-queues",
        json={"name": "From filter", "scoreConfigIds": [configs["quality"]]},
        auth=loaded.auth,
    ).json()
    first = app_client.post(
        f"/api/public/annotation-queues/{queue['id']}/items/from-filter",
        json={"filter": {"scoreName": "tone", "scoreStringValue": "friendly"}},
        auth=loaded.auth,
    )
    assert first.json() == {"added": len(expected(lambda r: r.tone == "friendly"))}
    rest = app_client.post(
        f"/api/public/annotation-queues/{queue['id']}/items/from-filter",
        json={
            "filter": {
                "metadataKey": "customer",
                "metadataValue": "acme",
                "notInQueueId": queue["id"],
            }
        },
        auth=loaded.auth,
    )
    assert rest.status_code == 200, rest.text
    assert queue_objects(db, loaded, queue["id"]) == expected(
        lambda r: r.tone == "friendly" or r.customer == "acme"
    )
