"""OTLP/HTTP trace export bodies -> `Batch` (pure: no database, no web framework).

`parse_otlp(body, content_type, content_encoding, max_bytes=...)` accepts what OTel exporters
and the Langfuse SDKs send to `/v1/traces` and `/api/public/otel/v1/traces`:

- `application/x-protobuf` (or `application/protobuf`): an `ExportTraceServiceRequest`. The
  decoded messages are walked directly (no MessageToDict).
- `application/json` (any parameters): OTLP/JSON. Ids may be hex (the OTLP/JSON spec) or
  base64 (protobuf's JSON mapping, as MessageToDict writes them); int64 values may be numbers or
  strings; keys may be lowerCamelCase or snake_case; enums may be numbers or names.
- `Content-Encoding: gzip` (or `x-gzip`) is inflated with a cap; `identity` or none is taken as
  is. The cap `max_bytes` applies to the body as it will be parsed, so an identity body larger
  than `max_bytes` is refused too (PayloadTooLarge).

Errors: UnsupportedMediaType (other content types or encodings), PayloadTooLarge, Invalid
(corrupt gzip, undecodable protobuf/JSON, a span whose traceId is not 16 non-zero bytes or whose
spanId is not 8 non-zero bytes, wrongly typed JSON). Invalid messages name the place, e.g.
"resourceSpans[0].scopeSpans[1].spans[3]: traceId must be 16 bytes, got 4". One bad span
rejects the whole request, as Langfuse does. An empty body gives an empty Batch.

How attributes become fields is described in `tracemark.ingest.attributes`.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterator
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracemark.ingest.attributes import ScopeIn, SpanIn, build_batch
from tracemark.ingest.records import Batch
from tracemark.services.errors import Invalid, PayloadTooLarge, UnsupportedMediaType

__all__ = ["ACCEPTED_CONTENT_TYPES", "parse_otlp"]

_PROTOBUF_TYPES = frozenset(("application/x-protobuf", "application/protobuf"))
_JSON_TYPES = frozenset(("application/json",))
ACCEPTED_CONTENT_TYPES = ("application/x-protobuf", "application/protobuf", "application/json")

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


def parse_otlp(
    body: bytes, content_type: str | None, content_encoding: str | None, *, max_bytes: int
) -> Batch:
    """Decode one OTLP/HTTP trace export into records (see the module docstring)."""
    is_json = _media_type(content_type)
    data = _decode_content(body, content_encoding, max_bytes)
    if not data:
        return Batch()
    try:
        return build_batch(_json_spans(data) if is_json else _protobuf_spans(data))
    except RecursionError:
        raise Invalid("OTLP body is nested too deeply") from None


def _media_type(content_type: str | None) -> bool:
    """True for JSON, False for protobuf; anything else is refused."""
    media = (content_type or "").partition(";")[0].strip().lower()
    if media in _PROTOBUF_TYPES:
        return False
    if media in _JSON_TYPES:
        return True
    raise UnsupportedMediaType(
        f"unsupported content type {content_type!r} for OTLP traces; "
        f"use one of: {', '.join(ACCEPTED_CONTENT_TYPES)}"
    )


def _decode_content(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    codings = [
        c for c in (content_encoding or "").lower().replace(" ", "").split(",") if c != "identity"
    ]
    codings = [c for c in codings if c]
    if not codings:
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"request body is larger than {max_bytes} bytes")
        return body
    if codings not in (["gzip"], ["x-gzip"]):
        raise UnsupportedMediaType(
            f"unsupported content encoding {content_encoding!r}; use gzip or identity"
        )
    if not body:
        return body
    return _gunzip(body, max_bytes)


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    """Inflate (possibly multi-member) gzip, refusing output beyond max_bytes."""
    out: list[bytes] = []
    total = 0
    data = body
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(data, max_bytes - total + 1)
        except zlib.error as exc:
            raise Invalid(f"corrupt gzip body: {exc}") from None
        total += len(chunk)
        if total > max_bytes:
            raise PayloadTooLarge(f"decompressed request body is larger than {max_bytes} bytes")
        out.append(chunk)
        if not inflater.eof:
            raise Invalid("corrupt gzip body: truncated")
        data = inflater.unused_data
        if not data.strip(b"\x00"):
            break
    return out[0] if len(out) == 1 else b"".join(out)


# --- protobuf ---------------------------------------------------------------------------------


def _pb_value(v: Any) -> Any:
    """Decode an OTLP AnyValue message."""
    k = v.WhichOneof("value")
    if k == "string_value":
        return v.string_value
    if k == "int_value":
        return v.int_value
    if k == "bool_value":
        return v.bool_value
    if k == "double_value":
        return _double(v.double_value)
    if k == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if k == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if k == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    return None


def _pb_attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        # A non-empty string_value can only mean a string (the value is a oneof); reading it
        # first saves a WhichOneof call for the most common kind.
        s = v.string_value
        out[kv.key] = s if s else _pb_value(v)
    return out


def _double(x: float) -> float | str:
    """JSON has no NaN/Infinity: keep non-finite doubles as their OTLP/JSON names."""
    if x - x == 0.0:
        return x
    if x != x:
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def _protobuf_spans(data: bytes) -> Iterator[SpanIn]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError, untyped
        raise Invalid(f"body is not a valid OTLP ExportTraceServiceRequest: {exc}") from None
    for i, rs in enumerate(request.resource_spans):
        resource_attributes = _pb_attributes(rs.resource.attributes)
        for j, ss in enumerate(rs.scope_spans):
            sc = ss.scope
            scope = ScopeIn(resource_attributes, sc.name, sc.version, _pb_attributes(sc.attributes))
            for k, sp in enumerate(ss.spans):
                trace_id = sp.trace_id
                span_id = sp.span_id
                parent = sp.parent_span_id
                if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
                    _bad_id(i, j, k, "traceId", trace_id, 16)
                if len(span_id) != 8 or span_id == _ZERO_SPAN:
                    _bad_id(i, j, k, "spanId", span_id, 8)
                if parent and (len(parent) != 8):
                    _bad_id(i, j, k, "parentSpanId", parent, 8)
                events: list[tuple[str, int, dict[str, Any]]] = (
                    [
                        (ev.name, ev.time_unix_nano, _pb_attributes(ev.attributes))
                        for ev in sp.events
                    ]
                    if sp.events
                    else []
                )
                links: list[dict[str, Any]] = (
                    [
                        _link(
                            ln.trace_id.hex(),
                            ln.span_id.hex(),
                            ln.trace_state,
                            _pb_attributes(ln.attributes),
                        )
                        for ln in sp.links
                    ]
                    if sp.links
                    else []
                )
                status = sp.status
                yield SpanIn(
                    scope,
                    trace_id.hex(),
                    span_id.hex(),
                    parent.hex() if parent and parent != _ZERO_SPAN else None,
                    sp.name,
                    sp.kind,
                    sp.start_time_unix_nano,
                    sp.end_time_unix_nano,
                    status.code,
                    status.message,
                    _pb_attributes(sp.attributes),
                    events,
                    links,
                    sp.trace_state,
                )


def _bad_id(i: int, j: int, k: int, what: str, value: bytes, size: int) -> None:
    where = f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]"
    if not value:
        raise Invalid(f"{where}: {what} is missing")
    if len(value) != size:
        raise Invalid(f"{where}: {what} must be {size} bytes, got {len(value)}")
    raise Invalid(f"{where}: {what} must not be all zeros")


def _link(trace_id: str, span_id: str, trace_state: str, attrs: dict[str, Any]) -> dict[str, Any]:
    link: dict[str, Any] = {"traceId": trace_id, "spanId": span_id}
    if trace_state:
        link["traceState"] = trace_state
    if attrs:
        link["attributes"] = attrs
    return link


# --- JSON -------------------------------------------------------------------------------------

_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_HEX = frozenset("0123456789abcdefABCDEF")


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    v = d.get(camel)
    return d.get(snake) if v is None else v


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be an object")
    return value


def _arr(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"{where} must be an array")
    return value


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{where} must be a string")
    return value


def _uint(value: Any, where: str) -> int:
    """An int64/uint64/fixed64 field: a number or a decimal string."""
    if value is None:
        return 0
    if type(value) is int:
        n = value
    elif (isinstance(value, str) and value.isdigit()) or (
        isinstance(value, float) and value.is_integer()
    ):
        n = int(value)
    else:
        raise Invalid(f"{where} must be an integer, got {value!r}")
    if n < 0:
        raise Invalid(f"{where} must not be negative")
    return n


def _enum(value: Any, names: dict[str, int], where: str) -> int:
    if value is None:
        return 0
    if type(value) is int:
        return value
    if isinstance(value, str):
        if value in names:
            return names[value]
        if value.isdigit():
            return int(value)
    raise Invalid(f"{where} must be an enum number or name, got {value!r}")


def _json_id(value: Any, size: int, where: str, what: str, required: bool) -> str | None:
    """Hex (OTLP/JSON) or base64 (protobuf JSON mapping) id -> lowercase hex."""
    if value is None or value == "":
        if required:
            raise Invalid(f"{where}: {what} is missing")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{where}: {what} must be a hex string")
    if len(value) == 2 * size and _HEX.issuperset(value):
        raw = bytes.fromhex(value)
    else:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(
                f"{where}: {what} must be {size} bytes as {2 * size} hex characters"
            ) from None
        if len(raw) != size:
            raise Invalid(f"{where}: {what} must be {size} bytes, got {len(raw)}")
    if raw == bytes(size):
        if not required:
            return None
        raise Invalid(f"{where}: {what} must not be all zeros")
    return raw.hex()


def _json_value(v: Any, where: str) -> Any:
    """Decode an OTLP/JSON AnyValue object."""
    if not isinstance(v, dict):
        if v is None:
            return None
        raise Invalid(f"{where} must be an AnyValue object")
    for key, x in v.items():
        if key in ("stringValue", "string_value"):
            if not isinstance(x, str):
                raise Invalid(f"{where}.stringValue must be a string")
            return x
        if key in ("intValue", "int_value"):
            if type(x) is int:
                return x
            if isinstance(x, str):
                try:
                    return int(x)
                except ValueError:
                    pass
            if isinstance(x, float) and x.is_integer():
                return int(x)
            raise Invalid(f"{where}.intValue must be an integer, got {x!r}")
        if key in ("boolValue", "bool_value"):
            if not isinstance(x, bool):
                raise Invalid(f"{where}.boolValue must be true or false")
            return x
        if key in ("doubleValue", "double_value"):
            if isinstance(x, int | float) and not isinstance(x, bool):
                return _double(float(x))
            if isinstance(x, str):
                try:
                    return _double(float(x))
                except ValueError:
                    pass
            raise Invalid(f"{where}.doubleValue must be a number, got {x!r}")
        if key in ("arrayValue", "array_value"):
            values = _arr(_obj(x, f"{where}.arrayValue").get("values"), f"{where}.arrayValue")
            return [
                _json_value(item, f"{where}.arrayValue.values[{n}]")
                for n, item in enumerate(values)
            ]
        if key in ("kvlistValue", "kvlist_value"):
            values = _arr(_obj(x, f"{where}.kvlistValue").get("values"), f"{where}.kvlistValue")
            return _json_attributes(values, f"{where}.kvlistValue.values")
        if key in ("bytesValue", "bytes_value"):
            if not isinstance(x, str):
                raise Invalid(f"{where}.bytesValue must be a base64 string")
            return x
    return None


def _json_attributes(kvs: Any, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, kv in enumerate(_arr(kvs, where)):
        if not isinstance(kv, dict):
            raise Invalid(f"{where}[{n}] must be an object")
        key = kv.get("key")
        if not isinstance(key, str):
            raise Invalid(f"{where}[{n}].key must be a string")
        value = kv.get("value")
        if type(value) is dict and len(value) == 1:
            x = value.get("stringValue")
            if type(x) is str:
                out[key] = x
                continue
        out[key] = _json_value(value, f"{where}[{n}].value")
    return out


def _json_spans(data: bytes) -> Iterator[SpanIn]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid(f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Invalid("body must be a JSON object with resourceSpans")
    for i, rs in enumerate(_arr(_get(doc, "resourceSpans", "resource_spans"), "resourceSpans")):
        w_rs = f"resourceSpans[{i}]"
        rs = _obj(rs, w_rs)
        resource = _obj(rs.get("resource"), f"{w_rs}.resource")
        resource_attributes = _json_attributes(
            resource.get("attributes"), f"{w_rs}.resource.attributes"
        )
        scope_spans = _get(rs, "scopeSpans", "scope_spans")
        if scope_spans is None:  # OTLP < 0.19
            scope_spans = _get(rs, "instrumentationLibrarySpans", "instrumentation_library_spans")
        for j, ss in enumerate(_arr(scope_spans, f"{w_rs}.scopeSpans")):
            w_ss = f"{w_rs}.scopeSpans[{j}]"
            ss = _obj(ss, w_ss)
            sc = ss.get("scope")
            if sc is None:
                sc = _get(ss, "instrumentationLibrary", "instrumentation_library")
            sc = _obj(sc, f"{w_ss}.scope")
            scope = ScopeIn(
                resource_attributes,
                _str(sc.get("name"), f"{w_ss}.scope.name"),
                _str(sc.get("version"), f"{w_ss}.scope.version"),
                _json_attributes(sc.get("attributes"), f"{w_ss}.scope.attributes"),
            )
            for k, sp in enumerate(_arr(ss.get("spans"), f"{w_ss}.spans")):
                yield _json_span(_obj(sp, f"{w_ss}.spans[{k}]"), scope, f"{w_ss}.spans[{k}]")


def _json_span(sp: dict[str, Any], scope: ScopeIn, where: str) -> SpanIn:
    trace_id = _json_id(_get(sp, "traceId", "trace_id"), 16, where, "traceId", True)
    span_id = _json_id(_get(sp, "spanId", "span_id"), 8, where, "spanId", True)
    parent_id = _json_id(
        _get(sp, "parentSpanId", "parent_span_id"), 8, where, "parentSpanId", False
    )
    assert trace_id is not None and span_id is not None
    events: list[tuple[str, int, dict[str, Any]]] = []
    for n, ev in enumerate(_arr(sp.get("events"), f"{where}.events")):
        w_ev = f"{where}.events[{n}]"
        ev = _obj(ev, w_ev)
        events.append(
            (
                _str(ev.get("name"), f"{w_ev}.name"),
                _uint(_get(ev, "timeUnixNano", "time_unix_nano"), f"{w_ev}.timeUnixNano"),
                _json_attributes(ev.get("attributes"), f"{w_ev}.attributes"),
            )
        )
    links: list[dict[str, Any]] = []
    for n, ln in enumerate(_arr(sp.get("links"), f"{where}.links")):
        w_ln = f"{where}.links[{n}]"
        ln = _obj(ln, w_ln)
        links.append(
            _link(
                _json_id(_get(ln, "traceId", "trace_id"), 16, w_ln, "traceId", False) or "",
                _json_id(_get(ln, "spanId", "span_id"), 8, w_ln, "spanId", False) or "",
                _str(_get(ln, "traceState", "trace_state"), f"{w_ln}.traceState"),
                _json_attributes(ln.get("attributes"), f"{w_ln}.attributes"),
            )
        )
    status = _obj(sp.get("status"), f"{where}.status")
    return SpanIn(
        scope,
        trace_id,
        span_id,
        parent_id,
        _str(sp.get("name"), f"{where}.name"),
        _enum(sp.get("kind"), _KINDS, f"{where}.kind"),
        _uint(_get(sp, "startTimeUnixNano", "start_time_unix_nano"), f"{where}.startTimeUnixNano"),
        _uint(_get(sp, "endTimeUnixNano", "end_time_unix_nano"), f"{where}.endTimeUnixNano"),
        _enum(status.get("code"), _STATUS_CODES, f"{where}.status.code"),
        _str(status.get("message"), f"{where}.status.message"),
        _json_attributes(sp.get("attributes"), f"{where}.attributes"),
        events,
        links,
        _str(_get(sp, "traceState", "trace_state"), f"{where}.traceState"),
    )
