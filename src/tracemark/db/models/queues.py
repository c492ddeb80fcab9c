"""Annotation queues, their members, items, and each annotator's work on an item.

An item is COMPLETED when `annotators_per_item` distinct annotators have completed it. Each
annotator's work on an item is one `QueueWork` row: IN_PROGRESS with a lease, COMPLETED or
SKIPPED. Selection and leasing lock the item row (PostgreSQL: FOR UPDATE SKIP LOCKED); SQLite
serializes writes.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracemark.db.base import Base, JSONType, UTCDateTime, enum_check, new_id, utcnow


class QueueObjectType(enum.StrEnum):
    TRACE = "TRACE"
    OBSERVATION = "OBSERVATION"
    SESSION = "SESSION"


class ItemStatus(enum.StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"


class WorkState(enum.StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    SKIPPED = "SKIPPED"


class AnnotationQueue(Base):
    __tablename__ = "annotation_queues"
    __table_args__ = (
        Index("uq_annotation_queues_project_name", "project_id", "name_key", unique=True),
        CheckConstraint("annotators_per_item BETWEEN 1 AND 20", name="annotators_per_item"),
        CheckConstraint("lease_seconds > 0", name="lease_seconds"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    score_config_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    annotators_per_item: Mapped[int] = mapped_column(Integer, default=1)
    lease_seconds: Mapped[int] = mapped_column(Integer, default=600)
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept by services.queues wherever items are added or removed (progress reads it).
    item_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueMember(Base):
    """A user who may work the queue (Langfuse calls these assignments)."""

    __tablename__ = "annotation_queue_members"
    __table_args__ = (Index("ix_annotation_queue_members_user", "user_id"),)

    queue_id: Mapped[str] = mapped_column(
        ForeignKey("annotation_queues.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueItem(Base):
    __tablename__ = "annotation_queue_items"
    __table_args__ = (
        CheckConstraint(enum_check("object_type", QueueObjectType), name="object_type"),
        CheckConstraint(enum_check("status", ItemStatus), name="status"),
        UniqueConstraint("queue_id", "object_type", "object_id", name="uq_queue_items_object"),
        # Selection order: assigned items, then priority, then oldest.
        Index(
            "ix_queue_items_next",
            "queue_id",
            "status",
            "assignee_user_id",
            "priority",
            "created_at",
            "id",
        ),
        # Lists: the items in the order they were added.
        Index("ix_queue_items_queue_created", "queue_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    queue_id: Mapped[str] = mapped_column(ForeignKey("annotation_queues.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(1000))
    # For observations: the trace they belong to (scores need it).
    trace_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.PENDING.value)
    assignee_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)
    completion_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QueueWork(Base):
    """One annotator's work on one item."""

    __tablename__ = "annotation_queue_work"
    __table_args__ = (
        CheckConstraint(enum_check("state", WorkState), name="state"),
        UniqueConstraint("item_id", "user_id", name="uq_queue_work_item_user"),
        Index("ix_queue_work_queue_user_state", "queue_id", "user_id", "state"),
        Index("ix_queue_work_item_state", "item_id", "state", "lease_expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(
        ForeignKey("annotation_queue_items.id", ondelete="CASCADE")
    )
    queue_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seconds_spent: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
