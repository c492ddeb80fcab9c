"""Annotation queues: definition, members, items (single, bulk, from a trace filter).

Processing (next / complete / skip / heartbeat / release) lives in `queue_work`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, String, delete, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracemark.db.base import new_id, utcnow
from tracemark.db.models import (
    AnnotationQueue,
    ItemStatus,
    Membership,
    Observation,
    QueueItem,
    QueueMember,
    QueueObjectType,
    QueueWork,
    Role,
    Trace,
    TraceSession,
    User,
    WorkState,
)
from tracemark.services import score_configs, traces
from tracemark.services.errors import Conflict, Invalid, NotFound
from tracemark.services.paging import count_rows

MAX_ANNOTATORS = 20
DEFAULT_LEASE_SECONDS = 600
MAX_BULK = 50_000


def _int(body: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{key}: must be a whole number between {low} and {high}")
    if not low <= value <= high:
        raise Invalid(f"{key}: must be between {low} and {high}, got {value}")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("name: required, 1 to 200 characters")
    clean = value.strip()
    if len(clean) > 200:
        raise Invalid("name: at most 200 characters")
    return clean


def _config_ids(session: Session, project_id: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise Invalid("scoreConfigIds: give at least one score config id")
    ids = list(dict.fromkeys(value))
    found = score_configs.configs_by_id(session, project_id, set(ids))
    for config_id in ids:
        config = found.get(config_id)
        if config is None:
            raise Invalid(f"scoreConfigIds: no score config {config_id} in this project")
        if config.is_archived:
            raise Invalid(f"scoreConfigIds: score config {config.name!r} is archived")
    return ids


def _unique_name(session: Session, project_id: str, name: str, exclude: str | None = None) -> None:
    stmt = select(AnnotationQueue.id).where(
        AnnotationQueue.project_id == project_id, AnnotationQueue.name_key == name.lower()
    )
    if exclude:
        stmt = stmt.where(AnnotationQueue.id != exclude)
    if session.scalar(stmt):
        raise Conflict(f"name: a queue named {name!r} already exists in this project")


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("description: must be a string (markdown)")
    if len(value) > 20_000:
        raise Invalid("description: at most 20,000 characters")
    return value or None


def create_queue(session: Session, project_id: str, body: Mapping[str, Any]) -> AnnotationQueue:
    name = _name(body.get("name"))
    _unique_name(session, project_id, name)
    blind = body.get("blind", False)
    if not isinstance(blind, bool):
        raise Invalid("blind: must be true or false")
    queue = AnnotationQueue(
        project_id=project_id,
        name=name,
        name_key=name.lower(),
        description=_description(body.get("description")),
        score_config_ids=_config_ids(session, project_id, body.get("scoreConfigIds")),
        annotators_per_item=_int(body, "annotatorsPerItem", 1, 1, MAX_ANNOTATORS),
        lease_seconds=_int(body, "leaseSeconds", DEFAULT_LEASE_SECONDS, 10, 7 * 86400),
        blind=blind,
        archived=False,
    )
    session.add(queue)
    session.flush()
    if body.get("memberUserIds") is not None:
        set_members(session, queue, body["memberUserIds"])
    return queue


def update_queue(
    session: Session, project_id: str, queue_id: str, body: Mapping[str, Any]
) -> AnnotationQueue:
    queue = get_queue(session, project_id, queue_id, lock=True)
    if queue.archived and body.get("archived") is not False:
        raise Conflict("this queue is archived; restore it (archived=false) before editing")
    if "name" in body:
        name = _name(body["name"])
        _unique_name(session, project_id, name, queue.id)
        queue.name, queue.name_key = name, name.lower()
    if "description" in body:
        queue.description = _description(body["description"])
    if "scoreConfigIds" in body:
        queue.score_config_ids = _config_ids(session, project_id, body["scoreConfigIds"])
    if "annotatorsPerItem" in body:
        n = _int(body, "annotatorsPerItem", queue.annotators_per_item, 1, MAX_ANNOTATORS)
        most = (
            session.scalar(
                select(func.max(QueueItem.completion_count)).where(QueueItem.queue_id == queue.id)
            )
            or 0
        )
        if n < most:
            raise Invalid(
                f"annotatorsPerItem: {n} is below the {most} annotators some items already have"
            )
        if n != queue.annotators_per_item:
            queue.annotators_per_item = n
            _recompute_status(session, queue)
    if "leaseSeconds" in body:
        queue.lease_seconds = _int(body, "leaseSeconds", queue.lease_seconds, 10, 7 * 86400)
    if "blind" in body:
        if not isinstance(body["blind"], bool):
            raise Invalid("blind: must be true or false")
        queue.blind = body["blind"]
    if "archived" in body:
        if not isinstance(body["archived"], bool):
            raise Invalid("archived: must be true or false")
        queue.archived = body["archived"]
    if "memberUserIds" in body:
        set_members(session, queue, body["memberUserIds"] or [])
    queue.updated_at = utcnow()
    session.flush()
    return queue


def _recompute_status(session: Session, queue: AnnotationQueue) -> None:
    now = utcnow()
    n = queue.annotators_per_item
    session.execute(
        update(QueueItem)
        .where(
            QueueItem.queue_id == queue.id,
            QueueItem.completion_count >= n,
            QueueItem.status == ItemStatus.PENDING.value,
        )
        .values(status=ItemStatus.COMPLETED.value, completed_at=now, updated_at=now)
    )
    session.execute(
        update(QueueItem)
        .where(
            QueueItem.queue_id == queue.id,
            QueueItem.completion_count < n,
            QueueItem.status == ItemStatus.COMPLETED.value,
        )
        .values(status=ItemStatus.PENDING.value, completed_at=None, updated_at=now)
    )


def archive_queue(session: Session, project_id: str, queue_id: str) -> AnnotationQueue:
    queue = get_queue(session, project_id, queue_id)
    queue.archived = True
    queue.updated_at = utcnow()
    return queue


def get_queue(
    session: Session, project_id: str, queue_id: str, *, lock: bool = False
) -> AnnotationQueue:
    stmt = select(AnnotationQueue).where(
        AnnotationQueue.id == queue_id, AnnotationQueue.project_id == project_id
    )
    if lock:
        stmt = stmt.with_for_update()
    queue = session.scalar(stmt)
    if queue is None:
        raise NotFound(f"annotation queue {queue_id} not found in this project")
    return queue


@dataclass
class QueueSummary:
    queue: AnnotationQueue
    total: int
    completed: int
    member_ids: list[str]
    is_member: bool


def list_queues(
    session: Session,
    project_id: str,
    *,
    page: int = 1,
    limit: int = 50,
    user_id: str | None = None,
    include_archived: bool = False,
) -> tuple[list[QueueSummary], int]:
    """Queues with item counts; the caller's own queues (they are a member) first."""
    if page < 1 or not 1 <= limit <= 100:
        raise Invalid("page must be >= 1 and limit between 1 and 100")
    base = select(AnnotationQueue).where(AnnotationQueue.project_id == project_id)
    if not include_archived:
        base = base.where(AnnotationQueue.archived.is_(False))
    mine = (
        select(QueueMember.queue_id).where(QueueMember.user_id == user_id).scalar_subquery()
        if user_id
        else None
    )
    order: list[Any] = [AnnotationQueue.archived]
    if mine is not None:
        order.append(AnnotationQueue.id.in_(mine).desc())
    order += [AnnotationQueue.created_at.desc()]
    rows = list(session.scalars(base.order_by(*order).limit(limit).offset((page - 1) * limit)))
    total = count_rows(session, base)
    ids = [q.id for q in rows]
    done = completed_counts(session, ids)
    counts = {q.id: (q.item_count, done.get(q.id, 0)) for q in rows}
    members = members_by_queue(session, ids)
    return [
        QueueSummary(
            q,
            counts.get(q.id, (0, 0))[0],
            counts.get(q.id, (0, 0))[1],
            members.get(q.id, []),
            bool(user_id and user_id in members.get(q.id, [])),
        )
        for q in rows
    ], total


def members_by_queue(session: Session, queue_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {q: [] for q in queue_ids}
    if queue_ids:
        for queue_id, user_id in session.execute(
            select(QueueMember.queue_id, QueueMember.user_id).where(
                QueueMember.queue_id.in_(list(queue_ids))
            )
        ):
            out[queue_id].append(user_id)
    return out


def _project_user(
    session: Session, project_id: str, user_id: str | None = None, email: str | None = None
) -> User:
    stmt = select(User)
    stmt = (
        stmt.where(User.id == user_id)
        if user_id
        else stmt.where(User.email == (email or "").strip().lower())
    )
    user = session.scalar(stmt)
    who = user_id or email
    if user is None:
        raise NotFound(f"no user {who}")
    role = session.scalar(
        select(Membership.role).where(
            Membership.project_id == project_id, Membership.user_id == user.id
        )
    )
    if role is None and not user.is_admin:
        raise Invalid(f"user {who} is not a member of this project")
    if role is not None and Role(role).rank < Role.ANNOTATOR.rank:
        raise Invalid(f"user {who} is a {role} and may not annotate")
    return user


def set_members(session: Session, queue: AnnotationQueue, user_ids: Any) -> None:
    if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids):
        raise Invalid("memberUserIds: must be a list of user ids")
    users = [_project_user(session, queue.project_id, user_id=u) for u in dict.fromkeys(user_ids)]
    session.execute(delete(QueueMember).where(QueueMember.queue_id == queue.id))
    for user in users:
        session.add(QueueMember(queue_id=queue.id, user_id=user.id, project_id=queue.project_id))
    session.flush()


def add_member(
    session: Session, project_id: str, queue_id: str, *, user_id: str | None, email: str | None
) -> User:
    if not user_id and not email:
        raise Invalid("userId or email: give one")
    queue = get_queue(session, project_id, queue_id)
    user = _project_user(session, project_id, user_id=user_id, email=email)
    if session.get(QueueMember, (queue.id, user.id)) is None:
        session.add(QueueMember(queue_id=queue.id, user_id=user.id, project_id=project_id))
        session.flush()
    return user


def remove_member(
    session: Session, project_id: str, queue_id: str, *, user_id: str | None, email: str | None
) -> None:
    queue = get_queue(session, project_id, queue_id)
    stmt = select(User)
    stmt = (
        stmt.where(User.id == user_id)
        if user_id
        else stmt.where(User.email == (email or "").lower())
    )
    user = session.scalar(stmt)
    if user is None:
        raise NotFound(f"no user {user_id or email}")
    session.execute(
        delete(QueueMember).where(QueueMember.queue_id == queue.id, QueueMember.user_id == user.id)
    )


# --- items -------------------------------------------------------------------------------


@dataclass
class ObjectRef:
    object_type: str
    object_id: str
    priority: int = 0
    assignee_user_id: str | None = None


@dataclass
class BulkResult:
    added: list[QueueItem] = field(default_factory=list)
    already_present: list[ObjectRef] = field(default_factory=list)
    not_found: list[ObjectRef] = field(default_factory=list)


def parse_ref(body: Mapping[str, Any], where: str = "") -> ObjectRef:
    object_type = body.get("objectType")
    if object_type not in QueueObjectType.__members__:
        raise Invalid(f"{where}objectType: must be TRACE, OBSERVATION or SESSION")
    object_id = body.get("objectId")
    if not isinstance(object_id, str) or not object_id:
        raise Invalid(f"{where}objectId: required")
    priority = _int(body, "priority", 0, -1_000_000, 1_000_000)
    assignee = body.get("assigneeUserId")
    if assignee is not None and not isinstance(assignee, str):
        raise Invalid(f"{where}assigneeUserId: must be a user id")
    return ObjectRef(str(object_type), object_id, priority, assignee)


def _existing_objects(
    session: Session, project_id: str, refs: Sequence[ObjectRef]
) -> dict[tuple[str, str], str | None]:
    """(type, id) -> trace id (observations) or None, for objects that exist in the project."""
    found: dict[tuple[str, str], str | None] = {}
    by_type: dict[str, list[str]] = {}
    for ref in refs:
        by_type.setdefault(ref.object_type, []).append(ref.object_id)
    for object_type, ids in by_type.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            if object_type == QueueObjectType.TRACE.value:
                for (tid,) in session.execute(
                    select(Trace.id).where(Trace.project_id == project_id, Trace.id.in_(chunk))
                ):
                    found[(object_type, tid)] = tid
            elif object_type == QueueObjectType.OBSERVATION.value:
                for oid, tid in session.execute(
                    select(Observation.id, Observation.trace_id).where(
                        Observation.project_id == project_id, Observation.id.in_(chunk)
                    )
                ):
                    found[(object_type, oid)] = tid
            else:
                for (sid,) in session.execute(
                    select(TraceSession.id).where(
                        TraceSession.project_id == project_id, TraceSession.id.in_(chunk)
                    )
                ):
                    found[(object_type, sid)] = None
    return found


def add_items(
    session: Session, project_id: str, queue_id: str, refs: Sequence[ObjectRef]
) -> BulkResult:
    """Add objects to a queue, set-based. Objects already in the queue are left unchanged."""
    queue = get_queue(session, project_id, queue_id)
    if queue.archived:
        raise Conflict("this queue is archived; restore it before adding items")
    if len(refs) > MAX_BULK:
        raise Invalid(f"items: at most {MAX_BULK} per request")
    assignees = {r.assignee_user_id for r in refs if r.assignee_user_id}
    for assignee in assignees:
        _project_user(session, project_id, user_id=assignee)
    result = BulkResult()
    existing = _existing_objects(session, project_id, refs)
    present: set[tuple[str, str]] = set()
    by_type: dict[str, list[str]] = {}
    for ref in refs:
        by_type.setdefault(ref.object_type, []).append(ref.object_id)
    for object_type, ids in by_type.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for (oid,) in session.execute(
                select(QueueItem.object_id).where(
                    QueueItem.queue_id == queue.id,
                    QueueItem.object_type == object_type,
                    QueueItem.object_id.in_(chunk),
                )
            ):
                present.add((object_type, oid))
    now = utcnow()
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for ref in refs:
        key = (ref.object_type, ref.object_id)
        if key not in existing:
            result.not_found.append(ref)
        elif key in present or key in seen:
            result.already_present.append(ref)
        else:
            seen.add(key)
            rows.append(
                {
                    "id": new_id(),
                    "queue_id": queue.id,
                    "project_id": project_id,
                    "object_type": ref.object_type,
                    "object_id": ref.object_id,
                    "trace_id": existing[key],
                    "status": ItemStatus.PENDING.value,
                    "assignee_user_id": ref.assignee_user_id,
                    "priority": ref.priority,
                    "completion_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if rows:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(QueueItem).on_conflict_do_nothing(
                index_elements=["queue_id", "object_type", "object_id"]
            ),
            rows,
        )
        ids = [r["id"] for r in rows]
        for start in range(0, len(ids), 500):
            result.added += list(
                session.scalars(select(QueueItem).where(QueueItem.id.in_(ids[start : start + 500])))
            )
        _count_items(session, queue.id, len(result.added))
    return result


def _count_items(session: Session, queue_id: str, change: int) -> None:
    """Keep the queue's item count: every statement that adds or removes items calls this."""
    if change:
        session.execute(
            update(AnnotationQueue)
            .where(AnnotationQueue.id == queue_id)
            .values(item_count=AnnotationQueue.item_count + change)
            .execution_options(synchronize_session=False)
        )
        loaded = session.identity_map.get(session.identity_key(AnnotationQueue, queue_id))
        if loaded is not None:
            session.expire(loaded, ["item_count"])


def add_items_from_filter(
    session: Session,
    project_id: str,
    queue_id: str,
    flt: traces.TraceFilter,
    *,
    limit: int | None = None,
    sample: float | None = None,
    priority: int = 0,
) -> int:
    """Add every trace matching a trace filter (optionally a random sample), in one statement."""
    queue = get_queue(session, project_id, queue_id)
    if queue.archived:
        raise Conflict("this queue is archived; restore it before adding items")
    if limit is not None and not 1 <= limit <= 1_000_000:
        raise Invalid("limit: must be between 1 and 1,000,000")
    if sample is not None and not 0 < sample <= 1:
        raise Invalid("sample: must be a fraction above 0 and at most 1")
    dialect = session.get_bind().dialect.name
    matching = traces.trace_query(project_id, flt).with_only_columns(Trace.id, Trace.timestamp)
    if sample is not None and sample < 1:
        if dialect == "postgresql":
            matching = matching.where(func.random() < sample)
        else:
            matching = matching.where(
                (func.abs(func.random()) % 1_000_000) < int(sample * 1_000_000)
            )
    matching = matching.where(
        ~select(QueueItem.id)
        .where(
            QueueItem.queue_id == queue.id,
            QueueItem.object_type == QueueObjectType.TRACE.value,
            QueueItem.object_id == Trace.id,
        )
        .exists()
    )
    matching = matching.order_by(Trace.timestamp.desc())
    if limit is not None:
        matching = matching.limit(limit)
    picked = matching.subquery()
    # Random ids (and so a random order among these items, which share created_at), but with
    # one random 8-hex-digit prefix per call: the new ids sit together in the primary key index,
    # so 50,000 of them fill a few hundred new pages of it instead of dirtying nearly all of
    # its pages (on SQLite a third of the statement's time, and all of it written at commit).
    batch = literal(new_id()[:8], type_=String)
    item_id = (
        batch + func.substr(func.md5(func.random().cast(String) + picked.c.id), 1, 24)
        if dialect == "postgresql"
        else batch + func.lower(func.hex(func.randomblob(12)))
    )
    now = utcnow()
    source = select(
        item_id,
        literal(queue.id),
        literal(project_id),
        literal(QueueObjectType.TRACE.value),
        picked.c.id,
        picked.c.id,
        literal(ItemStatus.PENDING.value),
        literal(priority),
        literal(0),
        literal(now, type_=QueueItem.created_at.type),
        literal(now, type_=QueueItem.updated_at.type),
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(QueueItem)
        .from_select(
            [
                "id",
                "queue_id",
                "project_id",
                "object_type",
                "object_id",
                "trace_id",
                "status",
                "priority",
                "completion_count",
                "created_at",
                "updated_at",
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["queue_id", "object_type", "object_id"])
        .returning(QueueItem.id)
    )
    added = len(session.execute(statement).all())
    _count_items(session, queue.id, added)
    return added


def get_item(
    session: Session, project_id: str, queue_id: str, item_id: str, *, lock: bool = False
) -> QueueItem:
    stmt = select(QueueItem).where(
        QueueItem.id == item_id, QueueItem.queue_id == queue_id, QueueItem.project_id == project_id
    )
    if lock:
        stmt = stmt.with_for_update()
    item = session.scalar(stmt)
    if item is None:
        raise NotFound(f"item {item_id} not found in queue {queue_id}")
    return item


def update_item(
    session: Session, project_id: str, queue_id: str, item_id: str, body: Mapping[str, Any]
) -> QueueItem:
    queue = get_queue(session, project_id, queue_id)
    if queue.archived:
        raise Conflict("this queue is archived; restore it before editing items")
    item = get_item(session, project_id, queue_id, item_id, lock=True)
    now = utcnow()
    if "priority" in body:
        item.priority = _int(body, "priority", item.priority, -1_000_000, 1_000_000)
    if "assigneeUserId" in body:
        assignee = body["assigneeUserId"]
        if assignee is not None:
            _project_user(session, project_id, user_id=assignee)
        item.assignee_user_id = assignee
    if "status" in body:
        status = body["status"]
        if status not in ItemStatus.__members__:
            raise Invalid("status: must be PENDING or COMPLETED")
        item.status = status
        item.completed_at = now if status == ItemStatus.COMPLETED.value else None
    item.updated_at = now
    session.flush()
    return item


def delete_item(session: Session, project_id: str, queue_id: str, item_id: str) -> None:
    item = get_item(session, project_id, queue_id, item_id, lock=True)
    session.execute(delete(QueueWork).where(QueueWork.item_id == item.id))
    session.delete(item)
    _count_items(session, queue_id, -1)


@dataclass
class ItemFilter:
    status: str | None = None
    assignee_user_id: str | None = None
    completed_by: str | None = None
    object_type: str | None = None
    object_id: str | None = None


def list_items(
    session: Session,
    project_id: str,
    queue_id: str,
    flt: ItemFilter,
    *,
    page: int = 1,
    limit: int = 50,
) -> tuple[list[QueueItem], int]:
    queue = get_queue(session, project_id, queue_id)
    if page < 1 or not 1 <= limit <= 1000:
        raise Invalid("page must be >= 1 and limit between 1 and 1000")
    base = select(QueueItem).where(QueueItem.queue_id == queue_id)
    if flt.status is not None:
        if flt.status not in ItemStatus.__members__:
            raise Invalid("status: must be PENDING or COMPLETED")
        base = base.where(QueueItem.status == flt.status)
    if flt.assignee_user_id is not None:
        base = base.where(QueueItem.assignee_user_id == flt.assignee_user_id)
    if flt.object_type is not None:
        if flt.object_type not in QueueObjectType.__members__:
            raise Invalid("objectType: must be TRACE, OBSERVATION or SESSION")
        base = base.where(QueueItem.object_type == flt.object_type)
    if flt.object_id is not None:
        base = base.where(QueueItem.object_id == flt.object_id)
    if flt.completed_by is not None:
        base = base.where(
            select(QueueWork.id)
            .where(
                QueueWork.item_id == QueueItem.id,
                QueueWork.user_id == flt.completed_by,
                QueueWork.state == WorkState.COMPLETED.value,
            )
            .exists()
        )
    rows = list(
        session.scalars(
            base.order_by(QueueItem.created_at, QueueItem.id)
            .limit(limit)
            .offset((page - 1) * limit)
        )
    )
    return rows, _items_total(session, queue, flt, base)


def _items_total(
    session: Session, queue: AnnotationQueue, flt: ItemFilter, base: Select[Any]
) -> int:
    """The number of matching items: from the kept counts when the filter is at most a status
    (counting a big queue's items costs as much as sorting them), else counted."""
    only_status = not (flt.assignee_user_id or flt.object_type or flt.object_id or flt.completed_by)
    if not only_status:
        return count_rows(session, base)
    if flt.status is None:
        return queue.item_count
    completed = completed_counts(session, [queue.id]).get(queue.id, 0)
    return completed if flt.status == ItemStatus.COMPLETED.value else queue.item_count - completed


def recount_items(session: Session, queue_id: str | None = None) -> None:
    """Count the items of one queue (or of every queue) again: after loading items directly."""
    counted = (
        select(func.count())
        .where(QueueItem.queue_id == AnnotationQueue.id)
        .correlate(AnnotationQueue)
        .scalar_subquery()
    )
    statement = update(AnnotationQueue).values(item_count=counted)
    if queue_id is not None:
        statement = statement.where(AnnotationQueue.id == queue_id)
    session.execute(statement.execution_options(synchronize_session=False))
    session.expire_all()


def completed_counts(session: Session, queue_ids: Sequence[str]) -> dict[str, int]:
    """COMPLETED items per queue: an index range per queue, as long as the finished work."""
    if not queue_ids:
        return {}
    rows = session.execute(
        select(QueueItem.queue_id, func.count())
        .where(
            QueueItem.queue_id.in_(list(queue_ids)),
            QueueItem.status == ItemStatus.COMPLETED.value,
        )
        .group_by(QueueItem.queue_id)
    )
    return {queue_id: int(n) for queue_id, n in rows}


def completed_by(session: Session, item_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in item_ids}
    if item_ids:
        for item_id, user_id in session.execute(
            select(QueueWork.item_id, QueueWork.user_id).where(
                QueueWork.item_id.in_(list(item_ids)), QueueWork.state == WorkState.COMPLETED.value
            )
        ):
            out[item_id].append(user_id)
    return out


@dataclass(frozen=True)
class QueueName:
    id: str
    name: str
    archived: bool


def queue_names(session: Session, project_id: str) -> list[QueueName]:
    """Every queue of the project by name (for pickers): no item counts, one indexed read."""
    rows = session.execute(
        select(AnnotationQueue.id, AnnotationQueue.name, AnnotationQueue.archived)
        .where(AnnotationQueue.project_id == project_id)
        .order_by(AnnotationQueue.archived, AnnotationQueue.name_key)
    )
    return [QueueName(i, n, bool(a)) for i, n, a in rows]
