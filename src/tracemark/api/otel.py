"""OTLP/HTTP trace export: protobuf or JSON, gzip or identity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tracemark.api.deps import AUTH_ERRORS, Caller, get_db, get_settings, run_ingest
from tracemark.db.engine import Database
from tracemark.ingest.otlp import parse_otlp
from tracemark.services import ingest
from tracemark.services.permissions import Permission, require

router = APIRouter(tags=["opentelemetry"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Malformed OTLP payload"},
    413: {"description": "Body too large"},
    415: {"description": "Unsupported content type or encoding"},
    503: {"description": "Busy; retry later"},
}


async def export_traces(request: Request, caller: Caller) -> Response:
    """Receive an OTLP ExportTraceServiceRequest; 200 means every span is committed."""
    require(caller.role, Permission.INGEST)
    body = await request.body()
    content_type = request.headers.get("content-type")
    encoding = request.headers.get("content-encoding")
    max_bytes = get_settings(request).max_body_bytes
    db = get_db(request)
    await run_ingest(
        request, body, _store, db, caller.project_id, body, content_type, encoding, max_bytes
    )
    if content_type and "json" in content_type.lower():
        return JSONResponse({})
    # An empty ExportTraceServiceResponse encodes to zero bytes.
    return Response(content=b"", media_type="application/x-protobuf")


def _store(
    db: Database,
    project_id: str,
    body: bytes,
    content_type: str | None,
    encoding: str | None,
    max_bytes: int,
) -> None:
    batch = parse_otlp(body, content_type, encoding, max_bytes=max_bytes)
    ingest.store(db, project_id, batch)


router.add_api_route(
    "/otel/v1/traces",
    export_traces,
    methods=["POST"],
    operation_id="otel_export_traces",
    summary="Receive an OTLP trace export (protobuf or JSON)",
    responses=RESPONSES,
)

# The plain OTLP path, for exporters configured with the server's root as endpoint.
root_router = APIRouter(tags=["opentelemetry"])
root_router.add_api_route(
    "/v1/traces",
    export_traces,
    methods=["POST"],
    operation_id="otel_export_traces_root",
    summary="Receive an OTLP trace export at the standard OTLP path",
    responses=RESPONSES,
)
