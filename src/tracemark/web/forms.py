"""Helpers for the HTML forms of the settings-like pages: reading fields, answering errors."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from tracemark.db.models import User
from tracemark.services.errors import DomainError, Invalid
from tracemark.services.permissions import Permission, require
from tracemark.web.common import ProjectAccess, render


def text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def texts(form: FormData, key: str) -> list[str]:
    return [v.strip() if isinstance(v, str) else "" for v in form.getlist(key)]


def number(raw: str, field: str) -> float | int | None:
    """A form field as a number (None when empty), or Invalid naming the field."""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(f"{field}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise Invalid(f"{field}: must be a finite number")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def whole_number(raw: str, field: str) -> int | None:
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"{field}: {raw!r} is not a whole number") from None


def checked(form: FormData, key: str) -> bool:
    return form.get(key) in ("on", "1", "true")


def error_page(
    request: Request,
    access: ProjectAccess,
    user: User,
    exc: DomainError,
    *,
    back_url: str | None = None,
    back_label: str | None = None,
) -> HTMLResponse:
    """A domain error as a page that keeps the project's navigation."""
    return render(
        request,
        "error.html",
        {
            "status": exc.status,
            "message": exc.message,
            "access": access,
            "back_url": back_url,
            "back_label": back_label,
        },
        status_code=exc.status,
        user=user,
    )


class PageError(Exception):
    """A domain error on a project page, answered as a page that keeps the navigation."""

    def __init__(
        self,
        error: DomainError,
        access: ProjectAccess,
        back_url: str | None = None,
        back_label: str | None = None,
    ) -> None:
        super().__init__(error.message)
        self.error, self.access = error, access
        self.back_url, self.back_label = back_url, back_label


def require_on_page(
    access: ProjectAccess,
    permission: Permission,
    back_url: str | None = None,
    back_label: str | None = None,
) -> None:
    """`require`, with the refusal shown as a project page (403) linking back."""
    try:
        require(access.role, permission)
    except DomainError as exc:
        raise PageError(exc, access, back_url, back_label) from None


def page_error_response(request: Request, exc: PageError) -> HTMLResponse:
    return error_page(
        request,
        exc.access,
        exc.access.user,
        exc.error,
        back_url=exc.back_url,
        back_label=exc.back_label,
    )


def form_context(form: FormData, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: text(form, key) for key in keys}
