"""Score configs: the dimensions people score on. Archived, never deleted."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from tracemark.db.base import utcnow
from tracemark.db.models import ScoreConfig, ScoreDataType
from tracemark.db.models.scoring import CONFIG_DATA_TYPES
from tracemark.services.errors import Conflict, Invalid, NotFound
from tracemark.services.paging import count_rows

NAME_MAX = 35
# Letters (any script), digits, underscore, space, period, parentheses, hyphen.
_NAME = re.compile(r"^[\w .()\-]+$", re.UNICODE)
BOOLEAN_CATEGORIES = [{"label": "True", "value": 1.0}, {"label": "False", "value": 0.0}]


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(f"{field}: must be a finite number")
    return float(value)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name: required, 1 to 35 characters")
    clean = name.strip()
    if len(clean) > NAME_MAX:
        raise Invalid(f"name: at most {NAME_MAX} characters (got {len(clean)})")
    if not _NAME.match(clean):
        raise Invalid(
            "name: only letters, digits, spaces, underscores, periods, parentheses and hyphens"
        )
    return clean


def _categories(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise Invalid("categories: a CATEGORICAL config needs at least one {label, value}")
    out: list[dict[str, Any]] = []
    labels: set[str] = set()
    values: set[float] = set()
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise Invalid(f"categories[{i}]: must be an object with label and value")
        label = item.get("label")
        if not isinstance(label, str) or not label.strip():
            raise Invalid(f"categories[{i}].label: required, a non-empty string")
        number = _number(item.get("value"), f"categories[{i}].value")
        if label in labels:
            raise Invalid(f"categories[{i}].label: {label!r} appears twice; labels must be unique")
        if number in values:
            raise Invalid(f"categories[{i}].value: {number:g} appears twice; values must be unique")
        labels.add(label)
        values.add(number)
        out.append({"label": label, "value": number})
    return out


def normalized_definition(
    data_type: Any,
    *,
    min_value: Any = None,
    max_value: Any = None,
    categories: Any = None,
) -> dict[str, Any]:
    """Validate the type-specific part of a config; returns the columns to store."""
    if data_type not in [t.value for t in CONFIG_DATA_TYPES]:
        raise Invalid(f"dataType: must be one of {', '.join(t.value for t in CONFIG_DATA_TYPES)}")
    kind = ScoreDataType(data_type)
    if kind == ScoreDataType.NUMERIC:
        if categories:
            raise Invalid("categories: only CATEGORICAL configs have categories")
        low = None if min_value is None else _number(min_value, "minValue")
        high = None if max_value is None else _number(max_value, "maxValue")
        if low is not None and high is not None and high <= low:
            raise Invalid(f"maxValue: must be greater than minValue ({high:g} <= {low:g})")
        return {"min_value": low, "max_value": high, "categories": None}
    if min_value is not None or max_value is not None:
        raise Invalid(f"minValue/maxValue: only NUMERIC configs have a range, not {kind.value}")
    if kind == ScoreDataType.CATEGORICAL:
        return {"min_value": None, "max_value": None, "categories": _categories(categories)}
    if kind == ScoreDataType.BOOLEAN:
        if categories and _categories(categories) != BOOLEAN_CATEGORIES:
            raise Invalid("categories: BOOLEAN configs are fixed to True=1 and False=0")
        return {"min_value": None, "max_value": None, "categories": list(BOOLEAN_CATEGORIES)}
    if categories:
        raise Invalid("categories: only CATEGORICAL configs have categories")
    return {"min_value": None, "max_value": None, "categories": None}


def _check_unique_name(session: Session, project_id: str, name: str, exclude: str | None) -> None:
    stmt = select(ScoreConfig.id).where(
        ScoreConfig.project_id == project_id, ScoreConfig.name_key == name.lower()
    )
    if exclude:
        stmt = stmt.where(ScoreConfig.id != exclude)
    if session.scalar(stmt):
        raise Conflict(f"name: a score config named {name!r} already exists in this project")


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("description: must be a string")
    if len(value) > 5000:
        raise Invalid("description: at most 5000 characters")
    return value or None


def create(session: Session, project_id: str, body: Mapping[str, Any]) -> ScoreConfig:
    name = check_name(body.get("name"))
    definition = normalized_definition(
        body.get("dataType"),
        min_value=body.get("minValue"),
        max_value=body.get("maxValue"),
        categories=body.get("categories"),
    )
    _check_unique_name(session, project_id, name, None)
    config = ScoreConfig(
        project_id=project_id,
        name=name,
        name_key=name.lower(),
        data_type=body["dataType"],
        description=_description(body.get("description")),
        is_archived=False,
        **definition,
    )
    session.add(config)
    session.flush()
    return config


def update(
    session: Session, project_id: str, config_id: str, body: Mapping[str, Any]
) -> ScoreConfig:
    """Edit, archive or restore. Existing scores are never rewritten."""
    config = get(session, project_id, config_id)
    if "dataType" in body and body["dataType"] != config.data_type:
        raise Invalid("dataType: cannot change the data type of a config; create a new config")
    if "name" in body:
        name = check_name(body["name"])
        _check_unique_name(session, project_id, name, config.id)
        config.name, config.name_key = name, name.lower()
    if any(k in body for k in ("minValue", "maxValue", "categories")):
        definition = normalized_definition(
            config.data_type,
            min_value=body.get("minValue", config.min_value),
            max_value=body.get("maxValue", config.max_value),
            categories=body.get("categories", config.categories),
        )
        for key, value in definition.items():
            setattr(config, key, value)
    if "description" in body:
        config.description = _description(body["description"])
    if "isArchived" in body:
        if not isinstance(body["isArchived"], bool):
            raise Invalid("isArchived: must be true or false")
        config.is_archived = body["isArchived"]
    config.updated_at = utcnow()
    session.flush()
    return config


def get(session: Session, project_id: str, config_id: str) -> ScoreConfig:
    config = session.get(ScoreConfig, config_id)
    if config is None or config.project_id != project_id:
        raise NotFound(f"score config {config_id} not found in this project")
    return config


def list_configs(
    session: Session,
    project_id: str,
    *,
    page: int = 1,
    limit: int = 50,
    archived: bool | None = None,
) -> tuple[list[ScoreConfig], int]:
    if page < 1 or not 1 <= limit <= 1000:
        raise Invalid("page must be >= 1 and limit between 1 and 1000")
    base = select(ScoreConfig).where(ScoreConfig.project_id == project_id)
    if archived is not None:
        base = base.where(ScoreConfig.is_archived.is_(archived))
    rows = list(
        session.scalars(
            base.order_by(ScoreConfig.is_archived, ScoreConfig.name_key)
            .limit(limit)
            .offset((page - 1) * limit)
        )
    )
    total = count_rows(session, base)
    return rows, total


def configs_by_id(session: Session, project_id: str, ids: set[str]) -> dict[str, ScoreConfig]:
    if not ids:
        return {}
    rows = session.scalars(_by_id_statement(), {"project_id": project_id, "ids": list(ids)})
    return {row.id: row for row in rows}


@cache
def _by_id_statement() -> Any:
    # Built once: on the queue paths building the statement cost as much as running it.
    return select(ScoreConfig).where(
        ScoreConfig.project_id == bindparam("project_id"),
        ScoreConfig.id.in_(bindparam("ids", expanding=True)),
    )
