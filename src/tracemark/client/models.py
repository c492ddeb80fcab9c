"""What the client returns: small frozen dataclasses built from the API's camelCase JSON.

The API's objects (items, queues, scores, score configs) keep the JSON they were built from in
``raw`` (left out of ``repr`` and comparisons), so a field the server adds later is reachable
before the client names it.
Timestamps are timezone-aware UTC ``datetime`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "AnnotatorProgress",
    "BulkResult",
    "Category",
    "Completion",
    "Item",
    "Progress",
    "Queue",
    "QueueItem",
    "Score",
    "ScoreChange",
    "ScoreConfig",
]


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _required_time(value: Any) -> datetime:
    parsed = _time(value)
    if parsed is None:
        raise ValueError("the server sent an object without a timestamp")
    return parsed


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


@dataclass(frozen=True)
class Category:
    """One label of a CATEGORICAL score config and the number stored for it."""

    label: str
    value: float


@dataclass(frozen=True)
class ScoreConfig:
    """A score config a queue asks for: what to score and which values are allowed.

    ``data_type`` is NUMERIC (``min_value``..``max_value`` when set), CATEGORICAL (one of
    ``categories``, given by label or value), BOOLEAN (true/false or 1/0) or TEXT.
    """

    id: str
    name: str
    data_type: str
    min_value: float | None
    max_value: float | None
    categories: tuple[Category, ...]
    description: str | None
    is_archived: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScoreConfig:
        return cls(
            id=data["id"],
            name=data["name"],
            data_type=data["dataType"],
            min_value=_float(data.get("minValue")),
            max_value=_float(data.get("maxValue")),
            categories=tuple(
                Category(label=c["label"], value=float(c["value"]))
                for c in data.get("categories") or ()
            ),
            description=data.get("description"),
            is_archived=bool(data.get("isArchived", False)),
            raw=data,
        )


@dataclass(frozen=True)
class Score:
    """A score as the API reports it (here: the caller's own scores on a leased item).

    ``value`` is the number (for CATEGORICAL, the category's value; for BOOLEAN, 1.0 or 0.0);
    ``string_value`` the label or text.
    """

    id: str
    name: str
    data_type: str
    source: str
    value: float | None
    string_value: str | None
    comment: str | None
    config_id: str | None
    queue_id: str | None
    author_user_id: str | None
    trace_id: str | None
    observation_id: str | None
    session_id: str | None
    timestamp: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Score:
        return cls(
            id=data["id"],
            name=data["name"],
            data_type=data["dataType"],
            source=data["source"],
            value=_float(data.get("value")),
            string_value=data.get("stringValue"),
            comment=data.get("comment"),
            config_id=data.get("configId"),
            queue_id=data.get("queueId"),
            author_user_id=data.get("authorUserId"),
            trace_id=data.get("traceId"),
            observation_id=data.get("observationId"),
            session_id=data.get("sessionId"),
            timestamp=_time(data.get("timestamp")),
            raw=data,
        )


@dataclass(frozen=True)
class Item:
    """An item of a queue: the object to annotate and where it stands.

    ``status`` is PENDING (still wanted by more annotators) or COMPLETED (it has
    ``annotators_per_item`` completions). ``completion_count`` counts the annotators who
    completed it; ``completed_by_user_ids`` names them when the server reports it (None when
    it does not say).
    """

    id: str
    queue_id: str
    object_type: str
    object_id: str
    status: str
    priority: int
    assignee_user_id: str | None
    completion_count: int
    completed_by_user_ids: tuple[str, ...] | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        return cls(**_item_fields(data), raw=data)


def _item_fields(data: dict[str, Any]) -> dict[str, Any]:
    done = data.get("completedByUserIds")
    return {
        "id": data["id"],
        "queue_id": data["queueId"],
        "object_type": data["objectType"],
        "object_id": data["objectId"],
        "status": data["status"],
        "priority": int(data.get("priority") or 0),
        "assignee_user_id": data.get("assigneeUserId"),
        "completion_count": int(data.get("completionCount") or 0),
        "completed_by_user_ids": None if done is None else _strings(done),
        "created_at": _required_time(data["createdAt"]),
        "updated_at": _required_time(data["updatedAt"]),
        "completed_at": _time(data.get("completedAt")),
    }


@dataclass(frozen=True)
class QueueItem(Item):
    """An item leased to the caller by :meth:`TracemarkClient.next_item`, with what to show.

    Besides the :class:`Item` fields:

    - ``lease_expires_at``: until when the item is the caller's; extend it with
      :meth:`~TracemarkClient.heartbeat` while a person is still working on it.
    - ``object``: the trace, observation or session to annotate (name, input, output,
      metadata, ...) as a JSON object, or None when it has been deleted since.
    - ``configs``: the queue's score configs, in the queue's order: what
      :meth:`~TracemarkClient.complete` expects values for.
    - ``my_scores``: the caller's earlier ANNOTATION scores on this object (to pre-fill a form).
    - ``annotators_per_item``, ``blind``, ``description``: the queue's settings and guidelines
      (Markdown).
    """

    lease_expires_at: datetime | None = None
    object: dict[str, Any] | None = None
    configs: tuple[ScoreConfig, ...] = ()
    my_scores: tuple[Score, ...] = ()
    annotators_per_item: int = 1
    blind: bool = False
    description: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueueItem:
        return cls(
            **_item_fields(data),
            lease_expires_at=_time(data.get("leaseExpiresAt")),
            object=data.get("object"),
            configs=tuple(ScoreConfig.from_json(c) for c in data.get("configs") or ()),
            my_scores=tuple(Score.from_json(s) for s in data.get("myScores") or ()),
            annotators_per_item=int(data.get("annotatorsPerItem") or 1),
            blind=bool(data.get("blind", False)),
            description=data.get("description"),
            raw=data,
        )


@dataclass(frozen=True)
class Completion:
    """The answer to :meth:`TracemarkClient.complete`.

    ``score_ids`` are the caller's scores written for the item, in the order they were given.
    ``already_completed`` is true when the caller had completed the item before (the scores
    were updated, the completion was not counted twice).
    """

    item: Item
    score_ids: tuple[str, ...]
    already_completed: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        return cls(
            item=Item.from_json(data["item"]),
            score_ids=_strings(data.get("scoreIds")),
            already_completed=bool(data.get("alreadyCompleted", False)),
        )


@dataclass(frozen=True)
class Queue:
    """An annotation queue's definition."""

    id: str
    name: str
    description: str | None
    score_config_ids: tuple[str, ...]
    annotators_per_item: int
    lease_seconds: int
    blind: bool
    member_user_ids: tuple[str, ...]
    archived: bool
    created_at: datetime
    updated_at: datetime
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Queue:
        return cls(
            id=data["id"],
            name=data["name"],
            description=data.get("description"),
            score_config_ids=_strings(data.get("scoreConfigIds")),
            annotators_per_item=int(data["annotatorsPerItem"]),
            lease_seconds=int(data["leaseSeconds"]),
            blind=bool(data.get("blind", False)),
            member_user_ids=_strings(data.get("memberUserIds")),
            archived=bool(data.get("archived", False)),
            created_at=_required_time(data["createdAt"]),
            updated_at=_required_time(data["updatedAt"]),
            raw=data,
        )


@dataclass(frozen=True)
class BulkResult:
    """The answer to :meth:`TracemarkClient.add_items`.

    ``added`` counts the new items; ``already_present`` and ``not_found`` list the
    ``(object_type, object_id)`` pairs that were in the queue already or do not exist in the
    project. ``items`` holds the new items (the server reports at most 1,000 per request).
    """

    added: int
    already_present: tuple[tuple[str, str], ...]
    not_found: tuple[tuple[str, str], ...]
    items: tuple[Item, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BulkResult:
        def pairs(key: str) -> tuple[tuple[str, str], ...]:
            return tuple((r["objectType"], r["objectId"]) for r in data.get(key) or ())

        return cls(
            added=int(data["added"]),
            already_present=pairs("alreadyPresent"),
            not_found=pairs("notFound"),
            items=tuple(Item.from_json(i) for i in data.get("items") or ()),
        )


@dataclass(frozen=True)
class AnnotatorProgress:
    """One person's work on a queue; ``median_seconds`` per completed item, None before any."""

    user_id: str
    name: str
    email: str
    completed: int
    skipped: int
    in_progress: int
    median_seconds: float | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnnotatorProgress:
        return cls(
            user_id=data["userId"],
            name=data["name"],
            email=data["email"],
            completed=int(data["completed"]),
            skipped=int(data["skipped"]),
            in_progress=int(data["inProgress"]),
            median_seconds=_float(data.get("medianSeconds")),
        )


@dataclass(frozen=True)
class Progress:
    """A queue's progress.

    ``total``, ``pending`` (wanted by more annotators, leased by nobody), ``in_progress``
    (someone holds a live lease) and ``completed`` count items; ``skipped`` counts the items
    someone skipped (they stay available to the others). ``completions`` counts (item,
    annotator) completions, out of ``total * annotators_per_item`` wanted.
    """

    total: int
    pending: int
    in_progress: int
    completed: int
    skipped: int
    annotators_per_item: int
    completions: int
    annotators: tuple[AnnotatorProgress, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(
            total=int(data["total"]),
            pending=int(data["pending"]),
            in_progress=int(data["inProgress"]),
            completed=int(data["completed"]),
            skipped=int(data["skipped"]),
            annotators_per_item=int(data["annotatorsPerItem"]),
            completions=int(data["completions"]),
            annotators=tuple(AnnotatorProgress.from_json(a) for a in data.get("annotators") or ()),
        )


@dataclass(frozen=True)
class ScoreChange:
    """One change of a score: ``action`` (CREATE, UPDATE or DELETE), who and when, old and new.

    ``changed_by_user_id`` is set when a person made the change, ``changed_by_key_id`` when a
    project key did.
    """

    id: str
    score_id: str
    action: str
    changed_at: datetime
    changed_by_user_id: str | None
    changed_by_key_id: str | None
    old_value: float | None
    old_string_value: str | None
    old_comment: str | None
    new_value: float | None
    new_string_value: str | None
    new_comment: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScoreChange:
        return cls(
            id=data["id"],
            score_id=data["scoreId"],
            action=data["action"],
            changed_at=_required_time(data["changedAt"]),
            changed_by_user_id=data.get("changedByUserId"),
            changed_by_key_id=data.get("changedByKeyId"),
            old_value=_float(data.get("oldValue")),
            old_string_value=data.get("oldStringValue"),
            old_comment=data.get("oldComment"),
            new_value=_float(data.get("newValue")),
            new_string_value=data.get("newStringValue"),
            new_comment=data.get("newComment"),
        )
