"""Traces with known names, users, sessions, tags, levels, metadata and scores: the list tests.

Everything goes in through the public API (ingestion and scores), as an application would send
it. `expected(predicate)` gives the ids a filter must show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

N_TRACES = 30
HOSTILE_NAME = "<script>alert('name')</script>"
HOSTILE_TAG = "<img src=x onerror=alert(1)>"
HOSTILE_USER = '"><b>user</b>'


@dataclass(frozen=True)
class Row:
    id: str
    minute: int
    name: str
    user: str
    session: str
    tags: tuple[str, ...]
    release: str
    environment: str
    customer: str
    error: bool
    quality: float | None
    tone: str | None


def rows(n: int = N_TRACES) -> list[Row]:
    out = []
    for i in range(n):
        tags = tuple(t for t, on in (("vip", i % 4 in (0, 1)), ("beta", i % 4 in (1, 2))) if on)
        out.append(
            Row(
                id=f"r{i:02d}",
                minute=i,
                name="answer" if i % 2 == 0 else "chat",
                user=f"user-{i % 3}",
                session=f"sess-{i % 5}",
                tags=tags,
                release="v1" if i < 15 else "v2",
                environment="production" if i % 2 == 0 else "staging",
                customer="acme" if i % 3 == 0 else "globex",
                error=i % 7 == 0,
                quality=float(i % 5) if i < 10 else None,
                tone={1: "friendly", 2: "friendly", 3: "rude"}.get(i),
            )
        )
    return out


def at(minute: int, second: int = 0) -> str:
    return f"2026-11-20T{10 + minute // 60:02d}:{minute % 60:02d}:{second:02d}Z"


def ingestion_batch(n: int = N_TRACES) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    for row in rows(n):
        body: dict[str, Any] = {
            "id": row.id,
            "timestamp": at(row.minute),
            "name": row.name,
            "userId": row.user,
            "sessionId": row.session,
            "tags": list(row.tags),
            "release": row.release,
            "environment": row.environment,
            "metadata": {"customer": row.customer},
            "input": {"question": f"question {row.id}"},
            "output": f"answer {row.id}",
        }
        events.append(
            {
                "id": f"ev-{row.id}",
                "type": "trace-create",
                "timestamp": at(row.minute),
                "body": body,
            }
        )
        span: dict[str, Any] = {
            "id": f"{row.id}-span",
            "traceId": row.id,
            "name": "llm-call",
            "startTime": at(row.minute),
            "endTime": at(row.minute, 2),
            "environment": row.environment,
            "model": "gpt-4o-mini",
            "usageDetails": {"input": 400 + row.minute, "output": 60},
        }
        if row.error:
            span["level"] = "ERROR"
            span["statusMessage"] = "boom"
        events.append(
            {
                "id": f"ev-{row.id}-span",
                "type": "generation-create",
                "timestamp": at(row.minute),
                "body": span,
            }
        )
    events.append(
        {
            "id": "ev-evil",
            "type": "trace-create",
            "timestamp": at(59, 59),
            "body": {
                "id": "evil",
                "timestamp": at(59, 59),
                "name": HOSTILE_NAME,
                "userId": HOSTILE_USER,
                "sessionId": "s/../x",
                "tags": [HOSTILE_TAG],
                "environment": "staging",
                "metadata": {"customer": "<b>evil</b>"},
            },
        }
    )
    return {"batch": events}


def score_batch() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows():
        if row.quality is not None:
            out.append(
                {"id": f"q-{row.id}", "traceId": row.id, "name": "quality", "value": row.quality}
            )
        if row.tone is not None:
            out.append({"id": f"t-{row.id}", "traceId": row.id, "name": "tone", "value": row.tone})
    return out


def expected(predicate: Callable[[Row], bool], n: int = N_TRACES) -> set[str]:
    return {row.id for row in rows(n) if predicate(row)}
