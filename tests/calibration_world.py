"""Projects with human and judge scores for the calibration and agreement tests.

Scores go in through the scores service (the same path as the API and the UI), each with an
explicit timestamp so that weeks and "newest first" are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import ProjectFixture, make_member
from tracemark.db.engine import Database
from tracemark.db.models import Role, User
from tracemark.services import queues, score_configs, scores

WEEK_A = datetime(2026, 11, 3, 12, tzinfo=UTC)  # week starting Monday 2026-11-02
WEEK_B = datetime(2026, 11, 10, 12, tzinfo=UTC)  # week starting Monday 2026-11-09
JUDGE = "judge-quality"
XSS = "<script>alert('x')</script>"


def target(ref: str) -> dict[str, str]:
    """'t1' -> a trace, 't7/o7' -> an observation of t7, 'session:s8' -> a session."""
    if ref.startswith("session:"):
        return {"sessionId": ref.split(":", 1)[1]}
    if "/" in ref:
        trace_id, observation_id = ref.split("/")
        return {"traceId": trace_id, "observationId": observation_id}
    return {"traceId": ref}


def write(db: Database, project_id: str, bodies: list[dict[str, Any]], **actor: Any) -> None:
    with db.write() as session:
        result = scores.write_scores(
            session,
            project_id,
            [scores.ScoreInput(b) for b in bodies],
            scores.Actor(**actor),
        )
        assert not result.errors, result.errors


def annotate(
    db: Database,
    project_id: str,
    user: User,
    config_id: str,
    ref: str,
    value: Any,
    queue_id: str | None = None,
) -> None:
    body = {"source": "ANNOTATION", "configId": config_id, "value": value, **target(ref)}
    with db.write() as session:
        result = scores.write_scores(
            session,
            project_id,
            [scores.ScoreInput(body)],
            scores.Actor(user_id=user.id),
            queue_id=queue_id,
        )
        assert not result.errors, result.errors


def judge(
    db: Database,
    project_id: str,
    ref: str,
    value: Any,
    when: datetime,
    *,
    name: str = JUDGE,
    source: str = "EVAL",
    version: str | None = None,
    comment: str | None = None,
    **extra: Any,
) -> None:
    body: dict[str, Any] = {
        "name": name,
        "source": source,
        "value": value,
        "timestamp": when.isoformat(),
        "comment": comment,
        "metadata": {"evaluatorVersion": version} if version else {},
        **target(ref),
        **extra,
    }
    write(db, project_id, [body])


@dataclass
class World:
    project_id: str
    quality: str  # CATEGORICAL good=2 / ok=1 / bad=0
    people: list[User]


# Human labels per target, the judge's label, week, version. "t3" is a tie (left out);
# "t9" has no human; "t10" has no judge.
HUMANS = {
    "t0": ["good", "good", "ok"],
    "t1": ["bad"],
    "t2": ["ok", "ok"],
    "t3": ["good", "bad"],
    "t4": ["ok"],
    "t5": ["good"],
    "t6": ["bad", "bad", "good"],
    "t7/o7": ["good"],
    "session:s8": ["bad"],
    "t10": ["good", "ok"],
}
JUDGED = {
    "t0": ("good", WEEK_A, "v1"),
    "t1": ("good", WEEK_A + timedelta(hours=1), "v1"),
    "t2": ("ok", WEEK_A + timedelta(hours=2), "v2"),
    "t3": ("good", WEEK_A + timedelta(hours=3), "v2"),
    "t4": ("bad", WEEK_B, "v1"),
    "t5": ("good", WEEK_B + timedelta(hours=1), "v1"),
    "t6": ("bad", WEEK_B + timedelta(hours=2), "v2"),
    "t7/o7": ("ok", WEEK_B + timedelta(hours=3), "v2"),
    "session:s8": ("bad", WEEK_B + timedelta(hours=4), "v2"),
    "t9": ("good", WEEK_B + timedelta(hours=5), "v2"),
}
# The consensus and the judge on the 8 pairs (EVAL only), in the config's class order.
CONSENSUS = ["good", "bad", "ok", "ok", "good", "bad", "good", "bad"]
JUDGE_SAYS = ["good", "good", "ok", "bad", "good", "bad", "ok", "bad"]


def people(db: Database, project: ProjectFixture, count: int, prefix: str = "ann") -> list[User]:
    return [
        make_member(db, project.project, f"{prefix}{i}@example.com", Role.ANNOTATOR)[0]
        for i in range(count)
    ]


def make_world(db: Database, project: ProjectFixture) -> World:
    with db.write() as session:
        quality = score_configs.create(
            session,
            project.project.id,
            {
                "name": "quality",
                "dataType": "CATEGORICAL",
                "categories": [
                    {"label": "good", "value": 2},
                    {"label": "ok", "value": 1},
                    {"label": "bad", "value": 0},
                ],
            },
        ).id
    annotators = people(db, project, 3)
    pid = project.project.id
    for ref, labels in HUMANS.items():
        for person, label in zip(annotators, labels, strict=False):
            annotate(db, pid, person, quality, ref, label)
    for ref, (label, when, version) in JUDGED.items():
        comment = f"{XSS} judged {ref}" if ref == "t1" else None
        judge(db, pid, ref, label, when, version=version, comment=comment)
    # An API-sourced score of the same name: counted only when API is asked for.
    judge(db, pid, "t2", "bad", WEEK_B, source="API")
    return World(pid, quality, annotators)


def make_queue(db: Database, project_id: str, config_ids: list[str], name: str = "Review") -> str:
    with db.write() as session:
        return queues.create_queue(
            session, project_id, {"name": name, "scoreConfigIds": config_ids}
        ).id
