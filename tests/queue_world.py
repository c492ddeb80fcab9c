"""A project with annotators, score configs, traces and a queue: shared by the web UI tests.

Accounts, configs and queues are made through the services; traces go in through the public
ingestion endpoint (the caller posts `ingestion_batch(...)` with its own client).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import ProjectFixture
from tracemark.db.engine import Database
from tracemark.db.models import Role, User
from tracemark.services import accounts, queues, score_configs

PASSWORD = "member-password"  # make_member's password
XSS_INPUT = (
    "<script>alert(1)</script> and <img src=x onerror=alert(1)> "
    '<a href="javascript:alert(1)">click me</a>'
)
XSS_OUTPUT = {
    "html": "<img src=x onerror=alert(1)>",
    "link": "javascript:alert(1)",
    "markdown": "[click](javascript:alert(1))",
    "nested": {"script": "<script>alert(1)</script>"},
}
CHAT_INPUT = [
    {"role": "system", "content": "You are a support bot."},
    {"role": "user", "content": "My invoice is wrong.\nCan you fix it?"},
]
CHAT_OUTPUT = {"role": "assistant", "content": "Sorry about that! I have opened a ticket."}


def trace_event(trace_id: str, second: int, **body: Any) -> dict[str, Any]:
    timestamp = f"2026-11-20T10:00:{second:02d}Z"
    return {
        "id": f"ev-{trace_id}",
        "type": "trace-create",
        "timestamp": timestamp,
        "body": {"id": trace_id, "timestamp": timestamp, **body},
    }


def ingestion_batch(traces: int, *, xss: bool = False) -> dict[str, Any]:
    """`traces` ordinary traces (t0, t1, ...; the first is a chat), plus t-xss when asked."""
    events = [trace_event("t0", 0, name="chat", input=CHAT_INPUT, output=CHAT_OUTPUT)]
    for i in range(1, traces):
        events.append(
            trace_event(
                f"t{i}",
                i,
                name="answer",
                userId=f"user-{i}",
                sessionId="s1",
                tags=["support"],
                input={"question": f"Question number {i}?", "locale": "en"},
                output=f"Answer number {i}.\nSecond line of the answer.",
                metadata={"model": "gpt-demo", "attempt": i, "flags": {"retried": False}},
            )
        )
    if xss:
        events.append(
            trace_event(
                "t-xss",
                59,
                name="<script>alert('name')</script>",
                input=XSS_INPUT,
                output=XSS_OUTPUT,
                metadata={"<b>key</b>": "<iframe src=javascript:alert(1)>"},
            )
        )
    return {"batch": events}


@dataclass
class Person:
    user: User
    email: str
    password: str = PASSWORD


@dataclass
class QueueWorld:
    project_id: str
    queue_id: str
    configs: dict[str, str]  # name -> id
    annotators: list[Person]
    viewer: Person
    trace_ids: list[str] = field(default_factory=list)


def make_configs(db: Database, project_id: str) -> dict[str, str]:
    bodies: list[dict[str, Any]] = [
        {
            "name": "tone",
            "dataType": "CATEGORICAL",
            "description": "How the answer sounds to the customer.",
            "categories": [
                {"label": "friendly", "value": 2},
                {"label": "neutral", "value": 1},
                {"label": "rude", "value": 0},
            ],
        },
        {"name": "correct", "dataType": "BOOLEAN"},
        {"name": "quality", "dataType": "NUMERIC", "minValue": 1, "maxValue": 5},
        {"name": "notes", "dataType": "TEXT"},
    ]
    with db.write() as session:
        return {body["name"]: score_configs.create(session, project_id, body).id for body in bodies}


def add_member(db: Database, project: ProjectFixture, email: str, role: Role) -> Person:
    """A project member with a password (no personal token: each slow hash costs time)."""
    with db.write() as session:
        user = accounts.create_user(
            session, email=email, name=email.split("@")[0].capitalize(), password=PASSWORD
        )
        accounts.set_membership(session, project.project, user, role)
    return Person(user, email)


def make_world(
    db: Database,
    project: ProjectFixture,
    trace_ids: list[str],
    *,
    annotators_per_item: int = 2,
    members_only: bool = False,
    description: str | None = None,
    name: str = "Support review",
    priority: dict[str, int] | None = None,
) -> QueueWorld:
    """Two annotators and a viewer in the project, the four configs, a queue of the traces."""
    people = [
        add_member(db, project, email, Role.ANNOTATOR)
        for email in ("ann@example.com", "bob@example.com")
    ]
    viewer = add_member(db, project, "vic@example.com", Role.VIEWER)
    configs = make_configs(db, project.project.id)
    with db.write() as session:
        queue = queues.create_queue(
            session,
            project.project.id,
            {
                "name": name,
                "description": description
                or "# How to score\nBe **strict**: a *wrong* fact means `correct = no`.",
                "scoreConfigIds": list(configs.values()),
                "annotatorsPerItem": annotators_per_item,
                "memberUserIds": [p.user.id for p in people] if members_only else None,
            },
        )
        queues.add_items(
            session,
            project.project.id,
            queue.id,
            [
                queues.ObjectRef("TRACE", trace_id, priority=(priority or {}).get(trace_id, 0))
                for trace_id in trace_ids
            ],
        )
        queue_id = queue.id
    return QueueWorld(
        project.project.id,
        queue_id,
        configs,
        people,
        viewer,
        list(trace_ids),
    )


def meta_csrf(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


def form_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)
