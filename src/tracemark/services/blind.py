"""Blind review beyond the process page: whose scores a person may not see yet.

A queue in blind mode promises that an annotator sees no other person's scores, and no
evaluator's, for an item until they have completed it. The process page keeps that promise for
the item it shows; the trace and session pages, the lists' score chips and the Scores page ask
here which of the objects they show are such items for the person looking.

Blinded: a person who may work the queue (one of its members; anyone who may annotate when it
has none) and may not manage queues. People who manage queues set blind mode up and may switch
it off; hiding scores from them would only hide the results they are there to read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tracemark.db.models import (
    AnnotationQueue,
    QueueItem,
    QueueMember,
    QueueObjectType,
    QueueWork,
    Role,
    Score,
    WorkState,
)
from tracemark.services.permissions import Permission, allows

_CHUNK = 500


# What blind review needs of a score: (author user id, trace id, observation id, session id).
ScoreRef = tuple[str | None, str | None, str | None, str | None]


@dataclass(frozen=True)
class Blind:
    """The shown objects whose others' scores the viewer may not see yet."""

    viewer_id: str = ""
    traces: frozenset[str] = frozenset()
    observations: frozenset[str] = frozenset()
    sessions: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.traces or self.observations or self.sessions)

    def hides(self, score: Score) -> bool:
        return self.hides_ref(_ref(score))

    def hides_ref(self, ref: ScoreRef) -> bool:
        """Whether the score is someone else's (or an evaluator's) on a blind object.

        A blind trace hides the scores of its observations as well, as the process page does.
        """
        author, trace_id, observation_id, session_id = ref
        if author == self.viewer_id:
            return False
        return (
            (trace_id is not None and trace_id in self.traces)
            or (observation_id is not None and observation_id in self.observations)
            or (session_id is not None and session_id in self.sessions)
        )


def _ref(score: Score) -> ScoreRef:
    return (score.author_user_id, score.trace_id, score.observation_id, score.session_id)


def blind_queues(session: Session, project_id: str, user_id: str, role: Role) -> list[str]:
    """The project's live blind queues this person works and is blinded in (none for people
    who do not annotate, or who manage queues)."""
    if not allows(role, Permission.PROCESS_QUEUES) or allows(role, Permission.MANAGE_QUEUES):
        return []
    return _blind_queues(session, project_id, user_id)


def blind_for(
    session: Session,
    project_id: str,
    user_id: str,
    role: Role,
    *,
    traces: Iterable[str] = (),
    observations: Iterable[str] = (),
    sessions: Iterable[str] = (),
    queues: Sequence[str] | None = None,
) -> Blind:
    """Which of the given objects are items of a blind queue the person works and has not
    completed. One query for the queues (none when `queues`, from `blind_queues`, is given),
    then one per kind of object given (per 500 ids)."""
    queue_ids = blind_queues(session, project_id, user_id, role) if queues is None else queues
    wanted = {
        QueueObjectType.TRACE.value: list(dict.fromkeys(traces)),
        QueueObjectType.OBSERVATION.value: list(dict.fromkeys(observations)),
        QueueObjectType.SESSION.value: list(dict.fromkeys(sessions)),
    }
    if not queue_ids or not any(wanted.values()):
        return Blind(user_id)
    completed = (
        select(QueueWork.id)
        .where(
            QueueWork.item_id == QueueItem.id,
            QueueWork.user_id == user_id,
            QueueWork.state == WorkState.COMPLETED.value,
        )
        .exists()
    )
    found: dict[str, set[str]] = {kind: set() for kind in wanted}
    for kind, ids in wanted.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = session.scalars(
                select(QueueItem.object_id).where(
                    QueueItem.queue_id.in_(queue_ids),
                    QueueItem.object_type == kind,
                    QueueItem.object_id.in_(chunk),
                    ~completed,
                )
            )
            found[kind].update(rows)
    return Blind(
        user_id,
        frozenset(found[QueueObjectType.TRACE.value]),
        frozenset(found[QueueObjectType.OBSERVATION.value]),
        frozenset(found[QueueObjectType.SESSION.value]),
    )


def blind_for_scores(
    session: Session,
    project_id: str,
    user_id: str,
    role: Role,
    refs: Iterable[ScoreRef],
    *,
    queues: Sequence[str] | None = None,
) -> Blind:
    """`blind_for` the objects these scores are on."""
    refs = list(refs)
    return blind_for(
        session,
        project_id,
        user_id,
        role,
        traces=[r[1] for r in refs if r[1]],
        observations=[r[2] for r in refs if r[2]],
        sessions=[r[3] for r in refs if r[3]],
        queues=queues,
    )


def hidden_scores(
    session: Session, project_id: str, user_id: str, role: Role, scores: Sequence[Score]
) -> set[str]:
    """The ids of the scores whose values blind review hides from this person."""
    blind = blind_for_scores(session, project_id, user_id, role, map(_ref, scores))
    return {s.id for s in scores if blind.hides(s)}


def _blind_queues(session: Session, project_id: str, user_id: str) -> list[str]:
    """The project's live blind queues this person may work."""
    members = select(QueueMember.user_id).where(QueueMember.queue_id == AnnotationQueue.id)
    return list(
        session.scalars(
            select(AnnotationQueue.id).where(
                AnnotationQueue.project_id == project_id,
                AnnotationQueue.blind.is_(True),
                AnnotationQueue.archived.is_(False),
                or_(
                    ~members.exists(),
                    members.where(QueueMember.user_id == user_id).exists(),
                ),
            )
        )
    )
