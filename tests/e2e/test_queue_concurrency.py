"""Annotation queues under concurrency, through real `tracemark serve` processes (issue 5).

Twelve annotators (threads, each with its own personal access token and keep-alive client)
drain a 300-item queue with annotatorsPerItem=2: next -> complete, or skip for the items an
annotator skips, until the queue is complete. On PostgreSQL three server processes share the
database and every annotator spreads its requests over all three, so next and complete for one
item usually land on different processes; on SQLite one server process takes all twelve.
Afterwards every invariant is checked through the API and in the database: each item completed
by exactly two distinct annotators, nobody twice, no skipped item completed by its skipper,
every score there exactly once with the value its annotator sent, no lease left, progress
totals in agreement, no traceback in any server log.

The lease test moves lease_expires_at in the database (as time passing would) instead of
waiting for the 10 s minimum lease to run out.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.conftest import ProjectFixture, Server, make_member, make_project, start_server
from tracemark.db.engine import Database
from tracemark.db.models import QueueItem, QueueWork, Role, Score, WorkState

pytestmark = pytest.mark.e2e

ITEMS = 300
ANNOTATORS = 12
PER_ITEM = 2
SKIPPERS = 4  # annotators 0..3 skip every item whose number is a multiple of SKIP_EVERY
SKIP_EVERY = 17
# Generous: a process's first request with each token checks it with Argon2 (64 MiB, tens of
# milliseconds), twelve at once per process, on what may be a busy machine.
TIMEOUT = httpx.Timeout(120.0)
BUSY_RETRIES = 50
IDLE_PAUSE = 0.05  # first pause when next answers null but the queue is not complete
IDLE_LIMIT = 120.0  # an annotator given nothing for this long stops; the checks then report
Q = "/api/public/annotation-queues"


# --- helpers ----------------------------------------------------------------------------------


def expect(response: httpx.Response, *statuses: int) -> Any:
    """The JSON body, or a failure naming the request, the status and the body."""
    allowed = statuses or (200,)
    if response.status_code not in allowed:
        request = response.request
        raise AssertionError(
            f"{request.method} {request.url} answered {response.status_code} "
            f"(expected {', '.join(map(str, allowed))}): {response.text[:2000]}"
        )
    return response.json()


def send(
    client: httpx.Client, method: str, url: str, busy: list[str], **kwargs: Any
) -> httpx.Response:
    """One request; a 503 (database busy) is retried after a tiny backoff and recorded."""
    for attempt in range(BUSY_RETRIES):
        response = client.request(method, url, **kwargs)
        if response.status_code != 503:
            return response
        busy.append(f"{method} {url}: {response.text[:200]}")
        time.sleep(0.01 * (attempt + 1))
    return response


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def trace_id(number: int) -> str:
    return f"t{number:03d}"


def number_of(object_id: str) -> int:
    return int(object_id[1:])


def quality_of(number: int, annotator: int) -> int:
    """The NUMERIC (1..5) value annotator `annotator` gives item `number`."""
    return 1 + (number * 7 + annotator) % 5


def correct_of(number: int, annotator: int) -> bool:
    """The BOOLEAN value annotator `annotator` gives item `number`."""
    return (number + annotator) % 3 != 0


def skips(annotator: int, number: int) -> bool:
    return annotator < SKIPPERS and number % SKIP_EVERY == 0


def ingest_traces(base: str, project: ProjectFixture, count: int, batch: int = 100) -> None:
    with httpx.Client(base_url=base, auth=project.auth, timeout=TIMEOUT) as client:
        for start in range(0, count, batch):
            events = [
                {
                    "id": f"e{i}",
                    "type": "trace-create",
                    "timestamp": "2026-11-20T10:00:00Z",
                    "body": {
                        "id": trace_id(i),
                        "name": "chat",
                        "timestamp": f"2026-11-20T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                        "input": f"question {i}",
                        "output": f"answer {i}",
                    },
                }
                for i in range(start, min(start + batch, count))
            ]
            body = expect(client.post("/api/public/ingestion", json={"batch": events}), 207)
            assert body["errors"] == [], body["errors"]
            assert len(body["successes"]) == len(events)


def make_queue(
    base: str, project: ProjectFixture, items: int, **options: Any
) -> tuple[str, dict[str, str]]:
    """Score configs, a queue with `options`, and traces 0..items-1 as its items."""
    with httpx.Client(base_url=base, auth=project.auth, timeout=TIMEOUT) as client:
        configs: dict[str, str] = {
            str(body["name"]): expect(client.post("/api/public/score-configs", json=body))["id"]
            for body in (
                {"name": "quality", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
                {"name": "correct", "dataType": "BOOLEAN"},
            )
        }
        queue = expect(
            client.post(
                Q, json={"name": "Concurrent", "scoreConfigIds": list(configs.values()), **options}
            )
        )
        added = 0
        for start in range(0, items, 150):
            bulk = expect(
                client.post(
                    f"{Q}/{queue['id']}/items/bulk",
                    json={
                        "items": [
                            {"objectType": "TRACE", "objectId": trace_id(i)}
                            for i in range(start, min(start + 150, items))
                        ]
                    },
                )
            )
            assert bulk["notFound"] == [] and bulk["alreadyPresent"] == [], bulk
            added += bulk["added"]
        assert added == items
        return queue["id"], configs


def server_trouble(servers: list[Server]) -> str:
    """What the servers logged about errors: tracebacks and "database unavailable" warnings."""
    out = []
    for server in servers:
        log = server.log.read_text(errors="replace")
        if "Traceback" in log:
            out.append(f"{server.url} logged a traceback:\n{log[-6000:]}")
        busy = [line for line in log.splitlines() if "database unavailable" in line]
        if busy:
            out.append(f"{server.url} logged {len(busy)} busy database(s):\n" + "\n".join(busy[:5]))
    return "\n".join(out)


def assert_clean_logs(servers: list[Server]) -> None:
    trouble = server_trouble(servers)
    assert not trouble, trouble


@pytest.fixture
def servers(engine_name: str, database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Three `tracemark serve` processes on one PostgreSQL database, or one on SQLite.

    Started one after another: on a busy machine three at once can each miss the 60 s start
    deadline.
    """
    running: list[Server] = []
    try:
        for n in range(3 if engine_name == "postgres" else 1):
            running.append(start_server(database_url, tmp_path / f"server-{n}"))
        yield running
    finally:
        for server in running:
            server.stop()


# --- twelve annotators drain a queue ----------------------------------------------------------


@dataclass
class Annotator:
    index: int
    user_id: str
    email: str
    token: str
    completed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    numbers: dict[str, int] = field(default_factory=dict)  # item id -> trace number
    hits: Counter[str] = field(default_factory=Counter)  # requests per server
    busy: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


def annotate(
    who: Annotator,
    urls: list[str],
    queue_id: str,
    configs: dict[str, str],
    stop: threading.Event,
) -> None:
    """Complete every item next hands out (with values derived from the item and the
    annotator), or skip it if this annotator skips it, until the queue is complete.

    A null from next means "nothing for you now", not "the queue is done": an item that others
    hold the places of comes back when one of them skips it. So on null the annotator looks at
    the progress and asks again shortly (backing off), until every item is completed.
    Requests rotate over `urls`, so next and complete for one item reach different servers.
    """
    calls = 0

    def call(
        client: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        nonlocal calls
        url = urls[(who.index + calls) % len(urls)]
        calls += 1
        who.hits[url] += 1
        return expect(send(client, method, url + path, who.busy, json=body))

    pause = IDLE_PAUSE
    idle_since: float | None = None
    try:
        with httpx.Client(headers=bearer(who.token), timeout=TIMEOUT) as client:
            while not stop.is_set():
                item = call(client, "POST", f"{Q}/{queue_id}/next")["item"]
                if item is None:
                    who.events.append("next: null")
                    progress = call(client, "GET", f"{Q}/{queue_id}/progress")
                    if progress["completed"] == progress["total"]:
                        return
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > IDLE_LIMIT:
                        return  # the checks after the drain say which items are stuck
                    time.sleep(pause)
                    pause = min(pause * 2, 0.5)
                    continue
                pause, idle_since = IDLE_PAUSE, None
                item_id, object_id = item["id"], item["objectId"]
                assert item_id not in who.numbers, (
                    f"{who.email} was handed item {item_id} ({object_id}) again after "
                    f"{'skipping' if item_id in who.skipped else 'completing'} it"
                )
                assert item["status"] == "PENDING" and item["leaseExpiresAt"], item
                assert item["completionCount"] < PER_ITEM, item
                number = number_of(object_id)
                who.numbers[item_id] = number
                if skips(who.index, number):
                    call(client, "POST", f"{Q}/{queue_id}/items/{item_id}/skip")
                    who.events.append(f"skipped {object_id}")
                    who.skipped.append(item_id)
                    continue
                scores = [
                    {"configId": configs["quality"], "value": quality_of(number, who.index)},
                    {"configId": configs["correct"], "value": correct_of(number, who.index)},
                ]
                done = call(
                    client,
                    "POST",
                    f"{Q}/{queue_id}/items/{item_id}/complete",
                    {"scores": scores},
                )
                count = done["item"]["completionCount"]
                who.events.append(f"completed {object_id} as number {count}")
                assert done["alreadyCompleted"] is False, done
                assert len(done["scoreIds"]) == 2, done
                assert 1 <= count <= PER_ITEM, (
                    f"{who.email} completed {object_id} as completion number {count}, "
                    f"but annotatorsPerItem is {PER_ITEM}: the item was leased to too many"
                )
                who.completed.append(item_id)
    except BaseException:
        stop.set()
        raise


def describe_items(
    db: Database, queue_id: str, object_ids: list[str], annotators: list[Annotator]
) -> str:
    """The stored state of some items and each annotator's events about them."""
    emails = {a.user_id: a.email for a in annotators}
    lines = []
    with db.read() as session:
        for object_id in object_ids:
            item = session.scalar(
                select(QueueItem).where(
                    QueueItem.queue_id == queue_id, QueueItem.object_id == object_id
                )
            )
            if item is None:
                lines.append(f"{object_id}: not in the queue")
                continue
            lines.append(
                f"{object_id} ({item.id}): {item.status}, completion_count {item.completion_count}"
            )
            for work in session.scalars(select(QueueWork).where(QueueWork.item_id == item.id)):
                lines.append(
                    f"    {emails.get(work.user_id, work.user_id)}: {work.state}, "
                    f"lease until {work.lease_expires_at}, updated {work.updated_at}"
                )
            for who in annotators:
                for event in who.events:
                    if event.endswith(object_id) or f" {object_id} " in event:
                        lines.append(f"    client {who.email}: {event}")
    return "\n".join(lines)


def all_pages(client: httpx.Client, url: str, params: dict[str, Any], limit: int) -> list[Any]:
    rows: list[Any] = []
    page = 1
    while True:
        body = expect(client.get(url, params={**params, "page": page, "limit": limit}))
        rows += body["data"]
        if page >= body["meta"]["totalPages"]:
            assert len(rows) == body["meta"]["totalItems"], body["meta"]
            return rows
        page += 1


def test_annotators_drain_a_queue_concurrently(
    engine_name: str, servers: list[Server], db: Database
) -> None:
    started = time.monotonic()
    urls = [s.url for s in servers]
    project = make_project(db)
    ingest_traces(urls[0], project, ITEMS)
    queue_id, configs = make_queue(urls[-1], project, ITEMS, annotatorsPerItem=PER_ITEM)
    annotators = []
    for index in range(ANNOTATORS):
        email = f"annotator{index:02d}@example.com"
        user, token = make_member(db, project.project, email, Role.ANNOTATOR)
        annotators.append(Annotator(index, user.id, email, token))
    by_id = {a.user_id: a for a in annotators}

    stop = threading.Event()
    with ThreadPoolExecutor(ANNOTATORS) as pool:
        futures = [pool.submit(annotate, a, urls, queue_id, configs, stop) for a in annotators]
        try:
            for future in futures:
                future.result()
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{server_trouble(servers)}") from exc
    drained = time.monotonic() - started

    # Every annotator's requests reached every server.
    for who in annotators:
        assert set(who.hits) == set(urls), (who.email, who.hits)
    # Writes to one database from one process (SQLite) or many (PostgreSQL, row locks) must
    # not surface as "busy" answers.
    busy = [b for a in annotators for b in a.busy]
    assert busy == [], f"{len(busy)} busy (503) answers: {busy[:3]}\n{server_trouble(servers)}"

    # The annotators' own record: nobody completed an item twice or completed one it skipped.
    completions = Counter((a.user_id, i) for a in annotators for i in a.completed)
    assert max(completions.values()) == 1
    skipped_pairs = {(a.user_id, i) for a in annotators for i in a.skipped}
    assert not skipped_pairs & set(completions)
    # A skipper is offered a multiple of 17 only if two others have not filled it first.
    assert 0 < len(skipped_pairs) <= SKIPPERS * len(range(0, ITEMS, SKIP_EVERY))
    completers: dict[str, set[str]] = {}
    for user_id, item_id in completions:
        completers.setdefault(item_id, set()).add(user_id)

    with httpx.Client(base_url=urls[0], auth=project.auth, timeout=TIMEOUT) as client:
        # Every item COMPLETED, by exactly two distinct annotators: those who said they did,
        # none of them one who skips it.
        items = all_pages(client, f"{Q}/{queue_id}/items", {}, 1000)
        assert len(items) == ITEMS
        wrong = [
            item["objectId"]
            for item in items
            if item["status"] != "COMPLETED"
            or item["completionCount"] != PER_ITEM
            or len(item["completedByUserIds"]) != PER_ITEM
            or set(item["completedByUserIds"]) != completers.get(item["id"])
            or any(
                skips(by_id[u].index, number_of(item["objectId"]))
                for u in item["completedByUserIds"]
            )
        ]
        assert not wrong, (
            f"{len(wrong)} item(s) not completed exactly as the annotators said:\n"
            + describe_items(db, queue_id, wrong[:10], annotators)
        )
        assert len(completions) == ITEMS * PER_ITEM
        pending = expect(client.get(f"{Q}/{queue_id}/items", params={"status": "PENDING"}))
        assert pending["meta"]["totalItems"] == 0

        # Every (item, annotator) has exactly its two scores, with the values it sent.
        scores = all_pages(
            client, "/api/public/v2/scores", {"queueId": queue_id, "source": "ANNOTATION"}, 100
        )
        assert len(scores) == ITEMS * PER_ITEM * 2
        keyed = Counter((s["traceId"], s["authorUserId"], s["name"]) for s in scores)
        assert max(keyed.values()) == 1, keyed.most_common(3)
        object_of = {item["id"]: item["objectId"] for item in items}
        for user_id, item_id in completions:
            who = by_id[user_id]
            number = who.numbers[item_id]
            assert object_of[item_id] == trace_id(number)
            assert (trace_id(number), user_id, "quality") in keyed
            assert (trace_id(number), user_id, "correct") in keyed
        for score in scores:
            who = by_id[score["authorUserId"]]
            number = number_of(score["traceId"])
            assert score["queueId"] == queue_id and score["configId"] == configs[score["name"]]
            if score["name"] == "quality":
                assert score["value"] == quality_of(number, who.index), score
            else:
                assert score["value"] == (1.0 if correct_of(number, who.index) else 0.0), score
                assert score["stringValue"] == str(correct_of(number, who.index)), score

        # The progress endpoint agrees, overall and per annotator.
        progress = expect(client.get(f"{Q}/{queue_id}/progress"))
        assert (
            progress["total"],
            progress["completed"],
            progress["pending"],
            progress["inProgress"],
            progress["completions"],
        ) == (ITEMS, ITEMS, 0, 0, ITEMS * PER_ITEM), progress
        assert progress["skipped"] == len({i for _, i in skipped_pairs}), progress
        per_annotator = {a["userId"]: a for a in progress["annotators"]}
        assert sum(a["completed"] for a in progress["annotators"]) == ITEMS * PER_ITEM
        for who in annotators:
            entry = per_annotator.get(who.user_id)
            if not who.completed and not who.skipped:
                assert entry is None or entry["completed"] == entry["skipped"] == 0
                continue
            assert entry is not None, who.email
            assert (entry["completed"], entry["skipped"], entry["inProgress"]) == (
                len(who.completed),
                len(who.skipped),
                0,
            ), (who.email, entry)

    # And in the database itself: no lease left, no score lost or doubled.
    with db.read() as session:
        states = dict(
            session.execute(
                select(QueueWork.state, func.count())
                .where(QueueWork.queue_id == queue_id)
                .group_by(QueueWork.state)
            ).all()
        )
        assert states == {
            WorkState.COMPLETED.value: ITEMS * PER_ITEM,
            **({WorkState.SKIPPED.value: len(skipped_pairs)} if skipped_pairs else {}),
        }
        stored = session.scalar(
            select(func.count())
            .select_from(Score)
            .where(Score.project_id == project.project.id, Score.source == "ANNOTATION")
        )
        assert stored == ITEMS * PER_ITEM * 2
    assert_clean_logs(servers)
    print(
        f"\n{engine_name}: {len(servers)} server(s), {ANNOTATORS} annotators drained {ITEMS} "
        f"items x {PER_ITEM} in {drained:.1f} s ({len(skipped_pairs)} skips, "
        f"{sum(a.events.count('next: null') for a in annotators) - ANNOTATORS} nulls before the "
        f"end; requests per "
        f"server {dict(sum((a.hits for a in annotators), Counter()))})"
    )


# --- leases with a real server -----------------------------------------------------------------


def assert_lease(value: str, before: datetime, after: datetime, seconds: int) -> datetime:
    """`value` (the wire's millisecond ISO time) is `seconds` after a moment in [before, after]."""
    expires = datetime.fromisoformat(value.replace("Z", "+00:00"))
    low = before + timedelta(seconds=seconds, milliseconds=-1)
    high = after + timedelta(seconds=seconds, milliseconds=1)
    assert low <= expires <= high, (value, before, after)
    return expires


def move_lease(db: Database, user_id: str, when: datetime) -> None:
    """Set `user_id`'s live lease to expire at `when`, as if time had passed."""
    with db.write() as session:
        changed = session.execute(
            update(QueueWork)
            .where(QueueWork.user_id == user_id, QueueWork.state == WorkState.IN_PROGRESS.value)
            .values(lease_expires_at=when)
        )
        assert getattr(changed, "rowcount", None) == 1


def stored_lease(db: Database, user_id: str) -> datetime | None:
    with db.read() as session:
        return session.scalar(
            select(QueueWork.lease_expires_at).where(
                QueueWork.user_id == user_id, QueueWork.state == WorkState.IN_PROGRESS.value
            )
        )


def test_lease_expiry_frees_the_place_and_heartbeat_keeps_it(server: Server, db: Database) -> None:
    lease = 60
    project = make_project(db)
    ingest_traces(server.url, project, 1)
    queue_id, configs = make_queue(server.url, project, 1, annotatorsPerItem=1, leaseSeconds=lease)
    ann_user, ann_token = make_member(db, project.project, "ann@example.com", Role.ANNOTATOR)
    bob_user, bob_token = make_member(db, project.project, "bob@example.com", Role.ANNOTATOR)
    busy: list[str] = []
    scores = {"scores": [{"configId": configs["quality"], "value": 3}]}
    with (
        httpx.Client(base_url=server.url, headers=bearer(ann_token), timeout=TIMEOUT) as ann,
        httpx.Client(base_url=server.url, headers=bearer(bob_token), timeout=TIMEOUT) as bob,
        httpx.Client(base_url=server.url, auth=project.auth, timeout=TIMEOUT) as admin,
    ):

        def post(client: httpx.Client, path: str, *statuses: int, **kwargs: Any) -> Any:
            return expect(send(client, "POST", f"{Q}/{queue_id}{path}", busy, **kwargs), *statuses)

        def progress() -> tuple[int, int, int]:
            body = expect(admin.get(f"{Q}/{queue_id}/progress"))
            return body["pending"], body["inProgress"], body["completed"]

        before = datetime.now(UTC)
        item = post(ann, "/next")["item"]
        assert item is not None
        item_id = item["id"]
        assert_lease(item["leaseExpiresAt"], before, datetime.now(UTC), lease)
        assert post(ann, "/next")["item"]["id"] == item_id  # the same item while the lease lives
        assert progress() == (0, 1, 0)

        # While Ann's lease lives, the only place is hers.
        assert post(bob, "/next")["item"] is None
        taken = post(bob, f"/items/{item_id}/complete", 409, json=scores)
        assert "already has its 1 annotator" in taken["message"]
        post(bob, f"/items/{item_id}/heartbeat", 409)
        # ... even when it is about to run out.
        soon = datetime.now(UTC) + timedelta(seconds=20)
        move_lease(db, ann_user.id, soon)
        assert post(bob, "/next")["item"] is None

        # A heartbeat moves the lease forward, to a full lease from now.
        before = datetime.now(UTC)
        beat = post(ann, f"/items/{item_id}/heartbeat")
        renewed = assert_lease(beat["leaseExpiresAt"], before, datetime.now(UTC), lease)
        assert renewed > soon + timedelta(seconds=lease - 25), (soon, renewed)
        stored = stored_lease(db, ann_user.id)
        assert stored is not None and abs(stored - renewed) < timedelta(milliseconds=1)
        assert post(bob, "/next")["item"] is None

        # An expired lease nobody else took is renewed by a heartbeat.
        move_lease(db, ann_user.id, datetime.now(UTC) - timedelta(seconds=1))
        assert progress() == (1, 0, 0)
        before = datetime.now(UTC)
        beat = post(ann, f"/items/{item_id}/heartbeat")
        assert_lease(beat["leaseExpiresAt"], before, datetime.now(UTC), lease)
        assert progress() == (0, 1, 0)
        assert post(bob, "/next")["item"] is None

        # An expired lease frees the place: Bob gets the item, Ann's heartbeat is refused.
        move_lease(db, ann_user.id, datetime.now(UTC) - timedelta(seconds=1))
        assert post(bob, "/next")["item"]["id"] == item_id
        late = post(ann, f"/items/{item_id}/heartbeat", 409)
        assert "expired" in late["message"]
        assert post(ann, "/next")["item"] is None
        post(ann, f"/items/{item_id}/complete", 409, json=scores)

        # Bob gives it back; Ann takes it again and completes it; then nothing is left.
        assert post(bob, f"/items/{item_id}/release") == {"success": True}
        assert post(ann, "/next")["item"]["id"] == item_id
        done = post(ann, f"/items/{item_id}/complete", json=scores)
        assert done["item"]["status"] == "COMPLETED" and done["item"]["completionCount"] == 1
        assert post(bob, "/next")["item"] is None
        assert post(ann, "/next")["item"] is None
        assert progress() == (0, 0, 1)
        item_now = expect(admin.get(f"{Q}/{queue_id}/items/{item_id}"))
        assert item_now["completedByUserIds"] == [ann_user.id]
        assert bob_user.id not in item_now["completedByUserIds"]
    assert busy == []
    assert_clean_logs([server])
