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
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tracemark.db.base import new_id, utcnow
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
from tracemark.services import comments, queues, scores
from tracemark.services.errors import Conflict, Forbidden, Invalid, NotFound


@dataclass(frozen=True)
class Worker:
    """The person processing the queue."""

    user_id: str
    is_admin: bool = False


@dataclass
class _Open:
    """A queue as one worker finds it, read in one statement."""

    queue: AnnotationQueue
    held_work_id: str | None = None  # next: their live lease in this queue, if any
    has_assigned: bool = False  # next: pending items assigned to them exist


# The statements of next and complete are built once per process, with bound parameters:
# building a statement and computing its cache key cost more CPU than running it.


@cache
def _open_statement(for_next: bool) -> Select[Any]:
    queue_id: Any = bindparam("queue_id")
    user_id: Any = bindparam("user_id")
    members = select(QueueMember.user_id).where(QueueMember.queue_id == queue_id)
    columns: list[Any] = [
        AnnotationQueue,
        members.exists(),
        members.where(QueueMember.user_id == user_id).exists(),
    ]
    if for_next:
        columns.append(
            select(QueueWork.id)
            .where(
                QueueWork.queue_id == queue_id,
                QueueWork.user_id == user_id,
                QueueWork.state == WorkState.IN_PROGRESS.value,
                QueueWork.lease_expires_at > bindparam("now"),
            )
            .order_by(QueueWork.started_at)
            .limit(1)
            .scalar_subquery()
        )
        columns.append(
            select(QueueItem.id)
            .where(
                QueueItem.queue_id == queue_id,
                QueueItem.status == ItemStatus.PENDING.value,
                QueueItem.assignee_user_id == user_id,
            )
            .exists()
        )
    return select(*columns).where(
        AnnotationQueue.id == queue_id, AnnotationQueue.project_id == bindparam("project_id")
    )


def _open_queue(
    session: Session,
    project_id: str,
    queue_id: str,
    worker: Worker,
    now: datetime | None = None,
) -> _Open:
    """The queue, checked workable by this person (not archived, a member if it has members).

    One statement: the queue row and its member check; for `next` (given `now`) also the
    worker's live lease and whether items wait assigned to them.
    """
    params: dict[str, Any] = {
        "queue_id": queue_id,
        "project_id": project_id,
        "user_id": worker.user_id,
    }
    if now is not None:
        params["now"] = now
    row = session.execute(_open_statement(now is not None), params).first()
    if row is None:
        raise NotFound(f"annotation queue {queue_id} not found in this project")
    queue = row[0]
    _check_workable(queue, row[1], row[2], worker)
    if now is None:
        return _Open(queue)
    return _Open(queue, held_work_id=row[3], has_assigned=bool(row[4]))


def _check_workable(
    queue: AnnotationQueue, has_members: bool, is_member: bool, worker: Worker
) -> None:
    if queue.archived:
        raise Conflict("this queue is archived")
    if has_members and not is_member and not worker.is_admin:
        raise Forbidden("you are not a member of this queue; ask a project admin to add you")


def workable_queue(
    session: Session, project_id: str, queue_id: str, worker: Worker
) -> AnnotationQueue:
    """The queue, if this person may work in it (not archived; a member if it has members)."""
    return _open_queue(session, project_id, queue_id, worker).queue


def _live_others(item_id: str, user_id: str, now: datetime) -> Any:
    """The number of live leases other people hold on the item, as a scalar subquery."""
    return (
        select(func.count())
        .select_from(QueueWork)
        .where(
            QueueWork.item_id == item_id,
            QueueWork.state == WorkState.IN_PROGRESS.value,
            QueueWork.lease_expires_at > now,
            QueueWork.user_id != user_id,
        )
        .scalar_subquery()
    )


def _live_leases_of_others(session: Session, item_id: str, user_id: str, now: datetime) -> int:
    return session.scalar(select(_live_others(item_id, user_id, now))) or 0


@cache
def _candidate_statements(assigned: bool, lock: str | None, below: bool) -> tuple[Any, Any]:
    """(items at the top priority level, that level) for one kind of pass, parameterized."""
    user_id: Any = bindparam("user_id")
    now: Any = bindparam("now")
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
        QueueItem.queue_id == bindparam("queue_id"),
        QueueItem.status == ItemStatus.PENDING.value,
        QueueItem.assignee_user_id == user_id if assigned else QueueItem.assignee_user_id.is_(None),
    )
    # The order is priority descending, then oldest first. The index ix_queue_items_next holds
    # (queue, status, assignee, priority, created_at, id) all ascending, so one ORDER BY
    # priority DESC, created_at, id would sort every pending item of the queue (a million of
    # them: seconds). Within one priority the index order is the wanted order, so the items
    # are read one priority at a time, highest first, each read stopping after a few rows; the
    # priority level is a subquery of the same statement. Both ORDER BYs also name
    # assignee_user_id, constant here: PostgreSQL follows an index's order only past columns
    # fixed by `=`, and `assignee_user_id IS NULL` is not `=`.
    top = (
        select(QueueItem.priority)
        .where(*pending)
        .order_by(QueueItem.assignee_user_id.desc(), QueueItem.priority.desc())
        .limit(1)
    )
    if below:
        top = top.where(QueueItem.priority < bindparam("below"))
    items = (
        select(QueueItem)
        .where(
            *pending,
            QueueItem.priority == top.scalar_subquery(),
            ~done_by_me,
            QueueItem.completion_count + live_others < bindparam("n"),
            QueueItem.id.not_in(bindparam("exclude", expanding=True)),
        )
        .order_by(QueueItem.assignee_user_id, QueueItem.created_at, QueueItem.id)
        .limit(1)
    )
    if lock is not None:
        items = items.with_for_update(of=QueueItem, skip_locked=lock == "skip")
    return items, top


def _candidate(
    session: Session,
    queue: AnnotationQueue,
    user_id: str,
    now: datetime,
    *,
    assigned: bool,
    lock: str | None,
    exclude: Sequence[str] = (),
) -> QueueItem | None:
    """The first item this person may take, in order; `lock`: None, "skip" or "wait"."""
    params: dict[str, Any] = {
        "queue_id": queue.id,
        "user_id": user_id,
        "now": now,
        "n": queue.annotators_per_item,
        "exclude": list(exclude) or [""],
    }
    below: int | None = None
    while True:
        items, top = _candidate_statements(assigned, lock, below is not None)
        found: QueueItem | None = session.scalars(items, params).first()
        if found is not None:
            return found
        # This priority level is used up for this person: go on below it, if there is a level.
        level = session.scalar(top, params)
        if level is None:
            return None
        below = params["below"] = level


@cache
def _lease_statement(dialect: str, recheck: bool) -> Any:
    stamp = QueueWork.started_at.type
    now: Any = bindparam("now", type_=stamp)
    expires: Any = bindparam("expires", type_=stamp)
    source = select(
        bindparam("id", type_=String),
        bindparam("item_id", type_=String),
        bindparam("queue_id", type_=String),
        bindparam("user_id", type_=String),
        literal(WorkState.IN_PROGRESS.value),
        now,
        expires,
        now,
    )
    if recheck:
        live_others = (
            select(func.count())
            .select_from(QueueWork)
            .where(
                QueueWork.item_id == bindparam("item_id"),
                QueueWork.state == WorkState.IN_PROGRESS.value,
                QueueWork.lease_expires_at > now,
                QueueWork.user_id != bindparam("user_id"),
            )
            .scalar_subquery()
        )
        source = source.where(live_others < bindparam("room", type_=Integer))
    else:
        source = source.where(true())  # SQLite needs a WHERE before ON CONFLICT
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(QueueWork).from_select(list(_LEASE_COLUMNS), source)
    lapsed = or_(QueueWork.lease_expires_at.is_(None), QueueWork.lease_expires_at <= now)
    return statement.on_conflict_do_update(
        index_elements=["item_id", "user_id"],
        set_={
            "started_at": case((lapsed, now), else_=QueueWork.started_at),
            "lease_expires_at": expires,
            "updated_at": now,
        },
        where=QueueWork.state == WorkState.IN_PROGRESS.value,
    ).returning(QueueWork.id, QueueWork.started_at)


_LEASE_COLUMNS = (
    "id",
    "item_id",
    "queue_id",
    "user_id",
    "state",
    "started_at",
    "lease_expires_at",
    "updated_at",
)


def _lease(
    session: Session,
    queue: AnnotationQueue,
    item: QueueItem,
    user_id: str,
    now: datetime,
    *,
    recheck: bool,
) -> QueueWork | None:
    """Lease the item to this person in one statement (insert, or renew their expired lease).

    `recheck` (PostgreSQL, the item row locked): lease only if the item still has room, counted
    now; the candidate query counted leases in a snapshot taken before the row was locked.
    None when it has no room (or the person's work on it is no longer in progress).
    """
    expires = now + timedelta(seconds=queue.lease_seconds)
    statement = _lease_statement(session.get_bind().dialect.name, recheck)
    params = {
        "id": new_id(),
        "item_id": item.id,
        "queue_id": queue.id,
        "user_id": user_id,
        "now": now,
        "expires": expires,
        "room": queue.annotators_per_item - item.completion_count,
    }
    # On the connection: parameters given to an ORM-enabled INSERT would make it a bulk insert.
    row = session.connection().execute(statement, params).first()
    if row is None:
        return None
    return QueueWork(
        id=row[0],
        item_id=item.id,
        queue_id=queue.id,
        user_id=user_id,
        state=WorkState.IN_PROGRESS.value,
        started_at=row[1],
        lease_expires_at=expires,
        updated_at=now,
    )


@dataclass
class Leased:
    item: QueueItem
    work: QueueWork
    queue: AnnotationQueue


def _held(session: Session, opened: _Open) -> Leased | None:
    assert opened.held_work_id is not None
    row = session.execute(
        select(QueueWork, QueueItem)
        .join(QueueItem, QueueItem.id == QueueWork.item_id)
        .where(QueueWork.id == opened.held_work_id)
    ).first()
    if row is None or row[1].status != ItemStatus.PENDING.value:
        return None
    return Leased(row[1], row[0], opened.queue)


def next_item(session: Session, project_id: str, queue_id: str, worker: Worker) -> Leased | None:
    """The best item this person may work on, leased to them; None when nothing is left."""
    now = utcnow()
    opened = _open_queue(session, project_id, queue_id, worker, now)
    queue = opened.queue
    if opened.held_work_id is not None:
        held = _held(session, opened)
        if held is not None:
            return held
    passes = (True, False) if opened.has_assigned else (False,)
    if session.get_bind().dialect.name != "postgresql":
        # SQLite: writes are serialized (BEGIN IMMEDIATE), so the candidate query's count, made
        # in this transaction with this `now`, still holds when the lease is written.
        for assigned in passes:
            item = _candidate(session, queue, worker.user_id, now, assigned=assigned, lock=None)
            if item is not None:
                work = _lease(session, queue, item, worker.user_id, now, recheck=False)
                if work is not None:
                    return Leased(item, work, queue)
        return None
    for assigned in passes:
        leased = _next_locked(session, queue, worker.user_id, now, assigned=assigned)
        if leased is not None:
            return leased
    return None


def _next_locked(
    session: Session, queue: AnnotationQueue, user_id: str, now: datetime, *, assigned: bool
) -> Leased | None:
    """PostgreSQL: lock a candidate row, re-count its leases, lease it; several processes.

    First pass: SKIP LOCKED, so that concurrent callers spread over different items. Items
    locked by others may still have room for this person, so if nothing is found a second pass
    waits for those locks. Every attempt runs in a savepoint, rolled back when it leases
    nothing: a caller waiting for a row lock then holds no lock on a rejected item (which the
    holder of that row might wait for: a deadlock).
    """
    for lock in ("skip", "wait"):
        rejected: list[str] = []
        while True:
            savepoint = session.begin_nested()
            try:
                item = _candidate(
                    session, queue, user_id, now, assigned=assigned, lock=lock, exclude=rejected
                )
                work = None
                if item is not None:
                    work = _lease(session, queue, item, user_id, now, recheck=True)
            except OperationalError as exc:
                savepoint.rollback()
                # Only a caller whose transaction already holds an item lock can be part of a
                # cycle (the web page completes an item and asks for the next in one
                # transaction). PostgreSQL then cancels one wait: that caller gets no item now
                # rather than an error, and its completion is kept.
                if lock == "wait" and getattr(exc.orig, "sqlstate", None) == "40P01":
                    return None
                raise
            if item is not None and work is not None:
                savepoint.commit()
                return Leased(item, work, queue)
            savepoint.rollback()
            if item is None:
                break
            rejected.append(item.id)
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
    comments.check_length(comment)
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
    queue, item, work = _open_item(session, project_id, queue_id, item_id, worker)
    for i, value in enumerate(values):
        if value.config_id not in queue.score_config_ids:
            raise Invalid(
                f"scores[{i}].configId: config {value.config_id} is not one of this queue's"
            )
    now = utcnow()
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
    target = _target(item)
    inputs = [
        scores.ScoreInput(
            {
                **target,
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
        _record_completion(session, queue, item, work, worker.user_id, now)
    session.flush()
    return Completion(item, [i for i in written.ids if i], already)


@cache
def _locked_item_statement() -> Select[QueueItem, QueueWork]:
    return (
        select(QueueItem, QueueWork)
        .outerjoin(
            QueueWork,
            and_(QueueWork.item_id == QueueItem.id, QueueWork.user_id == bindparam("user_id")),
        )
        .where(
            QueueItem.id == bindparam("item_id"),
            QueueItem.queue_id == bindparam("queue_id"),
            QueueItem.project_id == bindparam("project_id"),
        )
        .with_for_update(of=QueueItem)
    )


def _locked_item(
    session: Session, project_id: str, queue_id: str, item_id: str, user_id: str
) -> tuple[QueueItem, QueueWork | None]:
    """The item, its row locked (PostgreSQL), with this person's work on it: one statement."""
    params = {"item_id": item_id, "queue_id": queue_id, "project_id": project_id}
    row = session.execute(_locked_item_statement(), {**params, "user_id": user_id}).first()
    if row is None:
        raise NotFound(f"item {item_id} not found in queue {queue_id}")
    return row[0], row[1]


@cache
def _open_item_statement() -> Any:
    """The queue with its member checks (as _open_statement), the item locked, the work row."""
    queue_id: Any = bindparam("queue_id")
    user_id: Any = bindparam("user_id")
    members = select(QueueMember.user_id).where(QueueMember.queue_id == queue_id)
    return (
        select(
            AnnotationQueue,
            members.exists(),
            members.where(QueueMember.user_id == user_id).exists(),
            QueueItem,
            QueueWork,
        )
        .join(
            QueueItem,
            and_(
                QueueItem.id == bindparam("item_id"),
                QueueItem.queue_id == AnnotationQueue.id,
                QueueItem.project_id == AnnotationQueue.project_id,
            ),
        )
        .outerjoin(QueueWork, and_(QueueWork.item_id == QueueItem.id, QueueWork.user_id == user_id))
        .where(
            AnnotationQueue.id == queue_id, AnnotationQueue.project_id == bindparam("project_id")
        )
        .with_for_update(of=QueueItem)
    )


def _open_item(
    session: Session, project_id: str, queue_id: str, item_id: str, worker: Worker
) -> tuple[AnnotationQueue, QueueItem, QueueWork | None]:
    """_open_queue and _locked_item in one statement: the queue checked workable by this
    person, the item (its row locked on PostgreSQL) and their work on it."""
    params = {
        "queue_id": queue_id,
        "project_id": project_id,
        "user_id": worker.user_id,
        "item_id": item_id,
    }
    row = session.execute(_open_item_statement(), params).first()
    if row is None:
        # No such item in a queue of this project: say what is missing, as the two would.
        _open_queue(session, project_id, queue_id, worker)
        raise NotFound(f"item {item_id} not found in queue {queue_id}")
    queue, has_members, is_member, item, work = row
    _check_workable(queue, has_members, is_member, worker)
    return queue, item, work


@cache
def _completion_statements(full: bool) -> tuple[Any, Any]:
    """(the work row's UPDATE, the item's UPDATE); `full`: the item becomes COMPLETED."""
    now = bindparam("now", type_=QueueWork.updated_at.type)
    work = (
        update(QueueWork)
        .where(QueueWork.id == bindparam("work_id"))
        .values(
            state=WorkState.COMPLETED.value,
            completed_at=now,
            lease_expires_at=None,
            seconds_spent=bindparam("seconds_spent"),
            updated_at=now,
        )
    )
    changes: dict[str, Any] = {
        "completion_count": bindparam("count"),
        "updated_at": bindparam("now"),
    }
    if full:
        changes.update(status=ItemStatus.COMPLETED.value, completed_at=bindparam("now"))
    item = update(QueueItem).where(QueueItem.id == bindparam("item_id")).values(**changes)
    return work, item


def _record_completion(
    session: Session,
    queue: AnnotationQueue,
    item: QueueItem,
    work: QueueWork | None,
    user_id: str,
    now: datetime,
) -> None:
    """This person's work row COMPLETED, the item's count up (COMPLETED at N): two UPDATEs.

    The item row is locked, so its count read with the lock is current. The loaded objects are
    brought up to date without being marked changed (no second UPDATE at flush).
    """
    count = item.completion_count + 1
    full = count >= queue.annotators_per_item
    work_update, item_update = _completion_statements(full)
    connection = session.connection()  # Core UPDATEs: the ORM would take parameters as bulk rows
    if work is None:
        session.add(
            QueueWork(
                item_id=item.id,
                queue_id=queue.id,
                user_id=user_id,
                state=WorkState.COMPLETED.value,
                started_at=now,
                completed_at=now,
                seconds_spent=0.0,
                updated_at=now,
            )
        )
    else:
        seconds = max(0.0, (now - (work.started_at or now)).total_seconds())
        connection.execute(work_update, {"work_id": work.id, "now": now, "seconds_spent": seconds})
        done = {
            "state": WorkState.COMPLETED.value,
            "completed_at": now,
            "lease_expires_at": None,
            "seconds_spent": seconds,
            "updated_at": now,
        }
        for key, value in done.items():
            set_committed_value(work, key, value)
    connection.execute(item_update, {"item_id": item.id, "count": count, "now": now})
    changes: dict[str, Any] = {"completion_count": count, "updated_at": now}
    if full:
        changes.update(status=ItemStatus.COMPLETED.value, completed_at=now)
    for key, value in changes.items():
        set_committed_value(item, key, value)


def skip_item(
    session: Session, project_id: str, queue_id: str, item_id: str, worker: Worker
) -> QueueItem:
    queue, item, work = _open_item(session, project_id, queue_id, item_id, worker)
    now = utcnow()
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
    item, work = _locked_item(session, project_id, queue_id, item_id, worker.user_id)
    now = utcnow()
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
    _, work = _locked_item(session, project_id, queue_id, item_id, worker.user_id)
    if work is None or work.state != WorkState.IN_PROGRESS.value:
        raise Conflict("you hold no lease on this item")
    session.delete(work)
    session.flush()


def my_scores(session: Session, project_id: str, item: QueueItem, user_id: str) -> list[Score]:
    target = _target(item)
    key = scores.target_key(
        target.get("traceId"), target.get("observationId"), target.get("sessionId")
    )
    params = {"project_id": project_id, "key": key, "user_id": user_id}
    return list(session.scalars(_my_scores_statement(), params))


@cache
def _my_scores_statement() -> Select[Score]:
    return select(Score).where(
        Score.project_id == bindparam("project_id"),
        Score.target_key == bindparam("key"),
        Score.author_user_id == bindparam("user_id"),
        Score.source == ScoreSource.ANNOTATION.value,
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
    """The queue's numbers, read in time that grows with the work done, not with its items.

    The item total is kept on the queue row; completed items are an index range; the rest
    (leases, skips, each annotator's completions) comes from the work rows.
    """
    queue = queues.get_queue(session, project_id, queue_id)
    now = utcnow()
    total = queue.item_count
    completed = queues.completed_counts(session, [queue.id]).get(queue.id, 0)
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
    # An item's completion_count is the number of its COMPLETED work rows.
    completions = sum(a.completed for a in by_user.values())
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
