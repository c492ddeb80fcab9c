"""Scores and score configs from the real SDKs (langfuse 2.x, 3.x, 4.x, 5.x) against a real
`tracemark serve`, read back exactly through the public API.

How each version sends them (see the wire reference): 5.x posts JSON arrays to
`/api/public/scores` (answer 202); 2.x-4.x send `score-create` events to
`/api/public/ingestion` (answer 207, and 2.x-4.x re-send the whole batch when it lists errors).
Every script records the SDK's own log (warnings and errors of any logger) and the status and
body of each score request it made, so a rejected or retried batch cannot go unnoticed.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ProjectFixture, Server, make_project
from tests.sdk import LANGFUSE_2, LANGFUSE_3, LANGFUSE_4, LANGFUSE_5, run_script
from tracemark.db.engine import Database

# --- helpers ----------------------------------------------------------------------------------

# Put in front of every SDK script: captures log records (WARNING and above, any logger, the
# SDKs' included) and every POST to the score endpoints with its answer.
PRELUDE = """
import json
import logging

import httpx

LOGGED = []
HTTP = []


class _Capture(logging.Handler):
    def emit(self, record):
        LOGGED.append(f"{record.name} {record.levelname}: {record.getMessage()}")


logging.getLogger().addHandler(_Capture(logging.WARNING))
_send = httpx.Client.send


def _recording_send(self, request, *args, **kwargs):
    response = _send(self, request, *args, **kwargs)
    if request.method == "POST" and request.url.path in (
        "/api/public/scores",
        "/api/public/ingestion",
    ):
        try:
            body = response.json()
        except Exception:
            body = response.text
        HTTP.append({"path": request.url.path, "status": response.status_code, "body": body})
    return response


httpx.Client.send = _recording_send
"""

FIELDS = (
    "name",
    "value",
    "stringValue",
    "dataType",
    "traceId",
    "observationId",
    "sessionId",
    "comment",
    "metadata",
    "configId",
    "source",
    "environment",
)


def _sdk_env(server: Server, project: ProjectFixture) -> dict[str, str]:
    return {
        "LANGFUSE_PUBLIC_KEY": project.public_key,
        "LANGFUSE_SECRET_KEY": project.secret_key,
        "LANGFUSE_HOST": server.url,
        "LANGFUSE_BASE_URL": server.url,
    }


def _read(server: Server, project: ProjectFixture, path: str, **params: Any) -> Any:
    response = httpx.get(
        server.url + "/api/public" + path, params=params, auth=project.auth, timeout=30
    )
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def _all_scores(server: Server, project: ProjectFixture, **params: Any) -> list[dict[str, Any]]:
    listing = _read(server, project, "/v2/scores", limit=100, **params)
    assert listing["meta"]["totalItems"] == len(listing["data"])
    data: list[dict[str, Any]] = listing["data"]
    return data


def _score(
    name: str,
    data_type: str,
    value: float | None,
    string_value: str | None = None,
    *,
    trace: str | None = None,
    observation: str | None = None,
    session: str | None = None,
    comment: str | None = None,
    metadata: dict[str, Any] | None = None,
    config: str | None = None,
) -> dict[str, Any]:
    """A score as the read API must show it (the FIELDS of it).

    As in Langfuse, a CATEGORICAL label without a config reads as value 0 (the SDKs' models
    require a number there); TEXT has no value.
    """
    return {
        "name": name,
        "value": value,
        "stringValue": string_value,
        "dataType": data_type,
        "traceId": trace,
        "observationId": observation,
        "sessionId": session,
        "comment": comment,
        "metadata": metadata or {},
        "configId": config,
        "source": "API",
        "environment": "default",
    }


def _assert_scores(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Exactly the expected scores (names are unique per scenario), each exactly once."""
    names = [s["name"] for s in actual]
    assert sorted(names) == sorted(e["name"] for e in expected), names
    assert {s["name"]: {k: s[k] for k in FIELDS} for s in actual} == {
        e["name"]: e for e in expected
    }


def _assert_trace_scores(
    server: Server,
    project: ProjectFixture,
    trace_id: str,
    listed: list[dict[str, Any]],
) -> dict[str, Any]:
    """GET /traces/{id} carries exactly the trace's scores, as the score list shows them."""
    trace: dict[str, Any] = _read(server, project, f"/traces/{trace_id}")
    on_trace = {s["id"]: s for s in listed if s["traceId"] == trace_id}
    assert {s["id"]: s for s in trace["scores"]} == on_trace
    assert len(trace["scores"]) == len(on_trace)
    return trace


def _v3_value(score: dict[str, Any]) -> Any:
    """The value of a score in the v3 list: a number, a boolean or a string by dataType."""
    if score["dataType"] == "NUMERIC":
        return score["value"]
    if score["dataType"] == "BOOLEAN":
        return score["value"] == 1.0
    return score["stringValue"]


def _assert_no_server_errors(server: Server) -> None:
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def _create_config(server: Server, project: ProjectFixture, body: dict[str, Any]) -> str:
    response = httpx.post(
        server.url + "/api/public/score-configs", json=body, auth=project.auth, timeout=30
    )
    assert response.status_code == 200, response.text
    config_id: str = response.json()["id"]
    return config_id


# --- 1. langfuse 5.x: POST /api/public/scores -------------------------------------------------

LANGFUSE5_SCENARIO = """
from datetime import datetime

from langfuse import get_client
from langfuse.api import ConfigCategory

client = get_client()
api = client.api


def kind(value):
    return getattr(value, "value", value)


def config_dict(config):
    return {
        "id": config.id,
        "name": config.name,
        "dataType": kind(config.data_type),
        "minValue": config.min_value,
        "maxValue": config.max_value,
        "categories": [{"value": c.value, "label": c.label} for c in config.categories or []]
        or None,
        "description": config.description,
        "isArchived": config.is_archived,
        "projectId": config.project_id,
    }


quality = api.score_configs.create(
    name="quality", data_type="NUMERIC", min_value=0, max_value=1, description="answer quality"
)
tone = api.score_configs.create(
    name="tone",
    data_type="CATEGORICAL",
    categories=[ConfigCategory(value=0, label="bad"), ConfigCategory(value=1, label="good")],
)
ok = api.score_configs.create(name="ok", data_type="BOOLEAN")
listed = api.score_configs.get(page=1, limit=10)
configs = {
    "created": [config_dict(c) for c in (quality, tone, ok)],
    "listed": [config_dict(c) for c in listed.data],
    "meta": {"page": listed.meta.page, "limit": listed.meta.limit,
             "totalItems": listed.meta.total_items, "totalPages": listed.meta.total_pages},
    "byId": config_dict(api.score_configs.get_by_id(tone.id)),
}

ids = {}
with client.start_as_current_observation(name="root-span", input={"q": "?"}) as root:
    ids["trace"] = root.trace_id
    ids["root"] = root.id
    with client.start_as_current_observation(
        as_type="generation", name="chat", model="gpt-4o", input=[{"role": "user", "content": "?"}]
    ) as generation:
        ids["generation"] = generation.id
        generation.update(output={"role": "assistant", "content": "42"})
        generation.score(name="gen-numeric", value=0.9, data_type="NUMERIC", comment="good gen")
        generation.score_trace(
            name="trace-bool-via-span", value=True, data_type="BOOLEAN", comment="bool via span"
        )
        client.score_current_span(name="current-span-cat", value="cat-a", data_type="CATEGORICAL")
        client.score_current_trace(
            name="current-trace-text",
            value="looks fine",
            data_type="TEXT",
            metadata={"judge": "human", "round": 2, "tags": ["a", "b"]},
        )
    with client.start_as_current_observation(name="tool-span") as tool:
        ids["tool"] = tool.id
        tool.score(name="tool-bool-false", value=0, data_type="BOOLEAN")

T, GEN, TOOL, SESSION = ids["trace"], ids["generation"], ids["tool"], "session-v5"


def explicit_id_scores(comment):
    # Sent twice (identical but for the comment of the last one): upserts, never duplicates.
    client.create_score(
        name="quality",
        value=0.8,
        trace_id=T,
        config_id=quality.id,
        score_id="v5-quality-1",
        timestamp=datetime(2025, 1, 2, 3, 4, 5),
        metadata={"batch": "nightly"},
    )
    client.create_score(
        name="session-numeric",
        value=0.5,
        session_id=SESSION,
        comment="on session",
        score_id="v5-session-1",
    )
    client.create_score(
        name="with-id", value=0.1, trace_id=T, observation_id=GEN, score_id="my-score-id-1",
        comment=comment,
    )


client.create_score(
    name="accuracy", value=0.95, trace_id=T, data_type="NUMERIC", comment="numeric on trace",
    metadata={"judge": "human"},
)
client.create_score(
    name="sentiment", value="positive", trace_id=T, observation_id=GEN,
    data_type="CATEGORICAL", comment="categorical on observation",
)
client.create_score(name="obs-text", value="some text", trace_id=T, observation_id=TOOL,
                    data_type="TEXT")
client.create_score(name="no-type-number", value=3, trace_id=T)
client.create_score(name="no-type-label", value="meh", trace_id=T, observation_id=GEN)
client.create_score(name="session-bool", value=1, session_id=SESSION, data_type="BOOLEAN")
client.create_score(name="session-text", value="long chat", session_id=SESSION, data_type="TEXT")
client.create_score(name="session-cat", value="short", session_id=SESSION,
                    data_type="CATEGORICAL")
client.create_score(name="session-no-type", value=7, session_id=SESSION)
client.create_score(
    name="tone", value="good", trace_id=T, observation_id=GEN, config_id=tone.id,
    data_type="CATEGORICAL",
)
client.create_score(name="ok", value=0, trace_id=T, config_id=ok.id, data_type="BOOLEAN")
explicit_id_scores("first")
client.flush()
explicit_id_scores("second")
client.flush()
# Read back through the SDK's own models (GET /api/public/v3/scores, polymorphic value).
page = api.scores.get_many(trace_id=T, limit=100)
sdk_read = sorted([s.name, kind(s.data_type), s.value] for s in page.data)
client.shutdown()
print(json.dumps({"ids": ids, "configs": configs, "sdkRead": sdk_read, "http": HTTP,
                  "logged": LOGGED}))
"""


def test_langfuse5_score_configs_and_scores(server: Server, db: Database) -> None:
    project = make_project(db)
    out = run_script(LANGFUSE_5, PRELUDE + LANGFUSE5_SCENARIO, _sdk_env(server, project))
    assert out["logged"] == []
    # Two flushes: two arrays, each answered 202 {"message": "Accepted"}.
    assert len(out["http"]) >= 2
    for request in out["http"]:
        assert request == {
            "path": "/api/public/scores",
            "status": 202,
            "body": {"message": "Accepted"},
        }, out["http"]

    # -- score configs, as the SDK's own models parsed them.
    configs = out["configs"]
    quality, tone, ok = configs["created"]
    project_id = project.project.id
    assert quality == {
        "id": quality["id"],
        "name": "quality",
        "dataType": "NUMERIC",
        "minValue": 0.0,
        "maxValue": 1.0,
        "categories": None,
        "description": "answer quality",
        "isArchived": False,
        "projectId": project_id,
    }
    assert tone == {
        "id": tone["id"],
        "name": "tone",
        "dataType": "CATEGORICAL",
        "minValue": None,
        "maxValue": None,
        "categories": [{"value": 0.0, "label": "bad"}, {"value": 1.0, "label": "good"}],
        "description": None,
        "isArchived": False,
        "projectId": project_id,
    }
    assert ok == {
        "id": ok["id"],
        "name": "ok",
        "dataType": "BOOLEAN",
        "minValue": None,
        "maxValue": None,
        "categories": [{"value": 1.0, "label": "True"}, {"value": 0.0, "label": "False"}],
        "description": None,
        "isArchived": False,
        "projectId": project_id,
    }
    assert sorted(configs["listed"], key=lambda c: c["name"]) == [ok, quality, tone]
    assert configs["meta"] == {"page": 1, "limit": 10, "totalItems": 3, "totalPages": 1}
    assert configs["byId"] == tone

    # -- scores, exactly.
    ids = out["ids"]
    trace, gen, tool, session = ids["trace"], ids["generation"], ids["tool"], "session-v5"
    expected = [
        _score("gen-numeric", "NUMERIC", 0.9, trace=trace, observation=gen, comment="good gen"),
        _score("trace-bool-via-span", "BOOLEAN", 1.0, "True", trace=trace, comment="bool via span"),
        _score("current-span-cat", "CATEGORICAL", 0.0, "cat-a", trace=trace, observation=gen),
        _score(
            "current-trace-text",
            "TEXT",
            None,
            "looks fine",
            trace=trace,
            metadata={"judge": "human", "round": 2, "tags": ["a", "b"]},
        ),
        _score("tool-bool-false", "BOOLEAN", 0.0, "False", trace=trace, observation=tool),
        _score(
            "accuracy",
            "NUMERIC",
            0.95,
            trace=trace,
            comment="numeric on trace",
            metadata={"judge": "human"},
        ),
        _score(
            "sentiment",
            "CATEGORICAL",
            0.0,
            "positive",
            trace=trace,
            observation=gen,
            comment="categorical on observation",
        ),
        _score("obs-text", "TEXT", None, "some text", trace=trace, observation=tool),
        _score("no-type-number", "NUMERIC", 3.0, trace=trace),  # no dataType: from the value
        _score("no-type-label", "CATEGORICAL", 0.0, "meh", trace=trace, observation=gen),
        _score("session-bool", "BOOLEAN", 1.0, "True", session=session),
        _score("session-text", "TEXT", None, "long chat", session=session),
        _score("session-cat", "CATEGORICAL", 0.0, "short", session=session),
        _score("session-no-type", "NUMERIC", 7.0, session=session),
        _score("session-numeric", "NUMERIC", 0.5, session=session, comment="on session"),
        _score(
            "quality",
            "NUMERIC",
            0.8,
            trace=trace,
            config=quality["id"],
            metadata={"batch": "nightly"},
        ),
        # With a config, a category label gets its value and a boolean its label.
        _score("tone", "CATEGORICAL", 1.0, "good", trace=trace, observation=gen, config=tone["id"]),
        _score("ok", "BOOLEAN", 0.0, "False", trace=trace, config=ok["id"]),
        # Sent twice with the same id: one score, the later comment.
        _score("with-id", "NUMERIC", 0.1, trace=trace, observation=gen, comment="second"),
    ]
    listed = _all_scores(server, project)
    _assert_scores(listed, expected)
    by_name = {s["name"]: s for s in listed}
    assert by_name["with-id"]["id"] == "my-score-id-1"
    assert by_name["session-numeric"]["id"] == "v5-session-1"
    assert by_name["quality"]["id"] == "v5-quality-1"
    assert by_name["quality"]["timestamp"] == "2025-01-02T03:04:05.000Z"  # naive = UTC

    # The trace carries its trace and observation scores; the session's are found by filter.
    _assert_trace_scores(server, project, trace, listed)
    # The SDK reads them back with its own models (v3 list: value typed by dataType).
    assert out["sdkRead"] == sorted(
        [e["name"], e["dataType"], _v3_value(e)] for e in expected if e["traceId"] == trace
    )
    session_scores = _all_scores(server, project, sessionId=session)
    assert {s["name"] for s in session_scores} == {
        e["name"] for e in expected if e["sessionId"] == session
    }
    on_generation = _all_scores(server, project, observationId=gen)
    assert {s["name"] for s in on_generation} == {
        e["name"] for e in expected if e["observationId"] == gen
    }
    _assert_no_server_errors(server)


# --- 2. langfuse 3.x / 4.x: score-create events on /api/public/ingestion ----------------------

LANGFUSE34_SCENARIO = """
import os
import warnings
from datetime import datetime, timezone

from langfuse import get_client, observe

warnings.simplefilter("ignore")
client = get_client()
CONFIG = os.environ["TM_TONE_CONFIG"]
ids = {}


@observe(as_type="generation", name="chat")
def chat(question):
    ids["generation"] = client.get_current_observation_id()
    client.score_current_span(name="current-span-numeric", value=0.75, data_type="NUMERIC",
                              comment="via score_current_span")
    client.score_current_trace(name="current-trace-bool", value=False, data_type="BOOLEAN")
    return "42"


@observe(name="root")
def root(question):
    ids["trace"] = client.get_current_trace_id()
    ids["root"] = client.get_current_observation_id()
    return chat(question)


root("?")
T, GEN, ROOT = ids["trace"], ids["generation"], ids["root"]
# The same score id twice in one batch (a batch holds 15), later once more: one score.
for comment in ("first", "again"):
    client.create_score(name="with-id", value=0.1, trace_id=T, score_id="my-score-id-1",
                        comment=comment)
client.create_score(name="accuracy", value=0.95, trace_id=T, data_type="NUMERIC",
                    comment="numeric on trace", metadata={"judge": "human"})
client.create_score(name="obs-numeric", value=-2.5, trace_id=T, observation_id=GEN)
client.create_score(name="sentiment", value="positive", trace_id=T, observation_id=GEN,
                    data_type="CATEGORICAL", comment="categorical on observation")
client.create_score(name="trace-cat", value="neutral", trace_id=T, data_type="CATEGORICAL")
client.create_score(name="is_correct", value=1, trace_id=T, data_type="BOOLEAN")
client.create_score(name="obs-bool", value=0, trace_id=T, observation_id=ROOT,
                    data_type="BOOLEAN", comment="boolean on obs")
client.create_score(name="free-text", value="some text", trace_id=T, data_type="TEXT")
client.create_score(name="obs-text", value="obs text", trace_id=T, observation_id=GEN,
                    data_type="TEXT")
client.create_score(name="no-type", value=3, trace_id=T)
client.create_score(name="tone", value="bad", trace_id=T, observation_id=GEN, config_id=CONFIG)
client.create_score(name="session-score", value=0.5, session_id="session-v34",
                    data_type="NUMERIC")
client.create_score(
    name="dated", value=1.5, trace_id=T, score_id="dated-1",
    timestamp=datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
)
client.flush()
client.create_score(name="with-id", value=0.2, trace_id=T, score_id="my-score-id-1",
                    comment="revised")
client.flush()
# Read back through the SDK's own models (GET /api/public/v2/scores).
api = client.api
if hasattr(api, "score_v_2"):  # 3.x
    page = api.score_v_2.get(trace_id=T, limit=100)
else:  # 4.x
    page = api.scores.get_many(trace_id=T, limit=100)
sdk_read = sorted(
    [s.name, getattr(s.data_type, "value", s.data_type), getattr(s, "value", None),
     getattr(s, "string_value", None)]
    for s in page.data
)
client.shutdown()
print(json.dumps({"ids": ids, "sdkRead": sdk_read, "http": HTTP, "logged": LOGGED}))
"""


@pytest.mark.parametrize("sdk", [LANGFUSE_3, LANGFUSE_4], ids=["v3", "v4"])
def test_langfuse34_scores_via_ingestion(
    server: Server, db: Database, sdk: tuple[str, ...]
) -> None:
    project = make_project(db)
    tone = _create_config(
        server,
        project,
        {
            "name": "tone",
            "dataType": "CATEGORICAL",
            "categories": [{"value": 0, "label": "bad"}, {"value": 1, "label": "good"}],
        },
    )
    env = {**_sdk_env(server, project), "TM_TONE_CONFIG": tone}
    out = run_script(sdk, PRELUDE + LANGFUSE34_SCENARIO, env)
    assert out["logged"] == []
    assert len(out["http"]) >= 2
    for request in out["http"]:
        assert request["path"] == "/api/public/ingestion"
        assert request["status"] == 207
        assert request["body"]["errors"] == []
        assert all(s["status"] == 201 for s in request["body"]["successes"])
    assert sum(len(r["body"]["successes"]) for r in out["http"]) == 17  # every event once

    ids = out["ids"]
    trace, gen, root = ids["trace"], ids["generation"], ids["root"]
    expected = [
        _score(
            "current-span-numeric",
            "NUMERIC",
            0.75,
            trace=trace,
            observation=gen,
            comment="via score_current_span",
        ),
        _score("current-trace-bool", "BOOLEAN", 0.0, "False", trace=trace),
        _score(
            "accuracy",
            "NUMERIC",
            0.95,
            trace=trace,
            comment="numeric on trace",
            metadata={"judge": "human"},
        ),
        _score("obs-numeric", "NUMERIC", -2.5, trace=trace, observation=gen),
        _score(
            "sentiment",
            "CATEGORICAL",
            0.0,
            "positive",
            trace=trace,
            observation=gen,
            comment="categorical on observation",
        ),
        _score("trace-cat", "CATEGORICAL", 0.0, "neutral", trace=trace),
        _score("is_correct", "BOOLEAN", 1.0, "True", trace=trace),
        _score(
            "obs-bool",
            "BOOLEAN",
            0.0,
            "False",
            trace=trace,
            observation=root,
            comment="boolean on obs",
        ),
        _score("free-text", "TEXT", None, "some text", trace=trace),
        _score("obs-text", "TEXT", None, "obs text", trace=trace, observation=gen),
        _score("no-type", "NUMERIC", 3.0, trace=trace),
        _score("tone", "CATEGORICAL", 0.0, "bad", trace=trace, observation=gen, config=tone),
        _score("session-score", "NUMERIC", 0.5, session="session-v34"),
        _score("dated", "NUMERIC", 1.5, trace=trace),
        _score("with-id", "NUMERIC", 0.2, trace=trace, comment="revised"),
    ]
    listed = _all_scores(server, project)
    _assert_scores(listed, expected)
    by_name = {s["name"]: s for s in listed}
    assert by_name["with-id"]["id"] == "my-score-id-1"
    assert by_name["dated"]["id"] == "dated-1"
    # Score bodies carry no timestamp: the event's (the SDK's `timestamp=`) is the score's.
    assert by_name["dated"]["timestamp"] == "2025-01-02T03:04:05.000Z"
    history = _read(server, project, "/scores/my-score-id-1/history")["data"]
    assert [(h["action"], h["newComment"]) for h in history] == [
        ("CREATE", "first"),
        ("UPDATE", "again"),
        ("UPDATE", "revised"),
    ]
    _assert_trace_scores(server, project, trace, listed)
    # The SDK reads them back with its own models (v2 list).
    assert out["sdkRead"] == sorted(
        [e["name"], e["dataType"], e["value"], e["stringValue"]]
        for e in expected
        if e["traceId"] == trace
    )
    _assert_no_server_errors(server)


# --- 3. langfuse 2.x: score-create events, and a batch the server partly refuses -------------

LANGFUSE2_SCENARIO = """
from langfuse import Langfuse
from langfuse.api import ConfigCategory, CreateScoreConfigRequest

lf = Langfuse()
configs = lf.client.score_configs
quality = configs.create(
    request=CreateScoreConfigRequest(name="quality", data_type="NUMERIC", min_value=0, max_value=1)
)
tone = configs.create(
    request=CreateScoreConfigRequest(
        name="tone",
        data_type="CATEGORICAL",
        categories=[ConfigCategory(value=0, label="bad"), ConfigCategory(value=1, label="good")],
    )
)
ok = configs.create(request=CreateScoreConfigRequest(name="ok", data_type="BOOLEAN"))
listed = configs.get()
config_list = {
    "ids": {"quality": quality.id, "tone": tone.id, "ok": ok.id},
    "listed": sorted(
        (c.name, getattr(c.data_type, "value", c.data_type), c.min_value, c.max_value,
         [(k.value, k.label) for k in c.categories or []])
        for c in listed.data
    ),
    "totalItems": listed.meta.total_items,
}

trace = lf.trace(name="v2-scored", session_id="session-v2")
span = trace.span(name="retrieval")
generation = span.generation(name="chat", model="gpt-4o", input="?")
generation.end(output="42")
span.end()
T = trace.id
lf.score(trace_id=T, name="accuracy", value=0.95, data_type="NUMERIC",
         comment="numeric on trace", metadata={"judge": "human"})
lf.score(trace_id=T, observation_id=generation.id, name="sentiment", value="positive",
         data_type="CATEGORICAL", comment="categorical on observation")
lf.score(trace_id=T, name="no-type", value=3)
trace.score(name="is_correct", value=1, data_type="BOOLEAN", comment="boolean on trace")
trace.score(name="no-type-label", value="meh")
span.score(name="is_correct_obs", value=0, data_type="BOOLEAN")
generation.score(name="gen-numeric", value=0.25, data_type="NUMERIC", comment="on generation")
generation.score(name="gen-cat", value="short", data_type="CATEGORICAL")
lf.score(trace_id=T, id="v2-explicit-1", name="with-id", value=0.1, comment="explicit id")
lf.score(trace_id=T, name="quality", value=0.8, config_id=quality.id)
span.score(name="tone", value="bad", config_id=tone.id)
trace.score(name="ok", value=1, config_id=ok.id, data_type="BOOLEAN")
lf.flush()
first = {"http": list(HTTP), "logged": list(LOGGED)}

# A batch with one invalid score: the server answers 207 listing it, and the SDK re-sends the
# whole batch (span, valid scores and all) until it gives up.
HTTP.clear()
LOGGED.clear()
retry_span = trace.span(name="retry-span")
retry_span.end()
lf.score(trace_id=T, id="v2-retry-ok", name="retry-ok", value=0.5)
retry_span.score(name="retry-auto-id", value="fine")
lf.score(trace_id=T, id="v2-bad-bool", name="bad-bool", value=2, data_type="BOOLEAN")
lf.flush()
second = {"http": list(HTTP), "logged": list(LOGGED)}
lf.shutdown()
print(json.dumps({
    "ids": {"trace": T, "span": span.id, "generation": generation.id, "retry": retry_span.id},
    "configs": config_list,
    "first": first,
    "second": second,
}))
"""


def test_langfuse2_scores_configs_and_resent_batches(server: Server, db: Database) -> None:
    project = make_project(db)
    out = run_script(LANGFUSE_2, PRELUDE + LANGFUSE2_SCENARIO, _sdk_env(server, project))
    first, second = out["first"], out["second"]
    assert first["logged"] == []
    assert first["http"], "no ingestion request"
    for request in first["http"]:
        assert (request["path"], request["status"]) == ("/api/public/ingestion", 207)
        assert request["body"]["errors"] == []

    configs = out["configs"]
    assert configs["totalItems"] == 3
    assert configs["listed"] == [
        ["ok", "BOOLEAN", None, None, [[1.0, "True"], [0.0, "False"]]],
        ["quality", "NUMERIC", 0.0, 1.0, []],
        ["tone", "CATEGORICAL", None, None, [[0.0, "bad"], [1.0, "good"]]],
    ]

    # The refused batch: 207 naming the one bad event, re-sent as a whole 3 times in all.
    posts = second["http"]
    assert all((r["path"], r["status"]) == ("/api/public/ingestion", 207) for r in posts)
    refused = [r for r in posts if r["body"]["errors"]]
    assert len(refused) == 3, posts
    for request in refused:
        [error] = request["body"]["errors"]
        assert error["status"] == 400
        assert "BOOLEAN" in error["message"] and "2" in error["message"], error
    # 4 valid events (span create and update, 2 scores). They are queued within a millisecond,
    # so they nearly always share the bad event's batch and are re-sent with it.
    assert len({s["id"] for r in posts for s in r["body"]["successes"]}) == 4
    if len(posts) == 3:
        assert all(len(r["body"]["successes"]) == 4 for r in posts)
    # The SDK logs it once, generically ("Bad request"), after its last attempt.
    [logged] = second["logged"]
    assert logged.startswith("langfuse ERROR: API errors occurred: Bad request"), logged

    ids = out["ids"]
    trace, span, gen, retry = ids["trace"], ids["span"], ids["generation"], ids["retry"]
    cfg = configs["ids"]
    expected = [
        _score(
            "accuracy",
            "NUMERIC",
            0.95,
            trace=trace,
            comment="numeric on trace",
            metadata={"judge": "human"},
        ),
        _score(
            "sentiment",
            "CATEGORICAL",
            0.0,
            "positive",
            trace=trace,
            observation=gen,
            comment="categorical on observation",
        ),
        _score("no-type", "NUMERIC", 3.0, trace=trace),
        _score("is_correct", "BOOLEAN", 1.0, "True", trace=trace, comment="boolean on trace"),
        _score("no-type-label", "CATEGORICAL", 0.0, "meh", trace=trace),
        _score("is_correct_obs", "BOOLEAN", 0.0, "False", trace=trace, observation=span),
        _score(
            "gen-numeric", "NUMERIC", 0.25, trace=trace, observation=gen, comment="on generation"
        ),
        _score("gen-cat", "CATEGORICAL", 0.0, "short", trace=trace, observation=gen),
        _score("with-id", "NUMERIC", 0.1, trace=trace, comment="explicit id"),
        _score("quality", "NUMERIC", 0.8, trace=trace, config=cfg["quality"]),
        _score(
            "tone", "CATEGORICAL", 0.0, "bad", trace=trace, observation=span, config=cfg["tone"]
        ),
        _score("ok", "BOOLEAN", 1.0, "True", trace=trace, config=cfg["ok"]),
        # From the re-sent batch: each once; the refused one not at all.
        _score("retry-ok", "NUMERIC", 0.5, trace=trace),
        _score("retry-auto-id", "CATEGORICAL", 0.0, "fine", trace=trace, observation=retry),
    ]
    listed = _all_scores(server, project)
    _assert_scores(listed, expected)
    by_name = {s["name"]: s for s in listed}
    assert by_name["with-id"]["id"] == "v2-explicit-1"
    assert by_name["retry-ok"]["id"] == "v2-retry-ok"
    for name in ("retry-ok", "retry-auto-id"):
        history = _read(server, project, f"/scores/{by_name[name]['id']}/history")["data"]
        assert [h["action"] for h in history] == ["CREATE"]  # re-sends changed nothing
    trace_out = _assert_trace_scores(server, project, trace, listed)
    assert sorted(o["name"] for o in trace_out["observations"]) == [
        "chat",
        "retrieval",
        "retry-span",
    ]
    _assert_no_server_errors(server)
