"""Queue progress for the dashboard: items done per queue, completions per annotator in a range."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, and_, cast, func, select
from sqlalchemy.orm import Session

from tracemark.db.models import AnnotationQueue, ItemStatus, QueueItem, QueueWork, User, WorkState
from tracemark.services.analytics_filter import DashboardFilter

MAX_QUEUES = 50


@dataclass
class AnnotatorCompletions:
    user_id: str
    name: str
    completed: int  # items this annotator completed within the range


@dataclass
class QueueProgress:
    queue_id: str
    name: str
    annotators_per_item: int
    items: int
    completed: int  # items completed by all the annotators they need (any time)
    completed_in_range: int  # items whose completion falls within the range
    annotators: list[AnnotatorCompletions] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return self.items - self.completed

    @property
    def percent(self) -> float:
        return 100.0 * self.completed / self.items if self.items else 0.0


def queue_progress(session: Session, project_id: str, flt: DashboardFilter) -> list[QueueProgress]:
    """The project's open queues: items completed, and who completed what within the range.

    Queues are not tied to one environment, trace name or tag, so only the time range applies.
    """
    queues = list(
        session.scalars(
            select(AnnotationQueue)
            .where(AnnotationQueue.project_id == project_id, AnnotationQueue.archived.is_(False))
            .order_by(AnnotationQueue.name_key)
            .limit(MAX_QUEUES)
        )
    )
    if not queues:
        return []
    ids = [q.id for q in queues]
    in_range = and_(QueueItem.completed_at >= flt.start, QueueItem.completed_at < flt.end)
    counts = {
        queue_id: (int(total), int(done or 0), int(recent or 0))
        for queue_id, total, done, recent in session.execute(
            select(
                QueueItem.queue_id,
                func.count(),
                func.sum(cast(QueueItem.status == ItemStatus.COMPLETED.value, Integer)),
                func.sum(
                    cast(and_(QueueItem.status == ItemStatus.COMPLETED.value, in_range), Integer)
                ),
            )
            .where(QueueItem.queue_id.in_(ids))
            .group_by(QueueItem.queue_id)
        )
    }
    work: dict[str, list[tuple[str, int]]] = {}
    for queue_id, user_id, done in session.execute(
        select(QueueWork.queue_id, QueueWork.user_id, func.count())
        .where(
            QueueWork.queue_id.in_(ids),
            QueueWork.state == WorkState.COMPLETED.value,
            QueueWork.completed_at >= flt.start,
            QueueWork.completed_at < flt.end,
        )
        .group_by(QueueWork.queue_id, QueueWork.user_id)
    ):
        work.setdefault(queue_id, []).append((user_id, int(done)))
    user_ids = {user_id for rows in work.values() for user_id, _ in rows}
    names: dict[str, str] = {}
    if user_ids:
        for user_id, name in session.execute(
            select(User.id, User.name).where(User.id.in_(user_ids))
        ):
            names[user_id] = name
    out = []
    for queue in queues:
        total, done, recent = counts.get(queue.id, (0, 0, 0))
        people = sorted(
            (
                AnnotatorCompletions(user_id, names.get(user_id, "(deleted user)"), count)
                for user_id, count in work.get(queue.id, [])
            ),
            key=lambda a: (-a.completed, a.name),
        )
        out.append(
            QueueProgress(
                queue_id=queue.id,
                name=queue.name,
                annotators_per_item=queue.annotators_per_item,
                items=total,
                completed=done,
                completed_in_range=recent,
                annotators=people,
            )
        )
    return out
