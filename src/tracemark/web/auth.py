"""First-admin setup, login and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tracemark.services import accounts, web_sessions
from tracemark.services.errors import Conflict, DomainError, TooManyRequests, Unauthorized
from tracemark.web.common import (
    ANON_COOKIE,
    SESSION_COOKIE,
    MaybeUser,
    check_csrf,
    client_ip,
    db_of,
    redirect,
    render,
    safe_next,
    set_cookie,
    settings_of,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])


def has_users(request: Request) -> bool:
    with db_of(request).read() as session:
        return accounts.count_users(session) > 0


@router.get("/setup")
async def setup_page(request: Request) -> Response:
    if await run_in_threadpool(has_users, request):
        return redirect("/login")
    return render(request, "setup.html", {"form": {}})


@router.post("/setup")
async def setup_submit(
    request: Request,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "name": name}
    if password != password_confirm:
        return render(
            request,
            "setup.html",
            {"form": form, "error": "the two passwords differ"},
            status_code=400,
        )
    settings = settings_of(request)

    def create() -> web_sessions.NewSession:
        with db_of(request).write() as session:
            if accounts.count_users(session) > 0:
                raise Conflict("an administrator already exists; log in instead")
            user = accounts.create_user(
                session, email=email, name=name, password=password, is_admin=True
            )
            return web_sessions.open_session(
                session,
                user,
                days=settings.session_days,
                user_agent=request.headers.get("user-agent"),
            )

    try:
        new = await run_in_threadpool(create)
    except DomainError as exc:
        return render(
            request, "setup.html", {"form": form, "error": exc.message}, status_code=exc.status
        )
    response = redirect("/")
    _start_session(request, response, new.token)
    return response


@router.get("/login")
async def login_page(request: Request, user: MaybeUser, next: str = "/") -> Response:
    if not await run_in_threadpool(has_users, request):
        return redirect("/setup")
    if user is not None:
        return redirect(safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "email": ""})


@router.post("/login")
async def login_submit(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    settings = settings_of(request)
    ip = client_ip(request)
    db = db_of(request)

    def attempt() -> web_sessions.NewSession:
        with db.write() as session:
            return web_sessions.login(
                session,
                email=email,
                password=password,
                ip=ip,
                user_agent=request.headers.get("user-agent"),
                days=settings.session_days,
            )

    def remember_failure() -> None:
        with db.write() as session:
            web_sessions.record_failure(session, email=email, ip=ip)

    context = {"next": safe_next(next), "email": email}
    try:
        new = await run_in_threadpool(attempt)
    except TooManyRequests as exc:
        throttled = render(
            request, "login.html", {**context, "error": exc.message}, status_code=429
        )
        throttled.headers["Retry-After"] = str(exc.retry_after)
        return throttled
    except Unauthorized as exc:
        await run_in_threadpool(remember_failure)
        return render(request, "login.html", {**context, "error": exc.message}, status_code=401)
    response = redirect(safe_next(next))
    _start_session(request, response, new.token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)

    def close() -> None:
        with db_of(request).write() as session:
            web_sessions.close_session(session, token)

    await run_in_threadpool(close)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _start_session(request: Request, response: Response, token: str) -> None:
    settings = settings_of(request)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=settings.session_days * 86400)
    response.delete_cookie(ANON_COOKIE, path="/")
