"""Score config pages: the list (with archived ones on request), create, edit, archive, restore."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from tracemark.db.models import ScoreConfig, ScoreDataType
from tracemark.db.models.scoring import CONFIG_DATA_TYPES
from tracemark.services import score_configs
from tracemark.services.errors import DomainError
from tracemark.services.permissions import Permission, allows, require
from tracemark.web import forms
from tracemark.web.common import (
    CurrentUser,
    ProjectAccess,
    check_csrf,
    db_of,
    path_segment,
    project_access,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
CONFIGS = "/project/{project_id}/score-configs"
SHOWN = 500
DATA_TYPES = [t.value for t in CONFIG_DATA_TYPES]
EMPTY_CATEGORY_ROWS = 2


@dataclass
class ConfigForm:
    """What the form shows: a config's values, or what the person typed."""

    name: str = ""
    data_type: str = ScoreDataType.NUMERIC.value
    description: str = ""
    min_value: str = ""
    max_value: str = ""
    categories: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, config: ScoreConfig) -> ConfigForm:
        cats = []
        if config.data_type == ScoreDataType.CATEGORICAL.value:
            cats = [(str(c["label"]), f"{c['value']:g}") for c in config.categories or []]
        return cls(
            name=config.name,
            data_type=config.data_type,
            description=config.description or "",
            min_value="" if config.min_value is None else f"{config.min_value:g}",
            max_value="" if config.max_value is None else f"{config.max_value:g}",
            categories=cats,
        )

    @classmethod
    def parse(cls, form: FormData, data_type: str | None = None) -> ConfigForm:
        labels, values = forms.texts(form, "category_label"), forms.texts(form, "category_value")
        rows = [
            (label, value) for label, value in zip(labels, values, strict=False) if label or value
        ]
        return cls(
            name=forms.text(form, "name"),
            data_type=data_type or forms.text(form, "data_type"),
            description=forms.text(form, "description"),
            min_value=forms.text(form, "min_value"),
            max_value=forms.text(form, "max_value"),
            categories=rows,
        )

    def rows(self) -> list[tuple[str, str]]:
        """Category rows to show: the filled ones and a few empty ones to add more."""
        return self.categories + [("", "")] * EMPTY_CATEGORY_ROWS

    def body(self) -> dict[str, Any]:
        """The service's body; only the fields of the chosen data type are sent."""
        body: dict[str, Any] = {
            "name": self.name,
            "dataType": self.data_type,
            "description": self.description or None,
        }
        if self.data_type == ScoreDataType.NUMERIC.value:
            body["minValue"] = forms.number(self.min_value, "minValue")
            body["maxValue"] = forms.number(self.max_value, "maxValue")
        elif self.data_type == ScoreDataType.CATEGORICAL.value:
            body["categories"] = [
                {"label": label, "value": forms.number(value, f"categories[{i}].value")}
                for i, (label, value) in enumerate(self.categories)
            ]
        return body


def _base(access: ProjectAccess) -> str:
    return f"/project/{path_segment(access.project_id)}/score-configs"


def _form_page(
    request: Request,
    access: ProjectAccess,
    user: CurrentUser,
    form: ConfigForm,
    *,
    config: ScoreConfig | None,
    error: DomainError | None = None,
) -> Response:
    return render(
        request,
        "score_config_form.html",
        {
            "access": access,
            "form": form,
            "config": config,
            "data_types": DATA_TYPES,
            "error": error.message if error else None,
            "nav_active": "score-configs",
        },
        status_code=error.status if error else 200,
        user=user,
    )


def _manager(request: Request, user: CurrentUser, project_id: str) -> ProjectAccess:
    access = project_access(request, user, project_id)
    forms.require_on_page(
        access, Permission.MANAGE_SCORE_CONFIGS, _base(access), "Back to the score configs"
    )
    return access


@router.get(CONFIGS)
def config_list(
    request: Request, user: CurrentUser, project_id: str, archived: bool = False
) -> Response:
    """The project's score configs; archived ones only when asked for."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    with db_of(request).read() as session:
        configs, total = score_configs.list_configs(
            session, access.project_id, limit=SHOWN, archived=None if archived else False
        )
    return render(
        request,
        "score_configs.html",
        {
            "access": access,
            "configs": configs,
            "total": total,
            "shown": SHOWN,
            "archived": archived,
            "can_manage": allows(access.role, Permission.MANAGE_SCORE_CONFIGS),
            "nav_active": "score-configs",
        },
        user=user,
    )


@router.get(CONFIGS + "/new")
def new_config_page(request: Request, user: CurrentUser, project_id: str) -> Response:
    """The form for a new score config."""
    access = _manager(request, user, project_id)
    return _form_page(request, access, user, ConfigForm(categories=[]), config=None)


@router.post(CONFIGS + "/new")
async def create_config(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Create a score config, or show the form again with the service's message."""
    access = _manager(request, user, project_id)
    form = ConfigForm.parse(await request.form())
    try:
        body = form.body()
        with db_of(request).write() as session:
            score_configs.create(session, access.project_id, body)
    except DomainError as exc:
        return _form_page(request, access, user, form, config=None, error=exc)
    return redirect(_base(access))


@router.get(CONFIGS + "/{config_id}/edit")
def edit_config_page(
    request: Request, user: CurrentUser, project_id: str, config_id: str
) -> Response:
    """The form for editing a score config."""
    access = _manager(request, user, project_id)
    with db_of(request).read() as session:
        config = score_configs.get(session, access.project_id, config_id)
    return _form_page(request, access, user, ConfigForm.of(config), config=config)


@router.post(CONFIGS + "/{config_id}/edit")
async def update_config(
    request: Request, user: CurrentUser, project_id: str, config_id: str
) -> Response:
    """Save a score config's changes (its data type stays), or show the message."""
    access = _manager(request, user, project_id)
    with db_of(request).read() as session:
        config = score_configs.get(session, access.project_id, config_id)
    form = ConfigForm.parse(await request.form(), data_type=config.data_type)
    try:
        body = form.body()
        with db_of(request).write() as session:
            score_configs.update(session, access.project_id, config_id, body)
    except DomainError as exc:
        return _form_page(request, access, user, form, config=config, error=exc)
    return redirect(_base(access))


def _set_archived(
    request: Request, user: CurrentUser, project_id: str, config_id: str, value: bool
) -> Response:
    access = _manager(request, user, project_id)
    with db_of(request).write() as session:
        score_configs.update(session, access.project_id, config_id, {"isArchived": value})
    return redirect(_base(access) + ("?archived=1" if value else ""))


@router.post(CONFIGS + "/{config_id}/archive")
def archive_config(
    request: Request, user: CurrentUser, project_id: str, config_id: str
) -> Response:
    """Archive a score config: it takes no new scores; its scores stay."""
    return _set_archived(request, user, project_id, config_id, True)


@router.post(CONFIGS + "/{config_id}/restore")
def restore_config(
    request: Request, user: CurrentUser, project_id: str, config_id: str
) -> Response:
    """Restore an archived score config."""
    return _set_archived(request, user, project_id, config_id, False)
