"""Score configs: create, list, get, edit / archive / restore (never delete)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from tracemark.api.deps import AUTH_ERRORS, DB, Caller, get_db
from tracemark.api.ingestion import decode_json
from tracemark.api.schemas.common import WireModel
from tracemark.api.schemas.scoring import ScoreConfigOut, config_out
from tracemark.api.schemas.tracing import Meta, page_meta
from tracemark.services import score_configs
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["score-configs"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid config: the message names the field and the rule"},
    404: {"description": "No such config in this project"},
    409: {"description": "A config with this name exists"},
}


class ScoreConfigs(WireModel):
    data: list[ScoreConfigOut]
    meta: Meta


async def _json_object(request: Request) -> dict[str, Any]:
    body = decode_json(await request.body())
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object")
    return body


@router.post(
    "/score-configs",
    operation_id="score_configs_create",
    response_model=ScoreConfigOut,
    responses=ERRORS,
)
async def create_config(request: Request, caller: Caller) -> ScoreConfigOut:
    """Create a score config."""
    require(caller.role, Permission.MANAGE_SCORE_CONFIGS)
    body = await _json_object(request)
    db = get_db(request)

    def create() -> ScoreConfigOut:
        with db.write() as session:
            return config_out(score_configs.create(session, caller.project_id, body))

    return await run_in_threadpool(create)


@router.get(
    "/score-configs",
    operation_id="score_configs_list",
    response_model=ScoreConfigs,
    responses=ERRORS,
)
def list_configs(caller: Caller, db: DB, page: int = 1, limit: int = 50) -> ScoreConfigs:
    """List score configs (active first)."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        rows, total = score_configs.list_configs(session, caller.project_id, page=page, limit=limit)
        return ScoreConfigs(data=[config_out(r) for r in rows], meta=page_meta(page, limit, total))


@router.get(
    "/score-configs/{config_id}",
    operation_id="score_configs_get",
    response_model=ScoreConfigOut,
    responses=ERRORS,
)
def get_config(caller: Caller, db: DB, config_id: str) -> ScoreConfigOut:
    """One score config."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        return config_out(score_configs.get(session, caller.project_id, config_id))


@router.patch(
    "/score-configs/{config_id}",
    operation_id="score_configs_update",
    response_model=ScoreConfigOut,
    responses=ERRORS,
)
async def update_config(request: Request, caller: Caller, config_id: str) -> ScoreConfigOut:
    """Edit, archive (isArchived=true) or restore a score config; scores are not rewritten."""
    require(caller.role, Permission.MANAGE_SCORE_CONFIGS)
    body = await _json_object(request)
    db = get_db(request)

    def patch() -> ScoreConfigOut:
        with db.write() as session:
            return config_out(score_configs.update(session, caller.project_id, config_id, body))

    return await run_in_threadpool(patch)
