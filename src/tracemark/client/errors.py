"""The one error type of the client."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

__all__ = ["TracemarkError"]


class TracemarkError(Exception):
    """The server answered with an error status (4xx or 5xx).

    Attributes:
        status: the HTTP status, e.g. 400, 403, 404, 409.
        message: the server's explanation; it names the field and the rule, e.g.
            ``"scores[0]: value: 9 is above the maximum 5 of 'quality'"``.
        error: the error's name, e.g. ``"InvalidRequest"`` (400), ``"Unauthorized"``,
            ``"Forbidden"``, ``"NotFound"``, ``"Conflict"``.

    Network failures (refused connections, timeouts) are not turned into this error: they
    surface as ``httpx.TransportError``.
    """

    def __init__(self, status: int, message: str, error: str) -> None:
        super().__init__(status, message, error)
        self.status = status
        self.message = message
        self.error = error

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.message}"

    @classmethod
    def from_response(cls, response: httpx.Response) -> TracemarkError:
        """Build the error from a read response: its JSON ``{"message", "error"}`` if any."""
        reason = response.reason_phrase or "Error"
        body: Any = None
        with contextlib.suppress(ValueError):
            body = response.json()
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            error = body.get("error")
            name = error if isinstance(error, str) else reason.replace(" ", "")
            return cls(response.status_code, body["message"], name)
        # Not Tracemark's JSON (a proxy in between, say): keep the start of the text.
        text = response.text.strip()[:500]
        return cls(response.status_code, text or reason, reason.replace(" ", ""))
