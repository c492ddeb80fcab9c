"""The real `tracemark serve` and the real `langfuse` SDK against it."""

from __future__ import annotations

import httpx

from tests.conftest import Server, make_project
from tests.sdk import LANGFUSE_5, run_script
from tracemark.db.engine import Database

AUTH_CHECK = """
import json
from langfuse import Langfuse
client = Langfuse()
try:
    ok = client.auth_check()
    error = None
except Exception as exc:  # the SDK raises on 401
    ok, error = False, f"{type(exc).__name__}: {exc}"
print(json.dumps({"ok": ok, "error": error}))
"""


def _env(server: Server, public: str, secret: str) -> dict[str, str]:
    return {
        "LANGFUSE_PUBLIC_KEY": public,
        "LANGFUSE_SECRET_KEY": secret,
        "LANGFUSE_HOST": server.url,
        "LANGFUSE_BASE_URL": server.url,
    }


def test_langfuse5_auth_check(server: Server, db: Database) -> None:
    project = make_project(db)
    good = run_script(LANGFUSE_5, AUTH_CHECK, _env(server, project.public_key, project.secret_key))
    assert good == {"ok": True, "error": None}
    bad = run_script(LANGFUSE_5, AUTH_CHECK, _env(server, project.public_key, "sk-tm-wrong"))
    assert bad["ok"] is False
    assert bad["error"] and "401" in bad["error"]


def test_served_pages_and_api(server: Server) -> None:
    health = httpx.get(server.url + "/api/public/health")
    assert health.status_code == 200 and health.json()["status"] == "OK"
    # A fresh instance sends the browser to create the first admin.
    first = httpx.get(server.url + "/", follow_redirects=True)
    assert first.url.path == "/setup"
    assert "Create administrator" in first.text
    static = httpx.get(server.url + "/static/app.css")
    assert static.status_code == 200 and "--accent" in static.text
