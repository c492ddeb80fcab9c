"""Media files referenced from traces (images, audio, PDFs), stored in the database.

The langfuse SDK derives a media id from the content's SHA-256 (base64url, first 22 characters)
and refuses to upload when the server answers another id, so the server derives it the same way.
Identical content in one project is stored once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracemark.db.base import utcnow
from tracemark.db.models import Media, MediaReference
from tracemark.services.errors import Invalid, NotFound, PayloadTooLarge, Unauthorized
from tracemark.services.hashing import constant_time_equal, random_token

MAX_MEDIA_BYTES = 50 * 1024 * 1024
FIELDS = ("input", "output", "metadata")


def media_id_for(sha256_b64: str) -> str:
    """The SDK's id: base64url of the SHA-256, first 22 characters."""
    return sha256_b64.replace("+", "-").replace("/", "_")[:22]


def _decode_hash(sha256_b64: str) -> bytes:
    try:
        raw = base64.b64decode(sha256_b64, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("sha256Hash: must be the base64 SHA-256 of the content") from None
    if len(raw) != 32:
        raise Invalid("sha256Hash: must be the base64 SHA-256 of the content (32 bytes)")
    return raw


@dataclass(frozen=True)
class UploadTicket:
    media_id: str
    upload_token: str | None  # None: already uploaded, the SDK skips the upload


def request_upload(
    session: Session,
    project_id: str,
    *,
    trace_id: str,
    observation_id: str | None,
    content_type: str,
    content_length: int,
    sha256_hash: str,
    field: str,
) -> UploadTicket:
    if field not in FIELDS:
        raise Invalid(f"field: must be one of {', '.join(FIELDS)}")
    if not content_type or "/" not in content_type:
        raise Invalid("contentType: must be a MIME type such as image/png")
    if content_length < 0:
        raise Invalid("contentLength: must not be negative")
    if content_length > MAX_MEDIA_BYTES:
        raise PayloadTooLarge(f"contentLength: media larger than {MAX_MEDIA_BYTES} bytes")
    if not trace_id:
        raise Invalid("traceId: required")
    _decode_hash(sha256_hash)
    media_id = media_id_for(sha256_hash)
    media = session.get(Media, (project_id, media_id))
    if media is None:
        media = Media(
            project_id=project_id,
            id=media_id,
            sha256_hash=sha256_hash,
            content_type=content_type,
            content_length=content_length,
            upload_token=random_token(24),
        )
        session.add(media)
        session.flush()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(MediaReference)
        .values(
            project_id=project_id,
            media_id=media_id,
            trace_id=trace_id,
            observation_id=observation_id or "",
            field=field,
        )
        .on_conflict_do_nothing()
    )
    if media.uploaded_at is not None and media.content is not None:
        return UploadTicket(media_id, None)
    return UploadTicket(media_id, media.upload_token)


def store_upload(
    session: Session,
    project_id: str,
    media_id: str,
    token: str,
    content: bytes,
    content_type: str | None,
) -> None:
    """The SDK's unauthenticated PUT: checked by the one-time token and the content's hash."""
    media = session.get(Media, (project_id, media_id))
    if media is None:
        raise NotFound(f"media {media_id} not found")
    if not constant_time_equal(token, media.upload_token):
        raise Unauthorized("invalid upload token")
    digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
    if digest != media.sha256_hash:
        raise Invalid("uploaded content does not match the announced sha256Hash")
    media.content = content
    if content_type:
        media.content_type = content_type
    media.content_length = len(content)
    media.uploaded_at = utcnow()


def record_upload_result(
    session: Session,
    project_id: str,
    media_id: str,
    *,
    uploaded_at: datetime | None,
    status: int | None,
    error: str | None,
) -> None:
    media = session.get(Media, (project_id, media_id))
    if media is None:
        raise NotFound(f"media {media_id} not found")
    media.upload_http_status = status
    media.upload_http_error = error or None
    if uploaded_at is not None and media.content is not None and media.uploaded_at is None:
        media.uploaded_at = uploaded_at


def get_media(session: Session, project_id: str, media_id: str) -> Media:
    media = session.get(Media, (project_id, media_id))
    if media is None:
        raise NotFound(f"media {media_id} not found")
    return media


def media_for_trace(session: Session, project_id: str, trace_id: str) -> list[MediaReference]:
    return list(
        session.scalars(
            select(MediaReference).where(
                MediaReference.project_id == project_id, MediaReference.trace_id == trace_id
            )
        )
    )
