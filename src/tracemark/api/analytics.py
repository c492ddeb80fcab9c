"""Judge calibration and annotator agreement (Tracemark-only analytics endpoints)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tracemark.api.deps import AUTH_ERRORS, DB, Caller
from tracemark.api.schemas.calibration import (
    AgreementOut,
    CalibrationOut,
    agreement_out,
    calibration_out,
)
from tracemark.api.schemas.common import as_utc
from tracemark.services import agreement, calibration
from tracemark.services.errors import Invalid
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["analytics"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {
        "description": (
            "Nothing to compute or a bad parameter: no pairs, one category only, one "
            "annotator, mixed data types, a config or queue of another project"
        )
    },
}


def _sources(value: str | None) -> tuple[str, ...]:
    if value is None or value == "":
        return calibration.JUDGE_SOURCES
    parts = tuple(p.strip().upper() for p in value.split(",") if p.strip())
    bad = [p for p in parts if p not in calibration.JUDGE_SOURCES]
    if bad or not parts:
        raise Invalid(f"judgeSource: must be EVAL or API (or both), got {value!r}")
    return parts


@router.get(
    "/analytics/calibration",
    operation_id="analytics_calibration",
    response_model=CalibrationOut,
    response_model_exclude_none=False,
    responses=ERRORS,
)
def get_calibration(
    caller: Caller,
    db: DB,
    config_id: Annotated[str, Query(alias="configId")],
    judge_score_name: Annotated[str, Query(alias="judgeScoreName")],
    judge_source: Annotated[str | None, Query(alias="judgeSource")] = None,
    from_timestamp: Annotated[datetime | None, Query(alias="fromTimestamp")] = None,
    to_timestamp: Annotated[datetime | None, Query(alias="toTimestamp")] = None,
    include: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query()] = 50,
) -> CalibrationOut:
    """How well a judge's scores agree with the humans' on one score config."""
    require(caller.role, Permission.READ)
    wanted = {p.strip() for p in (include or "").split(",") if p.strip()}
    if wanted - {"disagreements"}:
        raise Invalid(f"include: only 'disagreements' is known, got {include!r}")
    with_list = "disagreements" in wanted
    req = calibration.CalibrationRequest(
        config_id=config_id,
        judge_score_name=judge_score_name,
        judge_sources=_sources(judge_source),
        from_timestamp=as_utc(from_timestamp),
        to_timestamp=as_utc(to_timestamp),
        disagreements_limit=limit if with_list else 0,
    )
    if with_list:
        calibration.check_request(req)
    with db.read() as session:
        result = calibration.calibrate(session, caller.project_id, req)
        return calibration_out(result, with_disagreements=with_list)


@router.get(
    "/analytics/agreement",
    operation_id="analytics_agreement",
    response_model=AgreementOut,
    responses=ERRORS,
)
def get_agreement(
    caller: Caller,
    db: DB,
    config_id: Annotated[str, Query(alias="configId")],
    queue_id: Annotated[str | None, Query(alias="queueId")] = None,
    level: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query()] = 20,
) -> AgreementOut:
    """Krippendorff's alpha and agreement tables between the annotators of one config."""
    require(caller.role, Permission.READ)
    req = agreement.AgreementRequest(
        config_id=config_id, queue_id=queue_id or None, level=level, items_limit=limit
    )
    with db.read() as session:
        return agreement_out(agreement.agreement(session, caller.project_id, req))
