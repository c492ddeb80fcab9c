"""Every error becomes `{"message": ..., "error": ...}` with the right status, in one place.

Under /api the answer is JSON; for browser pages it is a small HTML page.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracemark.services.errors import DomainError, TooManyRequests

log = logging.getLogger("tracemark")

_STATUS_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "InvalidRequest",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/v1/"))


def error_response(
    request: Request,
    status: int,
    message: str,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    name = error or _STATUS_NAMES.get(status, "Error")
    if _wants_json(request):
        return JSONResponse(
            {"message": message, "error": name}, status_code=status, headers=headers
        )
    renderer = getattr(request.app.state, "render_error", None)
    if renderer is not None:
        response: Response = renderer(request, status, message)
        if headers:
            response.headers.update(headers)
        return response
    return JSONResponse({"message": message, "error": name}, status_code=status, headers=headers)


def describe_validation_errors(errors: Any) -> str:
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        where = ".".join(loc) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        headers = (
            {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
        )
        if exc.status == 401 and _wants_json(request):
            headers = {"WWW-Authenticate": 'Basic realm="tracemark"'}
        return error_response(request, exc.status, exc.message, exc.error, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(
            request, 400, describe_validation_errors(exc.errors()), "InvalidRequest"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(request, exc.status_code, message, None, dict(exc.headers or {}))

    @app.exception_handler(OperationalError)
    async def _database_busy(request: Request, exc: OperationalError) -> Response:
        # Locked or unreachable database: a retryable condition, never a 500.
        text = str(exc.orig).lower()
        if "syntax error" in text or "no such" in text:
            return await _unexpected(request, exc)
        log.warning("database unavailable on %s: %s", request.url.path, str(exc.orig)[:200])
        return error_response(
            request,
            503,
            "the database is busy or unreachable; retry shortly",
            "ServiceUnavailable",
            {"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            request, 500, "internal error; the server log has the details", "InternalError"
        )
