"""Traces, observations, sessions, trace tags, media and project model prices.

Ids of traces, observations and sessions are chosen by the client, so they are unique per
project: the primary keys are (project_id, id). A trace keeps what list pages sort and filter
on (start, end, latency, cost, tokens, observation count, highest level) up to date as its
observations arrive, so lists never aggregate observations per request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracemark.db.base import Base, JSONType, UTCDateTime, enum_check, new_id, utcnow
from tracemark.ingest.records import Level, ObservationType

ID = String(128)


class Trace(Base):
    __tablename__ = "traces"
    __table_args__ = (
        CheckConstraint(enum_check("level", Level), name="level"),
        Index("ix_traces_project_timestamp", "project_id", "timestamp"),
        Index("ix_traces_project_user_timestamp", "project_id", "user_id", "timestamp"),
        Index("ix_traces_project_session_timestamp", "project_id", "session_id", "timestamp"),
        Index("ix_traces_project_name_timestamp", "project_id", "name", "timestamp"),
    )

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    name: Mapped[str | None] = mapped_column(String(1000))
    user_id: Mapped[str | None] = mapped_column(String(1000))
    session_id: Mapped[str | None] = mapped_column(String(1000))
    release: Mapped[str | None] = mapped_column(String(1000))
    version: Mapped[str | None] = mapped_column(String(1000))
    environment: Mapped[str] = mapped_column(String(200), default="default")
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    input: Mapped[Any] = mapped_column(JSONType, nullable=True)
    output: Mapped[Any] = mapped_column(JSONType, nullable=True)
    # Which of name / input / output / timestamp the client set itself; the others are
    # derived from the root observation.
    explicit: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Aggregates over the trace's observations, kept current by ingestion.
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latency: Mapped[float | None] = mapped_column(Float)  # seconds, as Langfuse reports it
    total_cost: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    total_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    observation_count: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[str] = mapped_column(String(16), default=Level.DEFAULT.value)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TraceTag(Base):
    """One row per (trace, tag): lets lists filter by tag through an index."""

    __tablename__ = "trace_tags"
    __table_args__ = (
        Index("ix_trace_tags_project_tag_timestamp", "project_id", "tag", "timestamp"),
    )

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trace_id: Mapped[str] = mapped_column(ID, primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class Observation(Base):
    __tablename__ = "observations"
    __table_args__ = (
        CheckConstraint(enum_check("type", ObservationType), name="type"),
        CheckConstraint(enum_check("level", Level), name="level"),
        Index("ix_observations_trace_start", "project_id", "trace_id", "start_time"),
        Index("ix_observations_project_start", "project_id", "start_time"),
    )

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    trace_id: Mapped[str] = mapped_column(ID)
    parent_observation_id: Mapped[str | None] = mapped_column(ID)
    type: Mapped[str] = mapped_column(String(16), default=ObservationType.SPAN.value)
    name: Mapped[str | None] = mapped_column(String(1000))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completion_start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(16), default=Level.DEFAULT.value)
    status_message: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(1000))
    environment: Mapped[str] = mapped_column(String(200), default="default")
    input: Mapped[Any] = mapped_column(JSONType, nullable=True)
    output: Mapped[Any] = mapped_column(JSONType, nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    model: Mapped[str | None] = mapped_column(String(500))
    model_parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    usage_details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cost_details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # True when cost_details were computed from the model price table, not sent.
    cost_computed: Mapped[bool] = mapped_column(Boolean, default=False)
    total_cost: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    total_tokens: Mapped[int | None] = mapped_column(BigInteger)
    prompt_name: Mapped[str | None] = mapped_column(String(500))
    prompt_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TraceSession(Base):
    """A session: traces sharing a session id (a conversation)."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_project_created", "project_id", "created_at"),)

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(1000), primary_key=True)
    environment: Mapped[str] = mapped_column(String(200), default="default")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Media(Base):
    """An uploaded media file, shared by every server process through the database.

    The id is derived from the content's SHA-256 exactly as the langfuse SDK derives it.
    """

    __tablename__ = "media"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256_hash: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(200))
    content_length: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    upload_token: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    upload_http_status: Mapped[int | None] = mapped_column(Integer)
    upload_http_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaReference(Base):
    """Where a media file is used: a trace or observation field."""

    __tablename__ = "media_references"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trace_id: Mapped[str] = mapped_column(ID, primary_key=True)
    observation_id: Mapped[str] = mapped_column(ID, primary_key=True, default="")
    field: Mapped[str] = mapped_column(String(20), primary_key=True)


class ModelPriceRow(Base):
    """A project's own model price (added to or overriding the shipped price table)."""

    __tablename__ = "model_prices"
    __table_args__ = (Index("ix_model_prices_project", "project_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(String(500))
    match_pattern: Mapped[str] = mapped_column(String(500))
    prices: Mapped[dict[str, float]] = mapped_column(JSONType)
    unit: Mapped[str] = mapped_column(String(20), default="TOKENS")
    # Whether the "input" usage count already includes cached input tokens (OpenAI style).
    input_includes_cached: Mapped[bool] = mapped_column(Boolean, default=True)
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
