"""What every page needs: templates, the logged-in user, CSRF tokens, redirects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tracemark import __version__
from tracemark.config import Settings
from tracemark.db.engine import Database
from tracemark.db.models import Role, User
from tracemark.services import accounts, web_sessions
from tracemark.services.errors import Forbidden, NotFound
from tracemark.services.hashing import constant_time_equal, random_token
from tracemark.web import formats
from tracemark.web.markdown import render_markdown

TEMPLATES_DIR = Path(__file__).parent / "templates"
SESSION_COOKIE = "tm_session"
ANON_COOKIE = "tm_anon"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    # Autoescaping is on for .html: trace content is untrusted and must stay inert.
    templates.env.autoescape = True
    templates.env.globals["version"] = __version__
    templates.env.filters["markdown"] = render_markdown
    templates.env.filters["segment"] = path_segment
    templates.env.filters["duration"] = formats.duration
    templates.env.filters["money"] = formats.money
    templates.env.filters["count"] = formats.count
    templates.env.filters["score_value"] = formats.score_value
    templates.env.globals["change_value"] = formats.change_value
    return templates


def path_segment(value: object) -> str:
    """Percent-encode a value for one URL path segment ('/' and '..' included).

    Ids in URLs come from clients (trace ids are chosen by the SDK): they must not be able
    to add path segments to a link.
    """
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _binding(request: Request) -> str | None:
    """The cookie a CSRF token is bound to: the session's, or a pre-login random one."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)


def csrf_for(request: Request) -> str:
    binding = getattr(request.state, "csrf_binding", None) or _binding(request)
    if not binding:
        binding = random_token(24)
        request.state.new_anon_cookie = binding
    request.state.csrf_binding = binding
    return web_sessions.csrf_token(settings_of(request).secret_key, binding)


async def check_csrf(request: Request) -> None:
    """Reject a state-changing request whose CSRF token is missing or wrong."""
    if request.method not in UNSAFE_METHODS:
        return
    binding = _binding(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    expected = (
        web_sessions.csrf_token(settings_of(request).secret_key, binding) if binding else None
    )
    if not sent or not expected or not constant_time_equal(sent, expected):
        raise Forbidden(
            "the form's security token is missing or expired; reload the page and try again"
        )


async def optional_user(request: Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None

    def lookup() -> User | None:
        with db_of(request).read() as session:
            return web_sessions.user_for_session(session, token)

    return await run_in_threadpool(lookup)


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is logged in; becomes a redirect."""


async def required_user(request: Request) -> User:
    user = await optional_user(request)
    if user is None:
        raise LoginRequired
    return user


CurrentUser = Annotated[User, Depends(required_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]


@dataclass(frozen=True)
class ProjectAccess:
    user: User
    project_id: str
    project_name: str
    role: Role


def project_access(request: Request, user: User, project_id: str) -> ProjectAccess:
    """The user's access to a project, or NotFound (never reveal other projects exist)."""
    with db_of(request).read() as session:
        role = accounts.role_in_project(session, user, project_id)
        if role is None:
            raise NotFound(f"project {project_id} not found")
        project = accounts.get_project(session, project_id)
        return ProjectAccess(user, project.id, project.name, role)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    user: User | None = None,
) -> HTMLResponse:
    ctx: dict[str, Any] = {"user": user, "csrf_token": csrf_for(request)}
    ctx.update(context or {})
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    _secure_headers(response)
    new_anon = getattr(request.state, "new_anon_cookie", None)
    if new_anon:
        set_cookie(request, response, ANON_COOKIE, new_anon, max_age=60 * 60 * 24)
    return response


def _secure_headers(response: Response) -> None:
    # Scripts only from our own origin, never inline: injected markup cannot run.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).secure_cookies,
        path="/",
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return redirect("/login?next=" + quote(target, safe=""))


def safe_next(value: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"status": status, "message": message},
        status_code=status,
        user=None,
    )
