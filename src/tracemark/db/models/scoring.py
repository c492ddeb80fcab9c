"""Score configs, scores, score history and comments.

A score targets exactly one of a trace, an observation (with its trace) or a session;
`target_key` spells that target in one non-null column so that uniqueness rules can use it.
One annotator never overwrites another: each person has at most one ANNOTATION score per
(target, config), enforced by a partial unique index.

`score_counts` holds how many scores each (project, name, source, data type, config,
environment) has. services.scores keeps it exact in the same transaction as every insert,
update and delete of a score (all of them go through it; a project's counts go with it by
cascade); the v2 list reads its totals there instead of counting millions of rows.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracemark.db.base import Base, JSONType, UTCDateTime, enum_check, new_id, utcnow


class ScoreDataType(enum.StrEnum):
    NUMERIC = "NUMERIC"
    CATEGORICAL = "CATEGORICAL"
    BOOLEAN = "BOOLEAN"
    TEXT = "TEXT"
    CORRECTION = "CORRECTION"


class ScoreSource(enum.StrEnum):
    ANNOTATION = "ANNOTATION"
    API = "API"
    EVAL = "EVAL"


class CommentObjectType(enum.StrEnum):
    TRACE = "TRACE"
    OBSERVATION = "OBSERVATION"
    SESSION = "SESSION"


# The UTC day of a score on SQLite (timestamps are stored as UTC text); queries must spell it
# exactly so for SQLite to use the indexes below.
SQLITE_DAY = "substr(timestamp, 1, 10)"

CONFIG_DATA_TYPES = (
    ScoreDataType.NUMERIC,
    ScoreDataType.CATEGORICAL,
    ScoreDataType.BOOLEAN,
    ScoreDataType.TEXT,
)


class ScoreConfig(Base):
    __tablename__ = "score_configs"
    __table_args__ = (
        CheckConstraint(enum_check("data_type", CONFIG_DATA_TYPES), name="data_type"),
        Index("uq_score_configs_project_name", "project_id", "name_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(35))
    name_key: Mapped[str] = mapped_column(String(35))
    data_type: Mapped[str] = mapped_column(String(16))
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    categories: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    description: Mapped[str | None] = mapped_column(Text)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Score(Base):
    __tablename__ = "scores"
    __table_args__ = (
        CheckConstraint(enum_check("data_type", ScoreDataType), name="data_type"),
        CheckConstraint(enum_check("source", ScoreSource), name="source"),
        Index("ix_scores_project_timestamp", "project_id", "timestamp"),
        Index(
            "ix_scores_project_name_source_timestamp", "project_id", "name", "source", "timestamp"
        ),
        Index("ix_scores_project_trace", "project_id", "trace_id"),
        Index("ix_scores_project_session", "project_id", "session_id"),
        Index("ix_scores_project_config", "project_id", "config_id"),
        Index("ix_scores_project_queue", "project_id", "queue_id"),
        Index("ix_scores_project_author", "project_id", "author_user_id"),
        # SQLite only (it has no hash aggregation): covering indexes whose order is the
        # dashboard's GROUP BY, with the UTC day as an indexed expression, so the dashboard
        # reads one index in order instead of sorting a million rows. See docs/decisions.md.
        Index(
            "ix_scores_dashboard",
            "project_id",
            "name",
            "source",
            "data_type",
            text(SQLITE_DAY),
            "string_value",
            "timestamp",
            "value",
            "environment",
            "trace_id",
            info={"sqlite_only": True},
        ).ddl_if(dialect="sqlite"),
        Index(
            "ix_scores_annotation_days",
            "project_id",
            "source",
            "author_user_id",
            text(SQLITE_DAY),
            "timestamp",
            "target_key",
            "name",
            "environment",
            "trace_id",
            info={"sqlite_only": True},
        ).ddl_if(dialect="sqlite"),
        # Calibration reads the humans' scores of one config from this index alone.
        Index(
            "ix_scores_human_values",
            "project_id",
            "config_id",
            "target_key",
            "value",
            "string_value",
            sqlite_where=text("source = 'ANNOTATION' AND author_user_id IS NOT NULL"),
            postgresql_where=text("source = 'ANNOTATION' AND author_user_id IS NOT NULL"),
        ),
        Index(
            "uq_scores_one_annotation_per_author",
            "project_id",
            "target_key",
            "config_id",
            "author_user_id",
            unique=True,
            sqlite_where=text("source = 'ANNOTATION' AND author_user_id IS NOT NULL"),
            postgresql_where=text("source = 'ANNOTATION' AND author_user_id IS NOT NULL"),
        ),
    )

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float)
    string_value: Mapped[str | None] = mapped_column(Text)
    data_type: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    author_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    config_id: Mapped[str | None] = mapped_column(String(64))
    queue_id: Mapped[str | None] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(200), default="default")
    trace_id: Mapped[str | None] = mapped_column(String(128))
    observation_id: Mapped[str | None] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(1000))
    target_key: Mapped[str] = mapped_column(String(1200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScoreCount(Base):
    """How many scores share these keys (see the module docstring).

    `config_key` is the config id, or '' for scores without a config (a primary key column
    cannot be NULL). Rows whose count reached 0 stay (they are few: one per combination seen).
    """

    __tablename__ = "score_counts"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    data_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    config_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(200), primary_key=True)
    # PostgreSQL: each database connection adds to its own shard of a count (see
    # services.score_counts), so concurrent writers do not queue on one row; readers sum.
    shard: Mapped[int] = mapped_column(
        SmallInteger, primary_key=True, default=0, server_default="0"
    )
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class ScoreChange(Base):
    """One entry of a score's history: who changed it, when, from what to what."""

    __tablename__ = "score_history"
    __table_args__ = (
        CheckConstraint("action IN ('CREATE', 'UPDATE', 'DELETE')", name="action"),
        Index("ix_score_history_project_score", "project_id", "score_id", "changed_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    score_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(8))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_user_id: Mapped[str | None] = mapped_column(String(64))
    changed_by_key_id: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[float | None] = mapped_column(Float)
    old_string_value: Mapped[str | None] = mapped_column(Text)
    old_comment: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[float | None] = mapped_column(Float)
    new_string_value: Mapped[str | None] = mapped_column(Text)
    new_comment: Mapped[str | None] = mapped_column(Text)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint(enum_check("object_type", CommentObjectType), name="object_type"),
        Index("ix_comments_project_object", "project_id", "object_type", "object_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(1000))
    content: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
