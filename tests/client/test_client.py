"""The Python client against the app in-process: the client sends through the TestClient."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.test_queues_api import make_configs, seed_traces
from tests.conftest import ProjectFixture, make_member, make_project
from tracemark.client import TracemarkClient, TracemarkError
from tracemark.db.engine import Database
from tracemark.db.models import Role


@dataclass
class Setup:
    project: TracemarkClient  # the project's key pair
    ann: TracemarkClient  # an annotator's personal token
    ann_id: str
    configs: dict[str, str]
    traces: list[str]
    queue_id: str


@pytest.fixture
def setup(app_client: TestClient, project: ProjectFixture, db: Database) -> Setup:
    configs = make_configs(app_client, project)  # quality (NUMERIC 1-5), correct (BOOLEAN)
    traces = seed_traces(app_client, project, 4)
    ann_user, token = make_member(db, project.project, "ann@example.com", Role.ANNOTATOR)
    keys = TracemarkClient(
        public_key=project.public_key, secret_key=project.secret_key, http=app_client
    )
    queue = keys.create_queue(
        "Review", [configs["quality"], configs["correct"]], description="Be strict."
    )
    assert (queue.name, queue.annotators_per_item, queue.lease_seconds) == ("Review", 1, 600)
    return Setup(
        project=keys,
        ann=TracemarkClient(token=token, http=app_client),
        ann_id=ann_user.id,
        configs=configs,
        traces=traces,
        queue_id=queue.id,
    )


def test_a_person_drains_a_queue(setup: Setup) -> None:
    qid, cfg = setup.queue_id, setup.configs
    added = setup.project.add_items(qid, [("TRACE", t) for t in setup.traces[:3]])
    assert added.added == 3 and {i.object_id for i in added.items} == set(setup.traces[:3])

    seen = []
    for n, item in enumerate(setup.ann.iterate_queue(qid)):
        assert item.object is not None and item.object["input"].startswith("q")
        assert [c.name for c in item.configs] == ["quality", "correct"]
        assert item.configs[0].max_value == 5.0 and item.description == "Be strict."
        assert item.lease_expires_at is not None
        if n == 0:  # both forms of scores: {configId: value} and a list with comments
            done = setup.ann.complete(qid, item.id, {cfg["quality"]: 4, cfg["correct"]: True})
        else:
            done = setup.ann.complete(
                qid,
                item.id,
                [
                    {"configId": cfg["quality"], "value": 2, "comment": "vague"},
                    {"configId": cfg["correct"], "value": False},
                ],
                comment=f"item {n}",
            )
        assert done.item.status == "COMPLETED" and len(done.score_ids) == 2
        assert not done.already_completed
        seen.append(item.object_id)
    assert sorted(seen) == setup.traces[:3]
    assert setup.ann.next_item(qid) is None

    progress = setup.ann.progress(qid)
    assert (progress.total, progress.completed, progress.pending, progress.completions) == (
        3,
        3,
        0,
        3,
    )
    [annotator] = progress.annotators
    assert (annotator.user_id, annotator.completed, annotator.skipped) == (setup.ann_id, 3, 0)

    rows = list(csv.DictReader(io.StringIO(b"".join(setup.project.export_queue(qid)).decode())))
    assert sorted(r["objectId"] for r in rows) == setup.traces[:3]
    assert {r["annotatorEmail"] for r in rows} == {"ann@example.com"}
    assert sorted(r["quality"] for r in rows) == ["2.0", "2.0", "4.0"]
    assert sorted(r["quality comment"] for r in rows) == ["", "vague", "vague"]

    # Completing again updates Ana's score; its history keeps both values.
    first = done.item
    again = setup.ann.complete(qid, first.id, {cfg["quality"]: 5, cfg["correct"]: True})
    assert again.already_completed
    history = setup.project.score_history(again.score_ids[0])
    assert [(c.action, c.new_value) for c in history] == [("CREATE", 2.0), ("UPDATE", 5.0)]
    assert history[1].old_value == 2.0 and history[1].changed_by_user_id == setup.ann_id


def test_skip_release_heartbeat_and_an_item_left_unfinished(setup: Setup) -> None:
    qid = setup.queue_id
    setup.project.add_items(qid, [("TRACE", setup.traces[0]), ("TRACE", setup.traces[1])])
    items = setup.ann.iterate_queue(qid)
    first = next(items)
    lease = setup.ann.heartbeat(qid, first.id)
    assert lease is not None and first.lease_expires_at is not None
    assert lease >= first.lease_expires_at
    setup.ann.release(qid, first.id)
    with pytest.raises(RuntimeError, match=f"item {first.id} came back"):
        next(items)  # released, so offered again: the loop would never end

    skipped = setup.ann.skip(qid, setup.ann.next_item(qid).id)  # type: ignore[union-attr]
    assert skipped.status == "PENDING"  # others may still annotate it
    remaining = []
    for item in setup.ann.iterate_queue(qid):
        setup.ann.complete(qid, item.id, {setup.configs["correct"]: True})
        remaining.append(item.id)
    assert len(remaining) == 1 and remaining[0] != skipped.id
    assert setup.ann.progress(qid).skipped == 1
    with pytest.raises(TracemarkError) as no_lease:
        setup.ann.release(qid, skipped.id)
    assert no_lease.value.status == 409 and "no lease" in no_lease.value.message


def test_errors_carry_the_servers_message(
    app_client: TestClient, setup: Setup, db: Database
) -> None:
    qid, cfg = setup.queue_id, setup.configs
    setup.project.add_items(qid, [("TRACE", setup.traces[0])])
    item = setup.ann.next_item(qid)
    assert item is not None

    with pytest.raises(TracemarkError) as invalid:
        setup.ann.complete(qid, item.id, {cfg["correct"]: True, cfg["quality"]: 9})
    assert invalid.value.status == 400 and invalid.value.error == "InvalidRequest"
    assert invalid.value.message.startswith("scores[1]: ")
    assert "above the maximum 5" in invalid.value.message
    assert str(invalid.value).startswith("400 InvalidRequest: scores[1]")
    assert setup.ann.progress(qid).completions == 0  # nothing was written

    with pytest.raises(TracemarkError) as key_pair:
        setup.project.next_item(qid)
    assert key_pair.value.status == 403 and "personal access token" in key_pair.value.message

    other = make_project(db, "Other", owner_email="o@example.com")
    foreign = TracemarkClient(
        public_key=other.public_key, secret_key=other.secret_key, http=app_client
    )
    for call in (
        lambda: foreign.progress(qid),
        lambda: foreign.export_queue(qid),
        lambda: foreign.add_items(qid, [("TRACE", "t000")]),
    ):
        with pytest.raises(TracemarkError) as not_found:
            call()
        assert not_found.value.status == 404 and not_found.value.error == "NotFound"
        assert not_found.value.message

    with pytest.raises(TracemarkError) as bad_format:
        setup.project.export_scores(format="xml")  # raised at the call, before iterating
    assert bad_format.value.status == 400 and "format" in bad_format.value.message
    with pytest.raises(TypeError, match="unknown filter 'tarce_id'"):
        setup.project.export_scores(tarce_id=setup.traces[0])

    nobody = TracemarkClient(token="tm-pat-wrong", http=app_client)
    with pytest.raises(TracemarkError) as unauthorized:
        nobody.progress(qid)
    assert unauthorized.value.status == 401


def test_key_pair_adds_items_and_exports(
    setup: Setup, app_client: TestClient, project: ProjectFixture
) -> None:
    qid, cfg = setup.queue_id, setup.configs
    bulk = setup.project.add_items(
        qid,
        [
            ("TRACE", setup.traces[0]),
            {"objectType": "TRACE", "objectId": setup.traces[1], "priority": 5},
            ("TRACE", "missing"),
        ],
    )
    assert bulk.added == 2 and bulk.not_found == (("TRACE", "missing"),)
    again = setup.project.add_items(qid, [("TRACE", setup.traces[0])])
    assert again.added == 0 and again.already_present == (("TRACE", setup.traces[0]),)
    assert setup.project.add_items(qid, []).added == 0
    # seed_traces gives odd traces the user u1: t001 (already in) and t003.
    assert setup.project.add_items_from_filter(qid, {"userId": "u1"}) == 1
    assert setup.project.add_items_from_filter(qid, {}, limit=1) == 1
    with pytest.raises(TracemarkError, match="colour"):
        setup.project.add_items_from_filter(qid, {"colour": "red"})
    assert setup.project.progress(qid).total == 4

    first = setup.ann.next_item(qid)
    assert first is not None and first.object_id == setup.traces[1]  # the higher priority
    setup.ann.complete(qid, first.id, {cfg["quality"]: 3, cfg["correct"]: True})
    for item in setup.ann.iterate_queue(qid):
        setup.ann.complete(qid, item.id, {cfg["quality"]: 5, cfg["correct"]: False})

    stream = setup.project.export_queue(qid)
    assert stream.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(stream).decode())))
    assert sorted((r["objectId"], r["quality"], r["correct"], r["status"]) for r in rows) == [
        (setup.traces[0], "5.0", "False", "COMPLETED"),
        (setup.traces[1], "3.0", "True", "COMPLETED"),
        (setup.traces[2], "5.0", "False", "COMPLETED"),
        (setup.traces[3], "5.0", "False", "COMPLETED"),
    ]
    lines = b"".join(setup.project.export_queue(qid, format="jsonl")).decode().splitlines()
    assert {json.loads(line)["annotatorId"] for line in lines} == {setup.ann_id}

    # Scores: the queue's eight ANNOTATION scores, and a judge's EVAL score outside the queue.
    judged = app_client.post(
        "/api/public/scores",
        json={"traceId": setup.traces[0], "name": "judge", "value": 0.5, "source": "EVAL"},
        auth=project.auth,
    )
    assert judged.status_code == 200, judged.text
    with setup.project.export_scores() as everything:
        chunks = list(everything)
    assert chunks and all(isinstance(c, bytes) for c in chunks)
    assert len(list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))) == 9
    scores = list(
        csv.DictReader(io.StringIO(b"".join(setup.project.export_scores(queue_id=qid)).decode()))
    )
    assert len(scores) == 8
    assert {(r["source"], r["authorEmail"], r["queueId"]) for r in scores} == {
        ("ANNOTATION", "ann@example.com", qid)
    }
    assert sorted(r["value"] for r in scores if r["traceId"] == setup.traces[1]) == ["1.0", "3.0"]
    only = setup.project.export_scores(
        format="jsonl", name=["quality"], trace_id=setup.traces[1], source="ANNOTATION"
    )
    records = [json.loads(line) for line in b"".join(only).splitlines()]
    assert [(r["name"], r["value"], r["queueId"]) for r in records] == [("quality", 3.0, qid)]
    assert b"".join(setup.project.export_scores(format="json", queue_id="nope")).strip() == b"[]"


# --- without a server: construction, authorization header, errors that are not JSON --------


def test_authorization_and_base_url_with_a_mock_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/progress"):
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        return httpx.Response(200, json={"item": None})

    http = httpx.Client(
        transport=httpx.MockTransport(handler), base_url="https://example.org/tracemark/"
    )
    client = TracemarkClient(public_key="pk", secret_key="sk", http=http)
    assert client.next_item("q/1") is None
    assert (
        str(seen[0].url) == "https://example.org/tracemark/api/public/annotation-queues/q%2F1/next"
    )
    assert seen[0].headers["Authorization"] == "Basic cGs6c2s="  # base64("pk:sk")
    with pytest.raises(TracemarkError) as proxy:
        client.progress("q")
    assert (proxy.value.status, proxy.value.error) == (502, "BadGateway")
    assert "Bad Gateway" in proxy.value.message
    client.close()
    assert not http.is_closed  # an injected client belongs to the caller

    with pytest.raises(ValueError, match="not both"):
        TracemarkClient(token="t", public_key="pk", secret_key="sk")
    with pytest.raises(ValueError, match="both public_key and secret_key"):
        TracemarkClient(public_key="pk")
    with TracemarkClient("http://127.0.0.1:3000/", token="tm-pat-x") as own:
        assert own.base_url == "http://127.0.0.1:3000"
