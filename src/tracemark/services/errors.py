"""Domain errors raised by services; the API and the UI turn each into one HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    error = "BadRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(DomainError):
    status = 400
    error = "InvalidRequest"


class Unauthorized(DomainError):
    status = 401
    error = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    error = "Forbidden"


class NotFound(DomainError):
    status = 404
    error = "NotFound"


class Conflict(DomainError):
    status = 409
    error = "Conflict"


class TooManyRequests(DomainError):
    status = 429
    error = "TooManyRequests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(DomainError):
    status = 413
    error = "PayloadTooLarge"


class UnsupportedMediaType(DomainError):
    status = 415
    error = "UnsupportedMediaType"


class Unavailable(DomainError):
    """Back-pressure: the client should retry later (exporters retry 429/503 only)."""

    status = 503
    error = "ServiceUnavailable"
