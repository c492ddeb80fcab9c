"""A small project with known scores, traces and a queue: shared by the dashboard tests.

Rows are written straight into the tables (through the ORM) so that every timestamp is known;
the numbers the tests expect are written next to the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.conftest import ProjectFixture, make_member
from tracemark.db.engine import Database
from tracemark.db.models import (
    AnnotationQueue,
    QueueItem,
    QueueWork,
    Role,
    Score,
    Trace,
    TraceTag,
)

DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 8, tzinfo=UTC)
EVIL = '<img src=x onerror="alert(1)">'  # a score name and a trace name holding HTML


@dataclass
class AnalyticsWorld:
    project_id: str
    alice_id: str
    bob_id: str
    queue_id: str
    alice_token: str


def _trace(project_id: str, trace_id: str, name: str, env: str, tags: list[str]) -> Trace:
    return Trace(
        project_id=project_id,
        id=trace_id,
        timestamp=DAY1,
        name=name,
        environment=env,
        tags=tags,
        metadata_={},
        explicit=[],
    )


def make_analytics_world(db: Database, project: ProjectFixture) -> AnalyticsWorld:
    """Scores between 2026-11-02 and 2026-11-05, and one outside (2026-10-20).

    quality  NUMERIC API:        0.1 (t1, day 1), 0.5 (t2, day 1), 0.9 (t3, day 2),
                                 1.0 (t1, day 4); 0.3 on 2026-10-20 (t1, outside)
    rating   NUMERIC ANNOTATION: 1 (alice, t1, day 1), 2 (alice, t2, day 1),
                                 2 (bob, t1, day 2), 5 (bob, t3, day 2)
    tone     CATEGORICAL EVAL:   good (t1), good (t2), bad (t3), all day 3
    ok       BOOLEAN ANNOTATION: True (alice, t1, day 1), False (alice, t2, day 2),
                                 True (bob, t3, day 2)
    EVIL     NUMERIC API:        7 (t2, day 1)
    t1: chat/production/[beta]; t2: EVIL/staging/[vip]; t3: chat/production/[beta, vip]
    Queue "Review": 4 items (t1, t2, t3, t4), 2 completed (alice on day 1, bob on day 2).
    """
    alice, alice_token = make_member(db, project.project, "alice@example.com", Role.ANNOTATOR)
    bob, _ = make_member(db, project.project, "bob@example.com", Role.ANNOTATOR)
    p = project.project.id
    day = [DAY1 + timedelta(days=i) for i in range(4)]
    env = {"t1": "production", "t2": "staging", "t3": "production"}
    rows: list[tuple[str, str, str, float | None, str | None, str, datetime, str | None]] = [
        ("quality", "API", "NUMERIC", 0.1, None, "t1", day[0], None),
        ("quality", "API", "NUMERIC", 0.5, None, "t2", day[0], None),
        ("quality", "API", "NUMERIC", 0.9, None, "t3", day[1], None),
        ("quality", "API", "NUMERIC", 1.0, None, "t1", day[3], None),
        ("quality", "API", "NUMERIC", 0.3, None, "t1", datetime(2026, 10, 20, tzinfo=UTC), None),
        ("rating", "ANNOTATION", "NUMERIC", 1.0, None, "t1", day[0], alice.id),
        ("rating", "ANNOTATION", "NUMERIC", 2.0, None, "t2", day[0] + timedelta(hours=1), alice.id),
        ("rating", "ANNOTATION", "NUMERIC", 2.0, None, "t1", day[1], bob.id),
        ("rating", "ANNOTATION", "NUMERIC", 5.0, None, "t3", day[1], bob.id),
        ("tone", "EVAL", "CATEGORICAL", 1.0, "good", "t1", day[2], None),
        ("tone", "EVAL", "CATEGORICAL", 1.0, "good", "t2", day[2], None),
        ("tone", "EVAL", "CATEGORICAL", 0.0, "bad", "t3", day[2], None),
        ("ok", "ANNOTATION", "BOOLEAN", 1.0, "True", "t1", day[0], alice.id),
        ("ok", "ANNOTATION", "BOOLEAN", 0.0, "False", "t2", day[1], alice.id),
        ("ok", "ANNOTATION", "BOOLEAN", 1.0, "True", "t3", day[1], bob.id),
        (EVIL, "API", "NUMERIC", 7.0, None, "t2", day[0], None),
    ]
    with db.write() as session:
        session.add_all(
            [
                _trace(p, "t1", "chat", "production", ["beta"]),
                _trace(p, "t2", EVIL, "staging", ["vip"]),
                _trace(p, "t3", "chat", "production", ["beta", "vip"]),
            ]
        )
        for trace_id, tag in (("t1", "beta"), ("t2", "vip"), ("t3", "beta"), ("t3", "vip")):
            session.add(TraceTag(project_id=p, trace_id=trace_id, tag=tag, timestamp=DAY1))
        for n, (name, source, kind, value, label, trace_id, at, author) in enumerate(rows):
            session.add(
                Score(
                    project_id=p,
                    id=f"s{n}",
                    timestamp=at,
                    name=name,
                    value=value,
                    string_value=label,
                    data_type=kind,
                    source=source,
                    metadata_={},
                    author_user_id=author,
                    environment=env[trace_id],
                    trace_id=trace_id,
                    target_key=f"trace:{trace_id}",
                    created_at=at,
                    updated_at=at,
                )
            )
        queue = AnnotationQueue(project_id=p, name="Review", name_key="review", item_count=4)
        session.add(queue)
        session.flush()
        for n, trace_id in enumerate(["t1", "t2", "t3", "t4"]):
            done_by = {0: (alice.id, day[0]), 1: (bob.id, day[1])}.get(n)
            item = QueueItem(
                id=f"item-{n}",
                queue_id=queue.id,
                project_id=p,
                object_type="TRACE",
                object_id=trace_id,
                trace_id=trace_id,
                status="COMPLETED" if done_by else "PENDING",
                completion_count=1 if done_by else 0,
                completed_at=done_by[1] if done_by else None,
            )
            session.add(item)
            if done_by:
                session.flush()
                session.add(
                    QueueWork(
                        item_id=item.id,
                        queue_id=queue.id,
                        user_id=done_by[0],
                        state="COMPLETED",
                        started_at=done_by[1],
                        completed_at=done_by[1],
                        seconds_spent=30.0,
                    )
                )
        queue_id = queue.id
    return AnalyticsWorld(p, alice.id, bob.id, queue_id, alice_token)
