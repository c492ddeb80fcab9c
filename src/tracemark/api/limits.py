"""Request body size limit, enforced before a handler reads the body."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised while a handler reads a body that grows past the limit; becomes a 413."""


class BodySizeLimit:
    """Answer 413 when a body exceeds `max_bytes`, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await self._reply(send, 400, "Content-Length is not a number")
                    return
                if length > self.max_bytes:
                    await self._reply(send, 413, self._message())
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(413, self._message())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reply(send, 413, self._message())

    def _message(self) -> str:
        return (
            f"request body larger than the limit of {self.max_bytes} bytes "
            "(setting TRACEMARK_MAX_BODY_BYTES)"
        )

    @staticmethod
    async def _reply(send: Send, status: int, message: str) -> None:
        error = "PayloadTooLarge" if status == 413 else "BadRequest"
        body = json.dumps({"message": message, "error": error}).encode()
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
