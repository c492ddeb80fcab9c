"""Processing a queue: next, complete, skip, heartbeat, release; progress and results.

Race-free selection: on PostgreSQL the candidate items are locked with FOR UPDATE SKIP LOCKED
(an item being leased by another process is passed over, never double-leased); every change to
an item's work rows happens with the item row locked. On SQLite, write transactions are
serialized (BEGIN IMMEDIATE), so the same code is race-free there too.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, cast, func, select
from sqlalchemy.orm import Session

from tracemark.db.base import utcnow
from tracemark.db.models import (
    AnnotationQueue,
    Comment,
    ItemStatus,
    QueueItem,
    QueueMember,
    QueueWork,
    Score,
    ScoreSource,
    User,
    WorkState,
)
from tracemark.services import queues, scores
from tracemark.services.errors import Conflict, Forbidden, Invalid

_CANDIDATES = 16


@dataclass(frozen=True)
class Worker:
    """The person processing the queue."""

    user_id: str
    is_admin: bool = False


def check_may_work(session: Session, queue: AnnotationQueue, worker: Worker) -> None:
    if queue.archived:
        raise Conflict("this queue is archived")
    members = session.scalars(
        select(QueueMember.user_id).where(QueueMember.queue_id == queue.id)
    ).all()
    if members and worker.user_id not in members and not worker.is_admin:
        raise Forbidden("you are not a member of this queue; ask a project admin to add you")


def _live_leases_of_others(session: Session, item_id: str, user_id: str, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(QueueWork)
            .where(
                QueueWork.item_id == item_id,
                QueueWork.state == WorkState.IN_PROGRESS.value,
                QueueWork.lease_expires_at > now,
                QueueWork.user_id != user_id,
            )
        )
        or 0
    )


def _my_work(session: Session, item_id: str, user_id: str) -> QueueWork | None:
    return session.scalar(
        select(QueueWork).where(QueueWork.item_id == item_id, QueueWork.user_id == user_id)
    )


def _current_lease(
    session: Session, queue_id: str, user_id: str, now: datetime
) -> QueueWork | None:
    return session.scalar(
        select(QueueWork)
        .where(
            QueueWork.queue_id == queue_id,
            QueueWork.user_id == user_id,
            QueueWork.state == WorkState.IN_PROGRESS.value,
            QueueWork.lease_expires_at > now,
        )
        .order_by(QueueWork.started_at)
        .limit(1)
    )


def _candidates(
    session: Session,
    queue: AnnotationQueue,
    user_id: str,
    now: datetime,
    *,
    assigned: bool,
    skip_locked: bool,
) -> list[QueueItem]:
    done_by_me = (
        select(QueueWork.id)
        .where(
            QueueWork.item_id == QueueItem.id,
            QueueWork.user_id == user_id,
            QueueWork.state.in_([WorkState.COMPLETED.value, WorkState.SKIPPED.value]),
        )
        .exists()
    )
    live_others = (
        select(func.count())
        .select_from(QueueWork)
        .where(
            QueueWork.item_id == QueueItem.id,
            QueueWork.state == WorkState.IN_PROGRESS.value,
            QueueWork.lease_expires_at > now,
            QueueWork.user_id != user_id,
        )
        .scalar_subquery()
    )
    pending = (
        QueueItem.queue_id == queue.id,
        QueueItem.status == ItemStatus.PENDING.value,
        QueueItem.assignee_user_id == user_id if assigned else QueueItem.assignee_user_id.is_(None),
    )
    lock = session.get_bind().dialect.name == "postgresql"
    # The order is priority descending, then oldest first. The index ix_queue_items_next holds
    # (queue, status, assignee, priority, created_at, id) all ascending, so one ORDER BY
    # priority DESC, created_at, id would sort every pending item of the queue (a million of
    # them: seconds). Within one priority the index order is the wanted order, so the items
    # are read one priority at a time, highest first, each read stopping after a few rows.
    # Both ORDER BYs also name assignee_user_id, constant here: PostgreSQL follows an index's
    # order only past columns fixed by `=`, and `assignee_user_id IS NULL` is not `=`.
    found: list[QueueItem] = []
    below: int | None = None
    while len(found) < _CANDIDATES:
        top = (
            select(QueueItem.priority)
            .where(*pending)
            .order_by(QueueItem.assignee_user_id.desc(), QueueItem.priority.desc())
            .limit(1)
        )
        if below is not None:
            top = top.where(QueueItem.priority < below)
        priority = session.scalar(top)
        if priority is None:
            break
        stmt = (
            select(QueueItem)
            .where(
                *pending,
                QueueItem.priority == priority,
                ~done_by_me,
                QueueItem.completion_count + live_others < queue.annotators_per_item,
            )
            .order_by(QueueItem.assignee_user_id, QueueItem.created_at, QueueItem.id)
            .limit(_CANDIDATES - len(found))
        )
        if lock:
            stmt = stmt.with_for_update(of=QueueItem, skip_locked=skip_locked)
        found += session.scalars(stmt)
        below = priority
    return found


def _lease(
    session: Session, queue: AnnotationQueue, item: QueueItem, user_id: str, now: datetime
) -> QueueWork:
    expires = now + timedelta(seconds=queue.lease_seconds)
    work = _my_work(session, item.id, user_id)
    if work is None:
        work = QueueWork(
            item_id=item.id,
            queue_id=queue.id,
            user_id=user_id,
            state=WorkState.IN_PROGRESS.value,
            started_at=now,
            lease_expires_at=expires,
            updated_at=now,
        )
        session.add(work)
    else:
        if (
            work.state != WorkState.IN_PROGRESS.value
            or work.lease_expires_at is None
            or work.lease_expires_at <= now
        ):
            work.started_at = now
        work.state = WorkState.IN_PROGRESS.value
        work.lease_expires_at = expires
        work.updated_at = now
    session.flush()
    return work


@dataclass
class Leased:
    item: QueueItem
    work: QueueWork
    queue: AnnotationQueue


def next_item(session: Session, project_id: str, queue_id: str, worker: Worker) -> Leased | None:
    """The best item this person may work on, leased to them; None when nothing is left."""
    queue = queues.get_queue(session, project_id, queue_id)
    check_may_work(session, queue, worker)
    now = utcnow()
    held = _current_lease(session, queue.id, worker.user_id, now)
    if held is not None:
        item = session.get(QueueItem, held.item_id)
        if item is not None and item.status == ItemStatus.PENDING.value:
            return Leased(item, held, queue)
    postgres = session.get_bind().dialect.name == "postgresql"
    for assigned in (True, False):
        for skip_locked in (True, False):
            for item in _candidates(
                session, queue, worker.user_id, now, assigned=assigned, skip_locked=skip_locked
            ):
                # PostgreSQL: the row is locked now, but the leases were counted before: re-check.
                # SQLite: writes are serialized (BEGIN IMMEDIATE), so the candidate query's count,
                # made in this transaction with this `now`, still holds.
                if postgres and (
                    item.completion_count
                    + _live_leases_of_others(session, item.id, worker.user_id, now)
                    >= queue.annotators_per_item
                ):
                    continue
                work = _lease(session, queue, item, worker.user_id, now)
                return Leased(item, work, queue)
            if not postgres:
                break
    return None


@dataclass
class ScoreValue:
    config_id: str
    value: Any
    comment: str | None = None


def parse_scores(body: Mapping[str, Any]) -> tuple[list[ScoreValue], str | None]:
    raw = body.get("scores", [])
    if not isinstance(raw, list):
        raise Invalid("scores: must be a list of {configId, value, comment}")
    values = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("configId"), str):
            raise Invalid(f"scores[{i}].configId: required")
        if entry.get("value") is None:
            raise Invalid(f"scores[{i}].value: required")
        comment = entry.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise Invalid(f"scores[{i}].comment: must be a string")
        values.append(ScoreValue(entry["configId"], entry["value"], comment or None))
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise Invalid("comment: must be a string")
    return values, (comment or None)


def _target(item: QueueItem) -> dict[str, Any]:
    if item.object_type == "TRACE":
        return {"traceId": item.object_id}
    if item.object_type == "OBSERVATION":
        return {"traceId": item.trace_id, "observationId": item.object_id}
    return {"sessionId": item.object_id}


@dataclass
class Completion:
    item: QueueItem
    score_ids: list[str]
    already_completed: bool


def complete_item(
    session: Session,
    project_id: str,
    queue_id: str,
    item_id: str,
    worker: Worker,
    values: Sequence[ScoreValue],
    comment: str | None,
) -> Completion:
    """Save this person's scores and their completion of the item, in the caller's transaction."""
    queue = queues.get_queue(session, project_id, queue_id)
    check_may_work(session, queue, worker)
    item = queues.get_item(session, project_id, queue_id, item_id, lock=True)
    now = utcnow()
    for i, value in enumerate(values):
        if value.config_id not in queue.score_config_ids:
            raise Invalid(
                f"scores[{i}].configId: config {value.config_id} is not one of this queue's"
            )
    work = _my_work(session, item.id, worker.user_id)
    already = work is not None and work.state == WorkState.COMPLETED.value
    if not already:
        holds_lease = (
            work is not None
            and work.state == WorkState.IN_PROGRESS.value
            and work.lease_expires_at is not None
            and work.lease_expires_at > now
        )
        if item.assignee_user_id and item.assignee_user_id != worker.user_id:
            raise Forbidden("this item is assigned to someone else")
        if not holds_lease and (
            item.completion_count + _live_leases_of_others(session, item.id, worker.user_id, now)
            >= queue.annotators_per_item
        ):
            raise Conflict(
                f"this item already has its {queue.annotators_per_item} annotator(s); "
                "take the next one"
            )
    inputs = [
        scores.ScoreInput(
            {
                **_target(item),
                "configId": v.config_id,
                "value": v.value,
                "comment": v.comment,
                "source": ScoreSource.ANNOTATION.value,
            }
        )
        for v in values
    ]
    written = scores.write_scores(
        session, project_id, inputs, scores.Actor(user_id=worker.user_id), queue_id=queue.id
    )
    if written.errors:
        index, message = next(iter(sorted(written.errors.items())))
        raise Invalid(f"scores[{index}]: {message}")
    if comment:
        session.add(
            Comment(
                project_id=project_id,
                object_type=item.object_type,
                object_id=item.object_id,
                content=comment,
                author_user_id=worker.user_id,
            )
        )
    if not already:
        if work is None:
            work = QueueWork(
                item_id=item.id,
                queue_id=queue.id,
                user_id=worker.user_id,
                state=WorkState.COMPLETED.value,
                started_at=now,
            )
            session.add(work)
        started = work.started_at or now
        work.state = WorkState.COMPLETED.value
        work.completed_at = now
        work.lease_expires_at = None
        work.seconds_spent = max(0.0, (now - started).total_seconds())
        work.updated_at = now
        item.completion_count += 1
        if item.completion_count >= queue.annotators_per_item:
            item.status = ItemStatus.COMPLETED.value
            item.completed_at = now
        item.updated_at = now
    session.flush()
    return Completion(item, [i for i in written.ids if i], already)


def skip_item(
    session: Session, project_id: str, queue_id: str, item_id: str, worker: Worker
) -> QueueItem:
    queue = queues.get_queue(session, project_id, queue_id)
    check_may_work(session, queue, worker)
    item = queues.get_item(session, project_id, queue_id, item_id, lock=True)
    now = utcnow()
    work = _my_work(session, item.id, worker.user_id)
    if work is not None and work.state == WorkState.COMPLETED.value:
        raise Conflict("you already completed this item")
    if work is None:
        work = QueueWork(
            item_id=item.id,
            queue_id=queue.id,
            user_id=worker.user_id,
            started_at=now,
            state=WorkState.SKIPPED.value,
        )
        session.add(work)
    work.state = WorkState.SKIPPED.value
    work.lease_expires_at = None
    work.updated_at = now
    session.flush()
    return item


def heartbeat(
    session: Session, project_id: str, queue_id: str, item_id: str, worker: Worker
) -> QueueWork:
    queue = queues.get_queue(session, project_id, queue_id)
    item = queues.get_item(session, project_id, queue_id, item_id, lock=True)
    now = utcnow()
    work = _my_work(session, item.id, worker.user_id)
    if work is None or work.state != WorkState.IN_PROGRESS.value or work.lease_expires_at is None:
        raise Conflict("you hold no lease on this item; call next again")
    if work.lease_expires_at <= now:
        # Expired: renew only if the item still has room for this person.
        if (
            item.completion_count + _live_leases_of_others(session, item.id, worker.user_id, now)
            >= queue.annotators_per_item
        ):
            raise Conflict("your lease expired and the item was taken by others; call next again")
        work.started_at = now
    work.lease_expires_at = now + timedelta(seconds=queue.lease_seconds)
    work.updated_at = now
    session.flush()
    return work


def release(session: Session, project_id: str, queue_id: str, item_id: str, worker: Worker) -> None:
    item = queues.get_item(session, project_id, queue_id, item_id, lock=True)
    work = _my_work(session, item.id, worker.user_id)
    if work is None or work.state != WorkState.IN_PROGRESS.value:
        raise Conflict("you hold no lease on this item")
    session.delete(work)
    session.flush()


def my_scores(session: Session, project_id: str, item: QueueItem, user_id: str) -> list[Score]:
    target = _target(item)
    key = scores.target_key(
        target.get("traceId"), target.get("observationId"), target.get("sessionId")
    )
    return list(
        session.scalars(
            select(Score).where(
                Score.project_id == project_id,
                Score.target_key == key,
                Score.author_user_id == user_id,
                Score.source == ScoreSource.ANNOTATION.value,
            )
        )
    )


# --- progress and results ----------------------------------------------------------------


@dataclass
class AnnotatorProgress:
    user_id: str
    name: str
    email: str
    completed: int = 0
    skipped: int = 0
    in_progress: int = 0
    median_seconds: float | None = None


@dataclass
class Progress:
    total: int
    pending: int
    in_progress: int
    completed: int
    skipped: int
    annotators_per_item: int
    completions: int
    annotators: list[AnnotatorProgress] = field(default_factory=list)


def progress(session: Session, project_id: str, queue_id: str) -> Progress:
    queue = queues.get_queue(session, project_id, queue_id)
    now = utcnow()
    total, completed, completions = session.execute(
        select(
            func.count(),
            func.coalesce(
                func.sum(cast(QueueItem.status == ItemStatus.COMPLETED.value, Integer)), 0
            ),
            func.coalesce(func.sum(QueueItem.completion_count), 0),
        ).where(QueueItem.queue_id == queue.id)
    ).one()
    live = and_(QueueWork.state == WorkState.IN_PROGRESS.value, QueueWork.lease_expires_at > now)
    in_progress = (
        session.scalar(
            select(func.count(func.distinct(QueueWork.item_id)))
            .join(QueueItem, QueueItem.id == QueueWork.item_id)
            .where(
                QueueWork.queue_id == queue.id, live, QueueItem.status == ItemStatus.PENDING.value
            )
        )
        or 0
    )
    skipped = (
        session.scalar(
            select(func.count(func.distinct(QueueWork.item_id))).where(
                QueueWork.queue_id == queue.id, QueueWork.state == WorkState.SKIPPED.value
            )
        )
        or 0
    )
    by_user: dict[str, AnnotatorProgress] = {}
    durations: dict[str, list[float]] = {}
    rows = session.execute(
        select(
            QueueWork.user_id,
            User.name,
            User.email,
            QueueWork.state,
            QueueWork.lease_expires_at,
            QueueWork.seconds_spent,
        )
        .join(User, User.id == QueueWork.user_id)
        .where(QueueWork.queue_id == queue.id)
    ).all()
    for user_id, name, email, state, lease, seconds in rows:
        entry = by_user.setdefault(user_id, AnnotatorProgress(user_id, name, email))
        if state == WorkState.COMPLETED.value:
            entry.completed += 1
            if seconds is not None:
                durations.setdefault(user_id, []).append(float(seconds))
        elif state == WorkState.SKIPPED.value:
            entry.skipped += 1
        elif lease is not None and _aware(lease) > now:
            entry.in_progress += 1
    for user_id, values in durations.items():
        by_user[user_id].median_seconds = statistics.median(values)
    pending = int(total) - int(completed) - int(in_progress)
    return Progress(
        total=int(total),
        pending=max(0, pending),
        in_progress=int(in_progress),
        completed=int(completed),
        skipped=int(skipped),
        annotators_per_item=queue.annotators_per_item,
        completions=int(completions),
        annotators=sorted(by_user.values(), key=lambda a: (-a.completed, a.email)),
    )


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass
class ResultRow:
    item: QueueItem
    user_id: str
    email: str
    state: str
    seconds_spent: float | None
    completed_at: datetime | None
    values: dict[str, Any]
    comments: dict[str, str | None]


def results(
    session: Session, project_id: str, queue_id: str
) -> tuple[AnnotationQueue, list[str], Any]:
    """One row per item and annotator: state, each config's value and comment, time spent."""
    queue = queues.get_queue(session, project_id, queue_id)
    from tracemark.services import score_configs

    configs = score_configs.configs_by_id(session, project_id, set(queue.score_config_ids))
    names = [configs[c].name for c in queue.score_config_ids if c in configs]

    def rows() -> Any:
        stmt = (
            select(QueueWork, QueueItem, User.email)
            .join(QueueItem, QueueItem.id == QueueWork.item_id)
            .join(User, User.id == QueueWork.user_id)
            .where(QueueWork.queue_id == queue.id)
            .order_by(QueueItem.created_at, QueueItem.id, User.email)
        )
        for work, item, email in session.execute(stmt, execution_options={"yield_per": 500}):
            target = _target(item)
            key = scores.target_key(
                target.get("traceId"), target.get("observationId"), target.get("sessionId")
            )
            values: dict[str, Any] = {}
            comments: dict[str, str | None] = {}
            for score in session.scalars(
                select(Score).where(
                    Score.project_id == project_id,
                    Score.target_key == key,
                    Score.author_user_id == work.user_id,
                    Score.source == ScoreSource.ANNOTATION.value,
                    Score.config_id.in_(queue.score_config_ids),
                )
            ):
                config = configs.get(score.config_id or "")
                if config is None:
                    continue
                values[config.name] = (
                    score.string_value if score.string_value is not None else score.value
                )
                comments[config.name] = score.comment
            yield ResultRow(
                item,
                work.user_id,
                email,
                work.state,
                work.seconds_spent,
                work.completed_at,
                values,
                comments,
            )

    return queue, names, rows()
