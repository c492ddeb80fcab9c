"""Media upload and download, as the langfuse SDK drives it."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from tracemark.api.deps import AUTH_ERRORS, DB, AppSettings, Caller, get_db, get_settings
from tracemark.api.schemas.common import WireModel, as_utc
from tracemark.api.schemas.tracing import iso
from tracemark.services import media as media_service
from tracemark.services.errors import Invalid, Unauthorized
from tracemark.services.hashing import constant_time_equal, sign
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["media"])
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid request"},
    404: {"description": "No such media in this project"},
    413: {"description": "Media too large"},
}
DOWNLOAD_SECONDS = 3600


class MediaUploadRequest(WireModel):
    trace_id: str
    observation_id: str | None = None
    content_type: str
    content_length: int
    sha256_hash: str
    field: str


class MediaUploadTicket(WireModel):
    upload_url: str | None
    media_id: str


class MediaPatch(WireModel):
    uploaded_at: datetime
    upload_http_status: int
    upload_http_error: str | None = None
    upload_time_ms: int | None = None


class MediaOut(WireModel):
    media_id: str
    content_type: str
    content_length: int
    uploaded_at: str | None
    url: str
    url_expiry: str


@router.post(
    "/media",
    operation_id="media_get_upload_url",
    response_model=MediaUploadTicket,
    responses=ERRORS,
)
def get_upload_url(
    caller: Caller, db: DB, settings: AppSettings, body: MediaUploadRequest
) -> MediaUploadTicket:
    """Announce a media file; answers where to upload it (null when already uploaded)."""
    require(caller.role, Permission.INGEST)
    with db.write() as session:
        ticket = media_service.request_upload(
            session,
            caller.project_id,
            trace_id=body.trace_id,
            observation_id=body.observation_id,
            content_type=body.content_type,
            content_length=body.content_length,
            sha256_hash=body.sha256_hash,
            field=body.field,
        )
    upload_url = None
    if ticket.upload_token:
        upload_url = (
            f"{settings.base_url}/api/public/media/{caller.project_id}/{ticket.media_id}/upload"
            f"?token={ticket.upload_token}"
        )
    return MediaUploadTicket(upload_url=upload_url, media_id=ticket.media_id)


@router.put(
    "/media/{project_id}/{media_id}/upload",
    operation_id="media_upload",
    responses={
        400: {"description": "Content does not match its hash"},
        401: {"description": "Wrong upload token"},
    },
)
async def upload(request: Request, project_id: str, media_id: str, token: str = "") -> Response:
    """The upload itself (no Authorization: the one-time token in the URL authorizes it)."""
    content = await request.body()
    db = get_db(request)

    def store() -> None:
        with db.write() as session:
            media_service.store_upload(
                session, project_id, media_id, token, content, request.headers.get("content-type")
            )

    await run_in_threadpool(store)
    return Response(status_code=200)


@router.patch("/media/{media_id}", operation_id="media_patch", responses=ERRORS)
def patch_media(caller: Caller, db: DB, media_id: str, body: MediaPatch) -> JSONResponse:
    """Record the upload's outcome as the SDK reports it."""
    require(caller.role, Permission.INGEST)
    with db.write() as session:
        media_service.record_upload_result(
            session,
            caller.project_id,
            media_id,
            uploaded_at=as_utc(body.uploaded_at),
            status=body.upload_http_status,
            error=body.upload_http_error,
        )
    return JSONResponse({})


@router.get(
    "/media/{media_id}", operation_id="media_get", response_model=MediaOut, responses=ERRORS
)
def get_media(caller: Caller, db: DB, settings: AppSettings, media_id: str) -> MediaOut:
    """A media file's details and a download URL valid for an hour."""
    require(caller.role, Permission.READ)
    with db.read() as session:
        media = media_service.get_media(session, caller.project_id, media_id)
    expires = int(time.time()) + DOWNLOAD_SECONDS
    signature = sign(settings.secret_key, f"media:{caller.project_id}:{media_id}:{expires}")
    from datetime import UTC

    return MediaOut(
        media_id=media.id,
        content_type=media.content_type,
        content_length=media.content_length,
        uploaded_at=iso(media.uploaded_at),
        url=f"{settings.base_url}/api/public/media/{caller.project_id}/{media_id}/content"
        f"?expires={expires}&signature={signature}",
        url_expiry=iso(datetime.fromtimestamp(expires, UTC)) or "",
    )


@router.get(
    "/media/{project_id}/{media_id}/content",
    operation_id="media_download",
    responses={401: {"description": "Expired or wrong signature"}},
)
def download(
    request: Request, project_id: str, media_id: str, expires: int = 0, signature: str = ""
) -> Response:
    """Download through a signed URL from `GET /media/{id}`."""
    settings = get_settings(request)
    expected = sign(settings.secret_key, f"media:{project_id}:{media_id}:{expires}")
    if expires < time.time() or not constant_time_equal(signature, expected):
        raise Unauthorized("download link expired or invalid; ask GET /api/public/media/{id} again")
    with get_db(request).read() as session:
        media = media_service.get_media(session, project_id, media_id)
    if media.content is None:
        raise Invalid("this media has not been uploaded yet")
    return Response(
        content=media.content,
        media_type=media.content_type,
        headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )
