"""The one-time set-password page that a project admin hands to a newly added person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from tracemark.services import password_links, web_sessions
from tracemark.services.errors import DomainError, Invalid
from tracemark.web.common import (
    ANON_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    db_of,
    redirect,
    render,
    set_cookie,
    settings_of,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


@router.get("/set-password/{token}")
def set_password_page(request: Request, token: str) -> Response:
    """Choose a password through a one-time link."""
    try:
        with db_of(request).read() as session:
            user = password_links.user_for_link(session, token)
            email, name = user.email, user.name
    except DomainError as exc:
        return _no_store(
            render(
                request,
                "error.html",
                {"status": exc.status, "message": exc.message},
                status_code=exc.status,
            )
        )
    return _no_store(render(request, "set_password.html", {"email": email, "name": name}))


@router.post("/set-password/{token}")
def set_password_submit(
    request: Request,
    token: str,
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str, Form()] = "",
) -> Response:
    """Set the password, spend the link, and log the person in."""
    settings = settings_of(request)
    email = name = ""
    try:
        with db_of(request).write() as session:
            user = password_links.user_for_link(session, token)
            email, name = user.email, user.name
            if password != password_confirm:
                raise Invalid("the two passwords differ")
            password_links.use_link(session, token, password)
            new = web_sessions.open_session(
                session,
                user,
                days=settings.session_days,
                user_agent=request.headers.get("user-agent"),
            )
    except DomainError as exc:
        if not email:
            page = render(
                request,
                "error.html",
                {"status": exc.status, "message": exc.message},
                status_code=exc.status,
            )
        else:
            page = render(
                request,
                "set_password.html",
                {"email": email, "name": name, "error": exc.message},
                status_code=exc.status,
            )
        return _no_store(page)
    response = redirect("/")
    set_cookie(request, response, SESSION_COOKIE, new.token, max_age=settings.session_days * 86400)
    response.delete_cookie(ANON_COOKIE, path="/")
    return response
