"""Alembic environment: runs on the connection that tracemark.db.migrate hands in."""

from __future__ import annotations

from alembic import context

from tracemark.db import models  # noqa: F401  (registers every table on Base.metadata)
from tracemark.db.base import Base, render_item
from tracemark.db.migrate import include_object

config = context.config
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object,
    render_item=render_item,
)

with context.begin_transaction():
    context.run_migrations()
