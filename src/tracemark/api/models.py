"""Model prices: the shipped table plus a project's own definitions (Langfuse's /models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from tracemark.api.deps import AUTH_ERRORS, DB, Caller, get_db
from tracemark.api.ingestion import decode_json
from tracemark.api.schemas.common import WireModel
from tracemark.api.schemas.tracing import Meta, iso, page_meta
from tracemark.db.models import ModelPriceRow
from tracemark.ingest import costs
from tracemark.services import model_prices
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, require
from tracemark.services.traces import check_page

router = APIRouter(tags=["models"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid model definition"},
    404: {"description": "No such model in this project"},
}


class ModelOut(WireModel):
    id: str
    model_name: str
    match_pattern: str
    start_date: str | None
    unit: str
    input_price: float | None
    output_price: float | None
    total_price: float | None
    prices: dict[str, dict[str, float]]
    is_langfuse_managed: bool
    input_includes_cached: bool
    created_at: str | None = None


class Models(WireModel):
    data: list[ModelOut]
    meta: Meta


def _out(
    *,
    id: str,
    name: str,
    pattern: str,
    prices: dict[str, float],
    unit: str,
    managed: bool,
    includes_cached: bool,
    start: datetime | None,
    created: datetime | None,
) -> ModelOut:
    return ModelOut(
        id=id,
        model_name=name,
        match_pattern=pattern,
        start_date=iso(start),
        unit=unit,
        input_price=prices.get("input"),
        output_price=prices.get("output"),
        total_price=prices.get("total"),
        prices={k: {"price": v} for k, v in prices.items()},
        is_langfuse_managed=managed,
        input_includes_cached=includes_cached,
        created_at=iso(created),
    )


def _row_out(row: ModelPriceRow) -> ModelOut:
    return _out(
        id=row.id,
        name=row.model_name,
        pattern=row.match_pattern,
        prices=dict(row.prices),
        unit=row.unit,
        managed=False,
        includes_cached=row.input_includes_cached,
        start=row.start_date,
        created=row.created_at,
    )


@router.get("/models", operation_id="models_list", response_model=Models, responses=ERRORS)
def list_models(caller: Caller, db: DB, page: int = 1, limit: int = 50) -> Models:
    """The project's own model prices first, then the shipped ones (isLangfuseManaged)."""
    require(caller.role, Permission.READ)
    check_page(page, limit)
    with db.read() as session:
        own, _ = model_prices.list_project(session, caller.project_id, 1, 10_000)
    builtin = [
        _out(
            id=f"builtin:{p.model_name}",
            name=p.model_name,
            pattern=p.match_pattern,
            prices=dict(p.prices),
            unit=p.unit,
            managed=True,
            includes_cached=p.input_includes_cached,
            start=None,
            created=None,
        )
        for p in costs.builtin_prices()
    ]
    everything = [_row_out(r) for r in own] + builtin
    start = (page - 1) * limit
    return Models(
        data=everything[start : start + limit], meta=page_meta(page, limit, len(everything))
    )


@router.post("/models", operation_id="models_create", response_model=ModelOut, responses=ERRORS)
async def create_model(request: Request, caller: Caller) -> ModelOut:
    """Add a model price for this project; it wins over the shipped table."""
    require(caller.role, Permission.MANAGE_SCORE_CONFIGS)
    body = decode_json(await request.body())
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object")
    db = get_db(request)

    def create() -> ModelOut:
        with db.write() as session:
            return _row_out(model_prices.create(session, caller.project_id, body))

    return await run_in_threadpool(create)


@router.get(
    "/models/{model_id}", operation_id="models_get", response_model=ModelOut, responses=ERRORS
)
def get_model(caller: Caller, db: DB, model_id: str) -> ModelOut:
    """One of the project's model prices."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        return _row_out(model_prices.get(session, caller.project_id, model_id))


@router.delete("/models/{model_id}", operation_id="models_delete", responses=ERRORS)
def delete_model(caller: Caller, db: DB, model_id: str) -> dict[str, str]:
    """Remove one of the project's model prices (already computed costs stay)."""
    require(caller.role, Permission.MANAGE_SCORE_CONFIGS)
    with db.write() as session:
        model_prices.delete(session, caller.project_id, model_id)
    return {"message": "Model deleted"}
