"""Traces with an execution tree (and a hostile one) for the detail page tests, web and browser.

The batch goes in through the public ingestion endpoint; the caller posts it with its client.
"""

from __future__ import annotations

from typing import Any

HOSTILE = "<script>alert(1)</script>"
HOSTILE_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_LINK = "javascript:alert(1)"


def at(seconds: float) -> str:
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    return f"2026-11-20T10:00:{whole:02d}.{millis:03d}Z"


def event(kind: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": kind, "timestamp": at(0), "body": body}


def tree_batch() -> dict[str, Any]:
    """`tr-1`: agent span > (retriever, generation > tool), an ERROR event; session `conv-1`
    with a second trace `tr-2`. `tr-evil`: hostile content in every place it can appear."""
    events = [
        event(
            "trace-create",
            "e-t1",
            {
                "id": "tr-1",
                "timestamp": at(0),
                "name": "support-agent",
                "userId": "u-42",
                "sessionId": "conv-1",
                "tags": ["support", "billing"],
                "input": [{"role": "user", "content": "My invoice is wrong."}],
                "output": {"role": "assistant", "content": "I fixed the invoice."},
                "metadata": {"plan": "pro"},
            },
        ),
        event(
            "span-create",
            "e-s1",
            {
                "id": "obs-agent",
                "traceId": "tr-1",
                "name": "agent-loop",
                "startTime": at(0),
                "endTime": at(4),
                "input": {"goal": "fix invoice"},
            },
        ),
        event(
            "span-create",
            "e-s2",
            {
                "id": "obs-retrieve",
                "traceId": "tr-1",
                "parentObservationId": "obs-agent",
                "name": "lookup-invoice",
                "startTime": at(0.2),
                "endTime": at(1),
                "output": {"docs": ["invoice-7"]},
            },
        ),
        event(
            "generation-create",
            "e-g1",
            {
                "id": "obs-llm",
                "traceId": "tr-1",
                "parentObservationId": "obs-agent",
                "name": "draft-answer",
                "model": "gpt-4o",
                "startTime": at(1),
                "completionStartTime": at(1.5),
                "endTime": at(3),
                "input": [
                    {"role": "system", "content": "You are a billing assistant."},
                    {"role": "user", "content": "My invoice is wrong."},
                ],
                "output": {"role": "assistant", "content": "Let me fix invoice 7 for you."},
                "modelParameters": {"temperature": 0.2},
                "usageDetails": {"input": 100, "output": 20, "total": 120},
                "costDetails": {"input": 0.001, "output": 0.002, "total": 0.003},
            },
        ),
        event(
            "span-create",
            "e-s3",
            {
                "id": "obs-tool",
                "traceId": "tr-1",
                "parentObservationId": "obs-llm",
                "name": "update-invoice",
                "startTime": at(2),
                "endTime": at(2.5),
            },
        ),
        event(
            "event-create",
            "e-ev",
            {
                "id": "obs-warn",
                "traceId": "tr-1",
                "name": "rate-limit",
                "startTime": at(3.5),
                "level": "ERROR",
                "statusMessage": "429 from the billing API",
            },
        ),
        event(
            "trace-create",
            "e-t2",
            {
                "id": "tr-2",
                "timestamp": at(30),
                "name": "follow-up",
                "sessionId": "conv-1",
                "input": "Is it fixed now?",
                "output": "Yes, the invoice is fixed.",
            },
        ),
        event(
            "trace-create",
            "e-evil",
            {
                "id": "tr-evil",
                "timestamp": at(40),
                "name": f"{HOSTILE} trace",
                "sessionId": f"{HOSTILE_IMG} session",
                "tags": [HOSTILE_IMG, "ok"],
                "input": [
                    {"role": "user", "content": f"Hi {HOSTILE} {HOSTILE_IMG}"},
                    {"role": f"{HOSTILE}", "content": f'<a href="{HOSTILE_LINK}">click me</a>'},
                ],
                "output": {"html": HOSTILE_IMG, "link": HOSTILE_LINK, "deep": {"x": HOSTILE}},
                "metadata": {"<b>key</b>": "<iframe src=javascript:alert(1)>", HOSTILE: 1},
            },
        ),
        event(
            "generation-create",
            "e-evil-g",
            {
                "id": "obs-evil",
                "traceId": "tr-evil",
                "name": "<svg onload=alert(1)> step",
                "model": f"{HOSTILE_IMG} model",
                "startTime": at(40),
                "endTime": at(41),
                "input": {"prompt": HOSTILE},
                "output": f"[click](javascript:alert(1)) {HOSTILE_IMG}",
                "metadata": {"<img src=x onerror=alert(2)>": "value"},
                "usageDetails": {"<script>alert(3)</script>": 5},
            },
        ),
    ]
    return {"batch": events}
