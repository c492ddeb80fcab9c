"""Going back in a queue: the items a person completed or skipped, in the order they did them.

"Previous" on the process page walks this list backwards from the current item, "forward"
walks it back towards the item the person holds a lease on. The order is when each person's
work on an item last changed state (completed or skipped), ties broken by the work row's id.
Revising an earlier item's scores does not move it in the list.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tracemark.db.models import QueueItem, QueueWork, WorkState
from tracemark.services.errors import NotFound
from tracemark.services.queue_work import Worker, workable_queue

_DONE = (WorkState.COMPLETED.value, WorkState.SKIPPED.value)


def _done_work(session: Session, queue_id: str, user_id: str, item_id: str) -> QueueWork | None:
    return session.scalar(
        select(QueueWork).where(
            QueueWork.queue_id == queue_id,
            QueueWork.item_id == item_id,
            QueueWork.user_id == user_id,
            QueueWork.state.in_(_DONE),
        )
    )


def _step(
    session: Session, queue_id: str, user_id: str, anchor: QueueWork | None, *, back: bool
) -> QueueWork | None:
    stmt = select(QueueWork).where(
        QueueWork.queue_id == queue_id,
        QueueWork.user_id == user_id,
        QueueWork.state.in_(_DONE),
    )
    if anchor is not None:
        if back:
            stmt = stmt.where(
                or_(
                    QueueWork.updated_at < anchor.updated_at,
                    and_(QueueWork.updated_at == anchor.updated_at, QueueWork.id < anchor.id),
                )
            )
        else:
            stmt = stmt.where(
                or_(
                    QueueWork.updated_at > anchor.updated_at,
                    and_(QueueWork.updated_at == anchor.updated_at, QueueWork.id > anchor.id),
                )
            )
    order = (
        (QueueWork.updated_at.desc(), QueueWork.id.desc())
        if back
        else (QueueWork.updated_at, QueueWork.id)
    )
    return session.scalar(stmt.order_by(*order).limit(1))


def previous_item(
    session: Session,
    project_id: str,
    queue_id: str,
    worker: Worker,
    before_item_id: str | None = None,
) -> QueueItem | None:
    """The item this person finished just before `before_item_id` (None: their last one).

    An item given as the anchor that the person never finished (their current item) counts
    as "now": the answer is their most recently finished item.
    """
    queue = workable_queue(session, project_id, queue_id, worker)
    anchor = (
        _done_work(session, queue.id, worker.user_id, before_item_id) if before_item_id else None
    )
    work = _step(session, queue.id, worker.user_id, anchor, back=True)
    return session.get(QueueItem, work.item_id) if work is not None else None


def following_item(
    session: Session, project_id: str, queue_id: str, worker: Worker, after_item_id: str
) -> QueueItem | None:
    """The item this person finished just after `after_item_id`; None when it was the last."""
    queue = workable_queue(session, project_id, queue_id, worker)
    anchor = _done_work(session, queue.id, worker.user_id, after_item_id)
    if anchor is None:
        return None
    work = _step(session, queue.id, worker.user_id, anchor, back=False)
    return session.get(QueueItem, work.item_id) if work is not None else None


def finished_item(
    session: Session, project_id: str, queue_id: str, worker: Worker, item_id: str
) -> tuple[QueueItem, QueueWork]:
    """An item this person completed or skipped, with their work on it; NotFound otherwise."""
    queue = workable_queue(session, project_id, queue_id, worker)
    work = _done_work(session, queue.id, worker.user_id, item_id)
    item = session.get(QueueItem, item_id) if work is not None else None
    if item is None or work is None:
        raise NotFound(f"you have not completed or skipped item {item_id} in this queue")
    return item, work
