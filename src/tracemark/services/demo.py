"""The demo project a newcomer can annotate at once. Running it twice changes nothing."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracemark.db.base import utcnow
from tracemark.db.models import AnnotationQueue, ApiKey, Role, Score, ScoreConfig, Trace
from tracemark.ingest.langfuse import parse_ingestion
from tracemark.services import (
    accounts,
    credentials,
    ingest,
    queue_work,
    queues,
    score_configs,
    scores,
)
from tracemark.services.demo_traces import FLAWED_ANSWER_HINTS, QUESTIONS, demo_ingestion_payloads

DEMO_PROJECT = "Demo project"
DEMO_EMAIL = "demo@tracemark.local"
DEMO_PASSWORD = "tracemark-demo"
DEMO_PUBLIC_KEY = "pk-tm-demo"
DEMO_SECRET_KEY = "sk-tm-demo"
DEMO_ANNOTATORS = (
    ("ana@tracemark.local", "Ana Annotator"),
    ("ben@tracemark.local", "Ben Annotator"),
)


@dataclass(frozen=True)
class DemoInfo:
    project_id: str
    email: str
    password: str
    public_key: str
    secret_key: str
    annotators: tuple[tuple[str, str], ...]


def ensure_demo_accounts(session: Session) -> DemoInfo:
    """The demo user (an instance admin), two annotators, the project and its key pair."""
    owner = accounts.get_user_by_email(session, DEMO_EMAIL) or accounts.create_user(
        session, email=DEMO_EMAIL, name="Demo User", password=DEMO_PASSWORD, is_admin=True
    )
    try:
        project = accounts.find_project(session, DEMO_PROJECT)
    except Exception:
        project = accounts.create_project(session, DEMO_PROJECT, owner=owner)
    for email, name in DEMO_ANNOTATORS:
        annotator = accounts.get_user_by_email(session, email) or accounts.create_user(
            session, email=email, name=name, password=DEMO_PASSWORD
        )
        if accounts.role_in_project(session, annotator, project.id) is None:
            accounts.set_membership(session, project, annotator, Role.ANNOTATOR)
    if not session.scalar(select(ApiKey.id).where(ApiKey.public_key == DEMO_PUBLIC_KEY)):
        credentials.create_api_key(
            session, project, note="demo key", public_key=DEMO_PUBLIC_KEY, secret=DEMO_SECRET_KEY
        )
    return DemoInfo(
        project_id=project.id,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        public_key=DEMO_PUBLIC_KEY,
        secret_key=DEMO_SECRET_KEY,
        annotators=DEMO_ANNOTATORS,
    )


def ensure_demo_traces(session: Session, project_id: str) -> int:
    """About 200 traces of a RAG support assistant, sent through the ingestion code.

    Skipped when the project already has traces, so re-running changes nothing.
    Returns how many traces were added.
    """
    if session.scalar(select(Trace.id).where(Trace.project_id == project_id).limit(1)):
        return 0
    added = 0
    for payload in demo_ingestion_payloads(utcnow()):
        parsed = parse_ingestion(payload)
        if parsed.errors:
            raise RuntimeError(f"demo data does not parse: {parsed.errors[0].message}")
        result = ingest.ingest_batch(
            session,
            project_id,
            parsed.batch,
            default_trace_timestamps=parsed.default_trace_timestamps,
            default_start_times=parsed.default_start_times,
        )
        added += len({t.id for t in parsed.batch.traces})
        assert not result.unresolved_observations
    return added


DEMO_CONFIGS: tuple[dict[str, Any], ...] = (
    {
        "name": "correctness",
        "dataType": "CATEGORICAL",
        "description": "Is the answer factually right **according to the knowledge base**?",
        "categories": [
            {"label": "incorrect", "value": 0},
            {"label": "partially correct", "value": 1},
            {"label": "correct", "value": 2},
        ],
    },
    {
        "name": "helpfulness",
        "dataType": "NUMERIC",
        "minValue": 1,
        "maxValue": 5,
        "description": "1 = useless, 5 = solves the customer's problem completely.",
    },
    {
        "name": "grounded",
        "dataType": "BOOLEAN",
        "description": "Every claim is supported by the retrieved documents.",
    },
    {"name": "notes", "dataType": "TEXT", "description": "Anything the team should know."},
)
_IDS = uuid.UUID("5f0c1f52-1f7e-4c55-9e39-3a1f0b2f6d11")
_FLAWED_ANSWERS = {QUESTIONS[i].answer for i in FLAWED_ANSWER_HINTS}


def _score_id(*parts: object) -> str:
    return uuid.uuid5(_IDS, "/".join(str(p) for p in parts)).hex


def ensure_demo_scores(session: Session, project_id: str) -> int:
    """Score configs of each type, EVAL scores from a judge, two annotators who sometimes disagree.

    Score ids are deterministic, so running it again changes nothing. Returns the score count.
    """
    configs: dict[str, ScoreConfig] = {}
    for body in DEMO_CONFIGS:
        existing = session.scalar(
            select(ScoreConfig).where(
                ScoreConfig.project_id == project_id, ScoreConfig.name_key == body["name"]
            )
        )
        configs[body["name"]] = existing or score_configs.create(session, project_id, body)
    rows = session.execute(
        select(Trace.id, Trace.output, Trace.timestamp)
        .where(Trace.project_id == project_id)
        .order_by(Trace.timestamp, Trace.id)
    ).all()
    rng = random.Random(11)
    judge: list[scores.ScoreInput] = []
    human: dict[str, list[scores.ScoreInput]] = {email: [] for email, _ in DEMO_ANNOTATORS}
    for index, (trace_id, output, timestamp) in enumerate(rows):
        answer = output.get("answer") if isinstance(output, dict) else None
        flawed = answer in _FLAWED_ANSWERS
        truth = (
            "incorrect"
            if flawed and rng.random() < 0.7
            else (
                "partially correct"
                if flawed
                else ("correct" if rng.random() < 0.85 else "partially correct")
            )
        )
        if rng.random() < 0.85:
            guess = (
                truth
                if rng.random() < 0.8
                else rng.choice(["correct", "partially correct", "incorrect"])
            )
            judge.append(
                scores.ScoreInput(
                    {
                        "id": _score_id("judge", trace_id),
                        "traceId": trace_id,
                        "name": "correctness",
                        "value": guess,
                        "dataType": "CATEGORICAL",
                        "source": "EVAL",
                        "comment": "LLM judge verdict",
                        "timestamp": timestamp.isoformat(),
                        "metadata": {
                            "evaluator": "gpt-4o-judge",
                            "version": "v3" if index % 3 else "v2",
                        },
                    }
                )
            )
            judge.append(
                scores.ScoreInput(
                    {
                        "id": _score_id("judge-helpfulness", trace_id),
                        "traceId": trace_id,
                        "name": "judge-helpfulness",
                        "value": float(rng.randint(2 if flawed else 3, 5)),
                        "source": "EVAL",
                        "timestamp": timestamp.isoformat(),
                        "metadata": {"evaluator": "gpt-4o-judge", "version": "v3"},
                    }
                )
            )
        # Ana reviews every 5th trace, Ben every 4th: they overlap on every 20th.
        for email, step in (("ana@tracemark.local", 5), ("ben@tracemark.local", 4)):
            if index % step:
                continue
            verdict = (
                truth
                if rng.random() < 0.8
                else rng.choice(["correct", "partially correct", "incorrect"])
            )
            helpful = max(
                1, min(5, (2 if verdict == "incorrect" else 4) + rng.choice((-1, 0, 0, 1)))
            )
            base = {"traceId": trace_id, "source": "ANNOTATION", "timestamp": timestamp.isoformat()}
            human[email] += [
                scores.ScoreInput(
                    {**base, "configId": configs["correctness"].id, "value": verdict}
                ),
                scores.ScoreInput(
                    {**base, "configId": configs["helpfulness"].id, "value": helpful}
                ),
                scores.ScoreInput(
                    {**base, "configId": configs["grounded"].id, "value": not flawed}
                ),
            ]
            if flawed and rng.random() < 0.5:
                human[email].append(
                    scores.ScoreInput(
                        {
                            **base,
                            "configId": configs["notes"].id,
                            "value": "Contradicts the knowledge base; check the policy numbers.",
                        }
                    )
                )
    written = scores.write_scores(session, project_id, judge, scores.Actor())
    total = written.accepted
    for email, inputs in human.items():
        annotator = accounts.require_user_by_email(session, email)
        if _has_annotations(session, project_id, annotator.id):
            # Written by an earlier run (and possibly revised in the demo queue since): keep.
            continue
        result = scores.write_scores(
            session, project_id, inputs, scores.Actor(user_id=annotator.id)
        )
        if result.errors:
            raise RuntimeError(f"demo scores rejected: {next(iter(result.errors.values()))}")
        total += result.accepted
    return total


def _has_annotations(session: Session, project_id: str, user_id: str) -> bool:
    return (
        session.scalar(
            select(Score.id)
            .where(
                Score.project_id == project_id,
                Score.source == "ANNOTATION",
                Score.author_user_id == user_id,
            )
            .limit(1)
        )
        is not None
    )


DEMO_QUEUE = "Weekly answer review"
DEMO_QUEUE_GUIDELINES = """## What to check

1. **Correctness**: compare the answer with the retrieved documents (open the *Detailed view*
   to see them). A wrong policy number (return window, warranty length) is *incorrect*.
2. **Helpfulness**: would the customer be able to act on it without asking again?
3. **Grounded**: every claim must be backed by a retrieved document.

Use *notes* for anything the team should fix in the knowledge base.
"""


def ensure_demo_queue(session: Session, project_id: str) -> str:
    """A queue of the 30 newest traces, two annotators per item; returns its id."""
    existing = session.scalar(
        select(AnnotationQueue).where(
            AnnotationQueue.project_id == project_id, AnnotationQueue.name_key == DEMO_QUEUE.lower()
        )
    )
    if existing is not None:
        return existing.id
    config_ids = list(
        session.scalars(
            select(ScoreConfig.id)
            .where(ScoreConfig.project_id == project_id)
            .order_by(ScoreConfig.created_at, ScoreConfig.name_key)
        )
    )
    members = [accounts.require_user_by_email(session, email).id for email, _ in DEMO_ANNOTATORS]
    members.append(accounts.require_user_by_email(session, DEMO_EMAIL).id)
    queue = queues.create_queue(
        session,
        project_id,
        {
            "name": DEMO_QUEUE,
            "description": DEMO_QUEUE_GUIDELINES,
            "scoreConfigIds": config_ids,
            "annotatorsPerItem": 2,
            "memberUserIds": members,
        },
    )
    newest = session.scalars(
        select(Trace.id)
        .where(Trace.project_id == project_id)
        .order_by(Trace.timestamp.desc(), Trace.id)
        .limit(30)
    ).all()
    queues.add_items(
        session, project_id, queue.id, [queues.ObjectRef("TRACE", trace_id) for trace_id in newest]
    )
    _demo_queue_work(session, project_id, queue)
    return queue.id


# Ana and Ben have already worked through part of the queue, so that its progress, its
# results and the agreement between them show real numbers; the rest is left for the visitor.
DEMO_QUEUE_DONE = (("ana@tracemark.local", 12), ("ben@tracemark.local", 10))


def _demo_queue_work(session: Session, project_id: str, queue: AnnotationQueue) -> None:
    configs = {
        c.name: c
        for c in session.scalars(select(ScoreConfig).where(ScoreConfig.project_id == project_id))
    }
    labels = ["correct", "partially correct", "incorrect"]
    for email, count in DEMO_QUEUE_DONE:
        worker = queue_work.Worker(accounts.require_user_by_email(session, email).id)
        for _ in range(count):
            leased = queue_work.next_item(session, project_id, queue.id, worker)
            if leased is None:
                break
            shared = random.Random(leased.item.object_id)
            own = random.Random(f"{leased.item.object_id}/{email}")
            verdict = shared.choice(labels) if own.random() < 0.8 else own.choice(labels)
            helpful = max(1, min(5, shared.randint(2, 5) + own.choice((-1, 0, 0, 0, 1))))
            values = [
                queue_work.ScoreValue(configs["correctness"].id, verdict, None),
                queue_work.ScoreValue(configs["helpfulness"].id, helpful, None),
                queue_work.ScoreValue(configs["grounded"].id, verdict != "incorrect", None),
            ]
            queue_work.complete_item(
                session, project_id, queue.id, leased.item.id, worker, values, None
            )
