"""Media upload and download as the langfuse SDK drives it."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture, make_project
from tracemark.db.engine import Database

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 62


def sha(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def ticket(
    client: TestClient, project: ProjectFixture, content: bytes, **extra: object
) -> dict[str, object]:
    body = {
        "traceId": "t1",
        "observationId": "o1",
        "contentType": "image/png",
        "contentLength": len(content),
        "sha256Hash": sha(content),
        "field": "input",
        **extra,
    }
    response = client.post("/api/public/media", json=body, auth=project.auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def test_upload_flow_and_download(app_client: TestClient, project: ProjectFixture) -> None:
    first = ticket(app_client, project, PNG)
    # The SDK computes the id itself and refuses to upload when ours differs.
    expected = sha(PNG).replace("+", "-").replace("/", "_")[:22]
    assert first["mediaId"] == expected
    upload = app_client.put(
        path_of(str(first["uploadUrl"])),
        content=PNG,
        headers={"Content-Type": "image/png", "x-amz-checksum-sha256": sha(PNG)},
    )
    assert upload.status_code == 200
    patched = app_client.patch(
        f"/api/public/media/{expected}",
        json={
            "uploadedAt": "2026-11-20T10:00:00Z",
            "uploadHttpStatus": 200,
            "uploadHttpError": "",
            "uploadTimeMs": 3,
        },
        auth=project.auth,
    )
    assert patched.status_code == 200 and patched.json() == {}
    info = app_client.get(f"/api/public/media/{expected}", auth=project.auth).json()
    assert info["contentType"] == "image/png" and info["contentLength"] == len(PNG)
    assert info["uploadedAt"]
    download = app_client.get(path_of(info["url"]))
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-disposition"] == "attachment"
    # Announcing the same content again: already uploaded, so no upload URL.
    assert ticket(app_client, project, PNG)["uploadUrl"] is None


def test_upload_is_checked(app_client: TestClient, project: ProjectFixture, db: Database) -> None:
    first = ticket(app_client, project, PNG)
    url = path_of(str(first["uploadUrl"]))
    wrong = app_client.put(url, content=PNG + b"x", headers={"Content-Type": "image/png"})
    assert wrong.status_code == 400 and "does not match" in wrong.json()["message"]
    forged = app_client.put(url.split("token=")[0] + "token=nope", content=PNG)
    assert forged.status_code == 401
    info = app_client.get(f"/api/public/media/{first['mediaId']}", auth=project.auth).json()
    tampered = path_of(info["url"]).replace("signature=", "signature=0")
    assert app_client.get(tampered).status_code == 401
    other = make_project(db, "Other", owner_email="other@example.com")
    assert (
        app_client.get(f"/api/public/media/{first['mediaId']}", auth=other.auth).status_code == 404
    )


def test_bad_media_requests(app_client: TestClient, project: ProjectFixture) -> None:
    bad_field = app_client.post(
        "/api/public/media",
        json={
            "traceId": "t1",
            "contentType": "image/png",
            "contentLength": 3,
            "sha256Hash": sha(b"abc"),
            "field": "elsewhere",
        },
        auth=project.auth,
    )
    assert bad_field.status_code == 400 and "field" in bad_field.json()["message"]
    bad_hash = app_client.post(
        "/api/public/media",
        json={
            "traceId": "t1",
            "contentType": "image/png",
            "contentLength": 3,
            "sha256Hash": "not-base64!",
            "field": "input",
        },
        auth=project.auth,
    )
    assert bad_hash.status_code == 400 and "sha256Hash" in bad_hash.json()["message"]
    huge = app_client.post(
        "/api/public/media",
        json={
            "traceId": "t1",
            "contentType": "video/mp4",
            "contentLength": 10**12,
            "sha256Hash": sha(b"abc"),
            "field": "input",
        },
        auth=project.auth,
    )
    assert huge.status_code == 413
