"""A project's own model prices (Langfuse's /models), on top of the shipped price table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracemark.db.models import ModelPriceRow
from tracemark.ingest import costs
from tracemark.services.errors import NotFound
from tracemark.services.paging import count_rows


def create(session: Session, project_id: str, body: dict[str, Any]) -> ModelPriceRow:
    price = costs.parse_model_definition(body, project_id=project_id)
    row = ModelPriceRow(
        project_id=project_id,
        model_name=price.model_name,
        match_pattern=price.match_pattern,
        prices=dict(price.prices),
        unit=price.unit,
        input_includes_cached=price.input_includes_cached,
        start_date=price.start_date,
    )
    session.add(row)
    session.flush()
    return row


def list_project(
    session: Session, project_id: str, page: int, limit: int
) -> tuple[list[ModelPriceRow], int]:
    base = select(ModelPriceRow).where(ModelPriceRow.project_id == project_id)
    rows = list(
        session.scalars(
            base.order_by(ModelPriceRow.created_at.desc()).limit(limit).offset((page - 1) * limit)
        )
    )
    total = count_rows(session, base)
    return rows, total


def get(session: Session, project_id: str, model_id: str) -> ModelPriceRow:
    row = session.get(ModelPriceRow, model_id)
    if row is None or row.project_id != project_id:
        raise NotFound(f"model {model_id} not found")
    return row


def delete(session: Session, project_id: str, model_id: str) -> None:
    session.delete(get(session, project_id, model_id))
