from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture, make_member, make_project
from tracemark.app import create_app
from tracemark.config import load_settings
from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import accounts, credentials


def test_health_needs_no_auth(app_client: TestClient) -> None:
    response = app_client.get("/api/public/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "OK"
    assert body["version"]
    assert app_client.get("/api/public/ready").json()["status"] == "OK"


def test_health_is_503_when_database_unreachable(tmp_path: object) -> None:
    settings = load_settings(
        data_dir=tmp_path, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none"
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/public/health")
        assert response.status_code == 503
        assert response.json()["status"] != "OK"
        assert client.get("/api/public/ready").status_code == 503


def test_projects_with_key_has_sdk_shape(app_client: TestClient, project: ProjectFixture) -> None:
    response = app_client.get("/api/public/projects", auth=project.auth)
    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "id": project.project.id,
                "name": "Acme",
                "organization": {"id": "tracemark", "name": "Tracemark"},
                "metadata": {},
            }
        ]
    }


def test_keys_look_like_ours(project: ProjectFixture) -> None:
    assert project.public_key.startswith("pk-tm-")
    assert project.secret_key.startswith("sk-tm-")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing Authorization header"),
        ("Basic !!notbase64", "malformed Basic credentials"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "expected 'public_key:secret_key'"),
        ("Basic " + base64.b64encode(b"pk-lf-x:sk-lf-y").decode(), "start with pk-tm-"),
        ("Basic " + base64.b64encode(b"pk-tm-unknown:sk-tm-y").decode(), "unknown public key"),
        ("Bearer nonsense", "malformed token"),
        ("Bearer tm-pat-abc.def", "unknown or revoked token"),
        ("Digest abc", "unsupported Authorization scheme"),
    ],
)
def test_bad_credentials_are_401_with_message(
    app_client: TestClient, project: ProjectFixture, header: str | None, message: str
) -> None:
    headers = {"Authorization": header} if header else {}
    response = app_client.get("/api/public/projects", headers=headers)
    assert response.status_code == 401
    assert message in response.json()["message"]
    assert response.json()["error"] == "Unauthorized"


def test_wrong_secret_is_401(app_client: TestClient, project: ProjectFixture) -> None:
    response = app_client.get("/api/public/projects", auth=(project.public_key, "sk-tm-wrong"))
    assert response.status_code == 401
    assert "wrong secret key" in response.json()["message"]


def test_revoked_key_stops_working_at_once(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    assert app_client.get("/api/public/projects", auth=project.auth).status_code == 200
    with db.write() as session:
        key_id = credentials.list_api_keys(session, project.project.id)[0].id
        credentials.revoke_api_key(session, project.project.id, key_id)
    response = app_client.get("/api/public/projects", auth=project.auth)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


def test_token_changes_take_effect_at_once(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    # The server remembers a verified token's principal briefly; a change must still count at
    # once: a role change, a removal from the project, a revocation.
    user, token = make_member(db, project.project, "ann@example.com", Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    configs = "/api/public/score-configs"
    body = {"name": "quality", "dataType": "NUMERIC"}
    assert app_client.get("/api/public/projects", headers=headers).status_code == 200
    with db.write() as session:
        accounts.set_membership(
            session, session.merge(project.project), session.merge(user), "VIEWER"
        )
    assert app_client.post(configs, headers=headers, json=body).status_code == 403
    with db.write() as session:
        accounts.remove_member(session, session.merge(project.project), session.merge(user))
    response = app_client.get("/api/public/projects", headers=headers)
    assert response.status_code == 401
    assert "no longer a member" in response.json()["message"]
    with db.write() as session:
        accounts.set_membership(
            session, session.merge(project.project), session.merge(user), "ADMIN"
        )
    assert app_client.get("/api/public/projects", headers=headers).status_code == 200
    with db.write() as session:
        token_id = credentials.list_tokens(session, user.id)[0].id
        credentials.revoke_token(session, user.id, token_id)
    assert app_client.get("/api/public/projects", headers=headers).status_code == 401


def test_last_use_is_recorded(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    with db.read() as session:
        assert credentials.list_api_keys(session, project.project.id)[0].last_used_at is None
    app_client.get("/api/public/projects", auth=project.auth)
    with db.read() as session:
        assert credentials.list_api_keys(session, project.project.id)[0].last_used_at is not None


def test_secret_is_stored_only_hashed(project: ProjectFixture, db: Database) -> None:
    with db.read() as session:
        key = credentials.list_api_keys(session, project.project.id)[0]
    assert key.secret_hash.startswith("$argon2id$")
    assert project.secret_key not in key.secret_hash
    assert project.secret_key not in key.display_secret


def test_personal_token_acts_as_user(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    _, token = make_member(db, project.project, "ann@example.com", Role.ANNOTATOR)
    response = app_client.get("/api/public/projects", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["data"][0]["id"] == project.project.id
    assert token.startswith("tm-pat-")
    wrong = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = app_client.get("/api/public/projects", headers={"Authorization": f"Bearer {wrong}"})
    assert response.status_code == 401


def test_projects_are_isolated(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    other = make_project(db, "Other", owner_email="other@example.com")
    mine = app_client.get("/api/public/projects", auth=project.auth).json()["data"]
    theirs = app_client.get("/api/public/projects", auth=other.auth).json()["data"]
    assert [p["name"] for p in mine] == ["Acme"]
    assert [p["name"] for p in theirs] == ["Other"]


def test_openapi_and_docs_are_served(app_client: TestClient) -> None:
    spec = app_client.get("/api/public/openapi.json").json()
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"health", "ready", "projects_get"} <= operations
    docs = app_client.get("/api/docs")
    assert docs.status_code == 200
    assert "/api/docs/assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert app_client.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_unknown_api_path_is_json_404(app_client: TestClient) -> None:
    response = app_client.get("/api/public/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"


def test_oversized_body_is_413(settings: object, db: Database, tmp_path: object) -> None:
    small = load_settings(
        data_dir=tmp_path, database_url=db.url, secret_key="k" * 48, max_body_bytes=2048
    )
    with TestClient(create_app(small, db)) as client:
        response = client.post("/api/public/projects", content=b"x" * 5000)
        assert response.status_code == 413
        assert "2048 bytes" in response.json()["message"]
