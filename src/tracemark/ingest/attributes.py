"""OTLP span attributes -> Tracemark trace and observation fields.

`build_batch` takes spans already decoded from the wire (`SpanIn`, see `tracemark.ingest.otlp`)
and returns the records of `tracemark.ingest.records`. Nothing here raises on odd attribute
values: a value that does not fit its field is left in the observation's metadata instead.

Precedence, highest first (an attribute becomes a field only if its source wins; every attribute
that did not become a field is kept, see "Metadata" below):

- type: `langfuse.observation.type` > `openinference.span.kind` > `gen_ai.operation.name` >
  GENERATION when the span carries a model, model parameters, usage or cost > SPAN.
  OpenInference kinds LLM->GENERATION, CHAIN, TOOL, RETRIEVER, EMBEDDING, AGENT, GUARDRAIL,
  EVALUATOR map to themselves; RERANKER, PROMPT and UNKNOWN give SPAN (as Langfuse does).
  GenAI: chat/text_completion/generate_content->GENERATION, embeddings->EMBEDDING,
  execute_tool->TOOL, invoke_agent/create_agent->AGENT.
- name: `gen_ai.tool.name` > span name. When the tool name replaces a different span name, the
  span name is kept in metadata "spanName".
- input: `langfuse.observation.input` > `gen_ai.input.messages` (with `gen_ai.system_instructions`
  prepended as `{"role": "system", "parts": [...]}`, or `"content"` when it is not a list) >
  legacy flattened `gen_ai.prompt.N.*` > `llm.input_messages.N.message.*` when the type is
  GENERATION (the chat is more useful than OpenInference's serialized request body) >
  `input.value` > `llm.input_messages.*` (other types) > `gen_ai.tool.call.arguments` > span events
  `gen_ai.{system,user,assistant,tool}.message` / `gen_ai.content.prompt`. Output likewise with
  `langfuse.observation.output`, `gen_ai.output.messages`, `gen_ai.completion.N.*`,
  `llm.output_messages.*`, `output.value`, `gen_ai.tool.call.result`, events `gen_ai.choice` /
  `gen_ai.content.completion`. Flattened message lists keep every sub-key as nested dicts, with
  all-numeric levels (`tool_calls.0...`) turned into lists; OpenInference's leading `message.`
  is dropped. `input.value`/`output.value` are parsed as JSON when their mime type is
  application/json or the text looks like a JSON object/array, else kept as text.
- model: `langfuse.observation.model.name` > `gen_ai.response.model` > `gen_ai.request.model` >
  `llm.model_name`. Model parameters (first source present wins whole):
  `langfuse.observation.model.parameters` > `gen_ai.request.*` (key without prefix) >
  `llm.invocation_parameters` (JSON) or flattened `llm.invocation_parameters.*`. Dict values
  become JSON text, nulls are dropped.
- usage_details (first source wins whole): `langfuse.observation.usage_details` (kept verbatim:
  the SDK's keys are free-form) > `gen_ai.usage.*` > `llm.token_count.*`. Canonical keys for the
  conventions: "input", "output", "total", "input_cached_tokens" (cache reads),
  "input_cache_creation_tokens" (cache writes), "input_audio_tokens", "output_reasoning_tokens",
  "output_audio_tokens". GenAI input_tokens/output_tokens win over the legacy
  prompt_tokens/completion_tokens; other `gen_ai.usage.<suffix>` keep their suffix;
  OpenInference `prompt_details.X`/`completion_details.X` become `input_X`/`output_X`.
  Only numbers are kept (numeric strings are converted).
- cost_details: `langfuse.observation.cost_details` > `llm.cost.*` (prompt->input,
  completion->output, total, `*_details.X` as for usage); `gen_ai.usage.cost` fills "total"
  when nothing else did.
- level/status_message: `langfuse.observation.level`/`.status_message` > OTLP status (code ERROR
  -> level ERROR; a non-empty status message becomes status_message whatever the code).
- version: observation `langfuse.version` (span) > resource `langfuse.version` > resource
  `service.version`; trace version only from `langfuse.version` (span, else resource).
- environment: span `langfuse.environment` > resource `langfuse.environment` >
  `deployment.environment.name` > `deployment.environment` (resource); set on the observation
  and the trace. release: span `langfuse.release` > resource `langfuse.release` (trace only).
- trace: name only from `langfuse.trace.name` (never from span names: storage falls back to the
  root span's name), user_id `langfuse.user.id` > `user.id`, session_id `langfuse.session.id`
  > `session.id` > `gen_ai.conversation.id`, tags `langfuse.trace.tags` > `langfuse.tags` >
  `tag.tags`, public `langfuse.trace.public`, input/output `langfuse.trace.input/output` (v3/v4;
  trace I/O is otherwise left to storage, which derives it from the root observation),
  metadata from `langfuse.trace.metadata[.<key>]`, plus OpenInference `metadata` of a root span
  (no parent span id), the Langfuse keys winning. No trace timestamp: OTLP has none (storage
  takes the earliest observation start).
  One TraceUpsert per trace id in the request, in order of first appearance, merging its spans
  in span order (scalars: the later span wins, except that values coming from resource
  fallbacks never override a span's own value; metadata merged by key; tags unioned).
  `langfuse.internal.as_root` does not change the parent: the parent span id is kept as sent.

JSON-ish values (`langfuse.*` strings, metadata values, trace I/O) are decoded as JSON when they
hold a complete JSON text and kept as the raw string otherwise: v5 JSON-encodes metadata values
(`"\\"acme\\""` -> "acme"), v3/v4 send them raw (`acme` -> "acme"; but a raw `5` becomes 5, the
format cannot tell). JSON's missing NaN/Infinity are refused (the text stays a string) and OTLP
doubleValue NaN/+-inf become the strings "NaN"/"Infinity"/"-Infinity"; only an out-of-range
literal such as 1e400 inside a JSON text still decodes to inf (checking every float would need
a Python callback per number).

Metadata of an observation: OpenInference `metadata` (JSON object, merged by key; a non-object
goes under "metadata"), then `langfuse.observation.metadata` / `.metadata.<key>` on top, then
these reserved keys unless the app already used the name: "attributes" (every span attribute
that did not become a field, including `langfuse.internal.*`, decoded), "resourceAttributes",
"scope" ({name, version, attributes}), "exceptions" (from `exception` events: type, message,
stacktrace, escaped, time), "events" (other events not used as input/output: name, time,
attributes), "links", "spanKind" (only when not INTERNAL/UNSPECIFIED), "traceState",
"spanName". So nothing the app sent is lost. Within one batch, nested values of those reserved
keys (resource and scope attribute values) may be shared between records: treat records as
read-only, or copy before mutating nested values.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tracemark.ingest.records import (
    Batch,
    Level,
    ObservationType,
    ObservationUpsert,
    TraceUpsert,
)

__all__ = ["ScopeIn", "SpanIn", "build_batch", "json_or_raw", "ns_to_datetime"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_fromtimestamp = datetime.fromtimestamp

STATUS_ERROR = 2
_KIND_NAMES = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


class ScopeIn:
    """What every span of one resource + instrumentation scope shares (computed once)."""

    __slots__ = (
        "environment",
        "release",
        "resource_attributes",
        "scope",
        "trace_version",
        "version",
    )

    def __init__(
        self,
        resource_attributes: dict[str, Any],
        scope_name: str,
        scope_version: str,
        scope_attributes: dict[str, Any],
    ) -> None:
        self.resource_attributes = resource_attributes
        scope: dict[str, Any] = {}
        if scope_name:
            scope["name"] = scope_name
        if scope_version:
            scope["version"] = scope_version
        if scope_attributes:
            scope["attributes"] = scope_attributes
        self.scope = scope
        r = resource_attributes
        self.environment = _first_str(
            r, "langfuse.environment", "deployment.environment.name", "deployment.environment"
        )
        self.release = _first_str(r, "langfuse.release")
        self.trace_version = _first_str(r, "langfuse.version")
        self.version = self.trace_version or _first_str(r, "service.version")


class SpanIn:
    """One span as decoded from the wire, ids already lowercase hex."""

    __slots__ = (
        "attributes",
        "end_ns",
        "events",
        "kind",
        "links",
        "name",
        "parent_id",
        "scope",
        "span_id",
        "start_ns",
        "status_code",
        "status_message",
        "trace_id",
        "trace_state",
    )

    def __init__(
        self,
        scope: ScopeIn,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        name: str,
        kind: int,
        start_ns: int,
        end_ns: int,
        status_code: int,
        status_message: str,
        attributes: dict[str, Any],
        events: list[tuple[str, int, dict[str, Any]]],
        links: list[dict[str, Any]],
        trace_state: str,
    ) -> None:
        self.scope = scope
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.name = name
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.status_code = status_code
        self.status_message = status_message
        self.attributes = attributes
        self.events = events
        self.links = links
        self.trace_state = trace_state


# --- value helpers ------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


# NaN/Infinity are not JSON: such text stays a string. (A float literal too large for a double,
# 1e400, still decodes to inf: catching it needs a Python callback per float, too slow here.)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# The C scanner behind json.loads, called directly: json.loads adds two regex matches and a
# couple of Python frames per call, which is most of the cost for short values.
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]
_orjson_loads = orjson.loads
_OrjsonDecodeError = orjson.JSONDecodeError
_JSON_FIRST = frozenset('{["-0123456789tfn')
_JSON_WS = frozenset(" \t\r\n")
_JSON_STRUCT_FIRST = frozenset("{[")


def _loads(value: str) -> Any:
    """Decode a complete JSON text; raise ValueError if `value` is not one.

    orjson first (several times faster on chat messages); what it refuses and the standard
    library accepts (integers beyond 64 bits, lone surrogates) goes the standard way, which
    also refuses NaN and Infinity as orjson does.
    """
    try:
        return _orjson_loads(value)
    except _OrjsonDecodeError:
        pass
    if value[0] in _JSON_WS:
        return _DECODER.decode(value)
    try:
        obj, end = _scan(value, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    if end != len(value) and value[end:].strip(" \t\r\n"):
        raise ValueError("trailing data after JSON")
    return obj


def json_or_raw(value: Any) -> Any:
    """`value` decoded as JSON if it is a string that holds JSON, else `value` unchanged."""
    if type(value) is not str or not value:
        return value
    if value[0] in _JSON_FIRST or value[0] in _JSON_WS:
        try:
            return _loads(value)
        except ValueError:
            return value
    return value


def _json_struct(value: Any) -> Any:
    """Like json_or_raw, but only objects and arrays are decoded ("42" stays text)."""
    if type(value) is str and value and value[0] in _JSON_STRUCT_FIRST:
        try:
            return _loads(value)
        except ValueError:
            return value
    return value


_FLOAT_EXACT_US = 2**53  # microseconds below this (year 2255) survive a float exactly


def ns_to_datetime(ns: int) -> datetime:
    """Aware UTC datetime from unix nanoseconds, truncated to microseconds."""
    us = ns // 1000
    if us < _FLOAT_EXACT_US:
        # Exact: the float is within 0.25 us of `us`, and fromtimestamp rounds to the nearest
        # microsecond. Twice as fast as adding a timedelta.
        return _fromtimestamp(us / 1e6, UTC)
    return _EPOCH + timedelta(microseconds=us)


def _iso(ns: int) -> str:
    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


def _as_str(value: Any) -> str | None:
    """A non-empty string, or an int rendered as one (ids are sometimes sent as ints)."""
    t = type(value)
    if t is str:
        return value if value else None
    if t is int:
        return str(value)
    return None


def _first_str(attrs: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        v = _as_str(attrs.get(key))
        if v is not None:
            return v
    return None


def _pop_str(a: dict[str, Any], *keys: str) -> str | None:
    """Remove and return the first of `keys` holding a usable string; leave the others."""
    for key in keys:
        if key in a:
            v = _as_str(a[key])
            if v is not None:
                del a[key]
                return v
    return None


def _number(value: Any) -> int | float | None:
    t = type(value)
    if t is int:
        return value  # type: ignore[no-any-return]
    if t is float:
        return value if value - value == 0.0 else None
    if t is str:
        try:
            return int(value)
        except ValueError:
            try:
                f = float(value)
            except ValueError:
                return None
            return f if f - f == 0.0 else None
    return None


def _numbers(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        n = _number(v)
        if n is not None:
            out[k] = n
    return out


def _param_value(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def _params(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _param_value(v) for k, v in d.items() if v is not None}


def _datetime(value: Any) -> datetime | None:
    if type(value) is not str:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _tags(value: Any) -> list[str] | None:
    if type(value) is list and all(type(item) is str and item for item in value):
        return list(dict.fromkeys(value))  # the usual arrayValue of strings, deduplicated
    if type(value) is str:
        value = _json_struct(value)
        if type(value) is str:
            return [value] if value else None
    if not isinstance(value, list):
        return None
    out: list[str] = []
    for item in value:
        s = item if type(item) is str else _as_str(item)
        if s and s not in out:
            out.append(s)
    return out


def _bool(value: Any) -> bool | None:
    if type(value) is bool:
        return value
    if type(value) is str:
        low = value.lower()
        if low == "true":
            return True
        if low == "false":
            return False
    return None


def _set_path(node: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {} if child is None else {"value": child}
            node[part] = child
        node = child
    last = parts[-1]
    if isinstance(node.get(last), dict):
        node[last]["value"] = value
    else:
        node[last] = value


def _listify(node: Any) -> Any:
    """Nested dicts whose keys are all indexes become lists, in index order."""
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


_MAX_MESSAGE_DEPTH = 32  # deeper flattened keys stay plain attributes


def _flat_messages(
    a: dict[str, Any], keys: list[str], prefix_len: int, strip: str
) -> list[Any] | None:
    """`gen_ai.prompt.0.role`-style keys -> [{"role": ...}, ...]; the used keys are removed."""
    by_index: dict[int, dict[str, Any]] = {}
    used: list[str] = []
    nested = False
    strip_len = len(strip)
    for key in keys:
        rest = key[prefix_len:]
        dot = rest.find(".")
        if dot <= 0:
            continue
        idx = rest[:dot]
        if not idx.isdigit():
            continue
        sub = rest[dot + 1 :]
        if strip_len and sub.startswith(strip):
            sub = sub[strip_len:]
        if not sub or sub.count(".") > _MAX_MESSAGE_DEPTH:
            continue
        i = int(idx)
        msg = by_index.get(i)
        if msg is None:
            msg = by_index[i] = {}
        if "." in sub:
            _set_path(msg, sub.split("."), a[key])
            nested = True
        elif isinstance(msg.get(sub), dict):
            msg[sub]["value"] = a[key]
        else:
            msg[sub] = a[key]
        used.append(key)
    if not by_index:
        return None
    for key in used:
        del a[key]
    if nested:
        return [_listify(by_index[i]) for i in sorted(by_index)]
    return [by_index[i] for i in sorted(by_index)]


# --- attribute tables ---------------------------------------------------------------------

# Sections: which group of exact keys a span uses, so absent conventions cost nothing.
_S_LF = 1
_S_TRACE = 2
_S_GENAI = 4
_S_OI = 8

_LF_TYPE = "langfuse.observation.type"
_LF_INPUT = "langfuse.observation.input"
_LF_OUTPUT = "langfuse.observation.output"
_LF_METADATA = "langfuse.observation.metadata"
_LF_LEVEL = "langfuse.observation.level"
_LF_STATUS = "langfuse.observation.status_message"
_LF_MODEL = "langfuse.observation.model.name"
_LF_PARAMS = "langfuse.observation.model.parameters"
_LF_USAGE = "langfuse.observation.usage_details"
_LF_COST = "langfuse.observation.cost_details"
_LF_CST = "langfuse.observation.completion_start_time"
_LF_PROMPT_NAME = "langfuse.observation.prompt.name"
_LF_PROMPT_VERSION = "langfuse.observation.prompt.version"

_EXACT: dict[str, int] = {
    **dict.fromkeys(
        (
            _LF_TYPE,
            _LF_INPUT,
            _LF_OUTPUT,
            _LF_METADATA,
            _LF_LEVEL,
            _LF_STATUS,
            _LF_MODEL,
            _LF_PARAMS,
            _LF_USAGE,
            _LF_COST,
            _LF_CST,
            _LF_PROMPT_NAME,
            _LF_PROMPT_VERSION,
        ),
        _S_LF,
    ),
    **dict.fromkeys(
        (
            "langfuse.trace.name",
            "langfuse.user.id",
            "user.id",
            "langfuse.session.id",
            "session.id",
            "gen_ai.conversation.id",
            "langfuse.trace.tags",
            "langfuse.tags",
            "tag.tags",
            "langfuse.trace.public",
            "langfuse.trace.metadata",
            "langfuse.trace.input",
            "langfuse.trace.output",
            "langfuse.environment",
            "langfuse.release",
            "langfuse.version",
        ),
        _S_TRACE,
    ),
    **dict.fromkeys(
        (
            "gen_ai.operation.name",
            "gen_ai.response.model",
            "gen_ai.request.model",
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
            "gen_ai.tool.name",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "gen_ai.usage.cost",
        ),
        _S_GENAI,
    ),
    **dict.fromkeys(
        (
            "openinference.span.kind",
            "input.value",
            "input.mime_type",
            "output.value",
            "output.mime_type",
            "llm.model_name",
            "llm.invocation_parameters",
            "metadata",
        ),
        _S_OI,
    ),
}

# Prefix groups, found by the text up to and including the second dot.
_G_LANGFUSE = 1  # resolved further to one of the two below
_G_LF_OBS_MD = 2
_G_LF_TRACE_MD = 3
_G_GENAI_REQUEST = 4
_G_GENAI_USAGE = 5
_G_GENAI_PROMPT = 6
_G_GENAI_COMPLETION = 7
_G_OI_INPUT_MESSAGES = 8
_G_OI_OUTPUT_MESSAGES = 9
_G_OI_TOKENS = 10
_G_OI_COST = 11
_G_OI_PARAMS = 12

_LF_OBS_MD_PREFIX = "langfuse.observation.metadata."
_LF_TRACE_MD_PREFIX = "langfuse.trace.metadata."

_PREFIXES: dict[str, int] = {
    "langfuse.observation.": _G_LANGFUSE,
    "langfuse.trace.": _G_LANGFUSE,
    "gen_ai.request.": _G_GENAI_REQUEST,
    "gen_ai.usage.": _G_GENAI_USAGE,
    "gen_ai.prompt.": _G_GENAI_PROMPT,
    "gen_ai.completion.": _G_GENAI_COMPLETION,
    "llm.input_messages.": _G_OI_INPUT_MESSAGES,
    "llm.output_messages.": _G_OI_OUTPUT_MESSAGES,
    "llm.token_count.": _G_OI_TOKENS,
    "llm.cost.": _G_OI_COST,
    "llm.invocation_parameters.": _G_OI_PARAMS,
}
_PREFIX_LEN = {
    _G_LF_OBS_MD: len(_LF_OBS_MD_PREFIX),
    _G_LF_TRACE_MD: len(_LF_TRACE_MD_PREFIX),
    **{g: len(p) for p, g in _PREFIXES.items() if g != _G_LANGFUSE},
}

_LF_TYPES = {t.value.lower(): t.value for t in ObservationType}
_LEVELS = {lv.value: lv.value for lv in Level}
_OI_KINDS = {
    "LLM": ObservationType.GENERATION.value,
    "CHAIN": ObservationType.CHAIN.value,
    "TOOL": ObservationType.TOOL.value,
    "RETRIEVER": ObservationType.RETRIEVER.value,
    "EMBEDDING": ObservationType.EMBEDDING.value,
    "AGENT": ObservationType.AGENT.value,
    "GUARDRAIL": ObservationType.GUARDRAIL.value,
    "EVALUATOR": ObservationType.EVALUATOR.value,
    "RERANKER": ObservationType.SPAN.value,
    "PROMPT": ObservationType.SPAN.value,
    "UNKNOWN": ObservationType.SPAN.value,
}
_GENAI_OPERATIONS = {
    "chat": ObservationType.GENERATION.value,
    "text_completion": ObservationType.GENERATION.value,
    "generate_content": ObservationType.GENERATION.value,
    "embeddings": ObservationType.EMBEDDING.value,
    "execute_tool": ObservationType.TOOL.value,
    "invoke_agent": ObservationType.AGENT.value,
    "create_agent": ObservationType.AGENT.value,
}
_GENERATION = ObservationType.GENERATION.value
_SPAN = ObservationType.SPAN.value

# gen_ai.usage.<suffix> -> (usage key, primary?). Legacy names only fill a key left empty.
_GENAI_USAGE = {
    "input_tokens": ("input", True),
    "output_tokens": ("output", True),
    "total_tokens": ("total", True),
    "prompt_tokens": ("input", False),
    "completion_tokens": ("output", False),
    "cache_read.input_tokens": ("input_cached_tokens", True),
    "cache_read_input_tokens": ("input_cached_tokens", False),
    "cache_creation.input_tokens": ("input_cache_creation_tokens", True),
    "cache_creation_input_tokens": ("input_cache_creation_tokens", False),
    "reasoning.output_tokens": ("output_reasoning_tokens", True),
    "reasoning_tokens": ("output_reasoning_tokens", False),
}
_OI_TOKENS = {
    "prompt": "input",
    "completion": "output",
    "total": "total",
    "prompt_details.cache_read": "input_cached_tokens",
    "prompt_details.cache_write": "input_cache_creation_tokens",
    "prompt_details.audio": "input_audio_tokens",
    "completion_details.reasoning": "output_reasoning_tokens",
    "completion_details.audio": "output_audio_tokens",
}
_OI_COST = {"prompt": "input", "completion": "output", "total": "total"}

_EVENT_INPUT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def _oi_key(suffix: str, table: dict[str, str], tokens: bool) -> str:
    key = table.get(suffix)
    if key is not None:
        return key
    head, _, rest = suffix.partition("_details.")
    if rest and head in ("prompt", "completion"):
        key = ("input_" if head == "prompt" else "output_") + rest.replace(".", "_")
        if tokens and not key.endswith("tokens"):
            key += "_tokens"
        return key
    return suffix.replace(".", "_")


# --- the mapping --------------------------------------------------------------------------


def _classify(a: dict[str, Any]) -> tuple[int, dict[int, list[str]]]:
    """Which exact-key sections a span uses, and its prefixed keys by group.

    Spans from one instrumentation repeat the same keys in the same order, so the answer is
    cached by the key sequence. The cached group lists are shared: callers only read them.
    """
    signature = tuple(a)
    hit = _CLASSIFIED.get(signature)
    if hit is not None:
        return hit
    sections = 0
    groups: dict[int, list[str]] = {}
    exact = _EXACT
    prefixes = _PREFIXES
    for key in signature:
        s = exact.get(key)
        if s is not None:
            sections |= s
            continue
        i = key.find(".")
        if i < 0:
            continue
        j = key.find(".", i + 1)
        if j < 0:
            continue
        g = prefixes.get(key[: j + 1])
        if g is None:
            continue
        if g == _G_LANGFUSE:
            if key.startswith(_LF_OBS_MD_PREFIX):
                g = _G_LF_OBS_MD
            elif key.startswith(_LF_TRACE_MD_PREFIX):
                g = _G_LF_TRACE_MD
            else:
                continue
        lst = groups.get(g)
        if lst is None:
            groups[g] = [key]
        else:
            lst.append(key)
    if len(_CLASSIFIED) >= _CLASSIFIED_MAX:
        _CLASSIFIED.clear()
    result = _CLASSIFIED[signature] = (sections, groups)
    return result


_CLASSIFIED: dict[tuple[str, ...], tuple[int, dict[int, list[str]]]] = {}
_CLASSIFIED_MAX = 2048


def _metadata_value(md: dict[str, Any], value: Any) -> None:
    """Merge a whole-metadata value: an object by key, anything else under "metadata"."""
    if isinstance(value, dict):
        md.update(value)
    elif value is not None:
        md["metadata"] = value


def _event_message(role: str, attrs: dict[str, Any]) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": role}
    for k, v in attrs.items():
        if k != "gen_ai.system":
            msg[k] = _json_struct(v)
    return msg


def _choice(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    message = _json_struct(attrs.get("message"))
    if isinstance(message, dict):
        out.update(message)
    elif message is not None:
        out["message"] = message
    for k, v in attrs.items():
        if k != "message" and k != "gen_ai.system" and k not in out:
            out[k] = v
    return out


def _map_span(sp: SpanIn) -> tuple[ObservationUpsert, dict[str, Any], dict[str, Any]]:
    """One span -> its observation, plus strong and weak (resource-derived) trace fields."""
    a = sp.attributes
    ctx = sp.scope
    obs: dict[str, Any] = {}
    trace: dict[str, Any] = {}
    weak: dict[str, Any] = {}
    user_md: dict[str, Any] = {}
    obs_type: str | None = None
    name = sp.name
    span_name: str | None = None
    is_root = sp.parent_id is None
    sections, groups = _classify(a) if a else (0, {})

    # -- Langfuse observation keys ---------------------------------------------------------
    if sections & _S_LF:
        v = a.get(_LF_TYPE)
        if type(v) is str and v.lower() in _LF_TYPES:
            obs_type = _LF_TYPES[v.lower()]
            del a[_LF_TYPE]
        if _LF_INPUT in a:
            obs["input"] = json_or_raw(a.pop(_LF_INPUT))
        if _LF_OUTPUT in a:
            obs["output"] = json_or_raw(a.pop(_LF_OUTPUT))
        if _LF_METADATA in a:
            _metadata_value(user_md, json_or_raw(a.pop(_LF_METADATA)))
        v = a.get(_LF_LEVEL)
        if type(v) is str and v.upper() in _LEVELS:
            obs["level"] = _LEVELS[v.upper()]
            del a[_LF_LEVEL]
        v = a.get(_LF_STATUS)
        if type(v) is str and v:
            obs["status_message"] = v
            del a[_LF_STATUS]
        v = a.get(_LF_MODEL)
        if type(v) is str and v:
            obs["model"] = v
            del a[_LF_MODEL]
        if _LF_PARAMS in a:
            v = json_or_raw(a[_LF_PARAMS])
            if type(v) is dict:
                obs["model_parameters"] = _params(v)
                del a[_LF_PARAMS]
        if _LF_USAGE in a:
            v = json_or_raw(a[_LF_USAGE])
            if type(v) is dict:
                obs["usage_details"] = _numbers(v)
                del a[_LF_USAGE]
        if _LF_COST in a:
            v = json_or_raw(a[_LF_COST])
            if type(v) is dict:
                obs["cost_details"] = _numbers(v)
                del a[_LF_COST]
        if _LF_CST in a:
            dt = _datetime(json_or_raw(a[_LF_CST]))
            if dt is not None:
                obs["completion_start_time"] = dt
                del a[_LF_CST]
        v = a.get(_LF_PROMPT_NAME)
        if type(v) is str and v:
            obs["prompt_name"] = v
            del a[_LF_PROMPT_NAME]
        v = a.get(_LF_PROMPT_VERSION)
        if v is not None and type(v) is not bool:
            n = _number(v)
            if type(n) is int:
                obs["prompt_version"] = n
                del a[_LF_PROMPT_VERSION]
    keys = groups.get(_G_LF_OBS_MD)
    if keys:
        plen = _PREFIX_LEN[_G_LF_OBS_MD]
        for key in keys:
            user_md[key[plen:]] = json_or_raw(a.pop(key))

    # -- trace-level keys --------------------------------------------------------------------
    trace_md: dict[str, Any] = {}
    version: str | None = None
    environment: str | None = None
    if sections & _S_TRACE:
        v = a.get("langfuse.trace.name")
        if type(v) is str and v:
            trace["name"] = v
            del a["langfuse.trace.name"]
        v = a.get("user.id")
        if type(v) is str and v and "langfuse.user.id" not in a:
            trace["user_id"] = v
            del a["user.id"]
        else:
            s = _pop_str(a, "langfuse.user.id", "user.id")
            if s is not None:
                trace["user_id"] = s
        v = a.get("session.id")
        if type(v) is str and v and "langfuse.session.id" not in a:
            trace["session_id"] = v
            del a["session.id"]
        else:
            s = _pop_str(a, "langfuse.session.id", "session.id", "gen_ai.conversation.id")
            if s is not None:
                trace["session_id"] = s
        for key in ("langfuse.trace.tags", "langfuse.tags", "tag.tags"):
            if key in a:
                tags = _tags(a[key])
                if tags is not None:
                    trace["tags"] = tags
                    del a[key]
                    break
        if "langfuse.trace.public" in a:
            b = _bool(a["langfuse.trace.public"])
            if b is not None:
                trace["public"] = b
                del a["langfuse.trace.public"]
        if "langfuse.trace.metadata" in a:
            _metadata_value(trace_md, json_or_raw(a.pop("langfuse.trace.metadata")))
        if "langfuse.trace.input" in a:
            trace["input"] = json_or_raw(a.pop("langfuse.trace.input"))
        if "langfuse.trace.output" in a:
            trace["output"] = json_or_raw(a.pop("langfuse.trace.output"))
        v = a.get("langfuse.environment")
        if type(v) is str and v:
            environment = v
            del a["langfuse.environment"]
        v = a.get("langfuse.release")
        if type(v) is str and v:
            trace["release"] = v
            del a["langfuse.release"]
        v = a.get("langfuse.version")
        if type(v) is str and v:
            version = v
            del a["langfuse.version"]
    keys = groups.get(_G_LF_TRACE_MD)
    if keys:
        plen = _PREFIX_LEN[_G_LF_TRACE_MD]
        for key in keys:
            trace_md[key[plen:]] = json_or_raw(a.pop(key))

    if environment is not None:
        obs["environment"] = trace["environment"] = environment
    elif ctx.environment is not None:
        obs["environment"] = weak["environment"] = ctx.environment
    if "release" not in trace and ctx.release is not None:
        weak["release"] = ctx.release
    if version is not None:
        obs["version"] = trace["version"] = version
    else:
        if ctx.version is not None:
            obs["version"] = ctx.version
        if ctx.trace_version is not None:
            weak["version"] = ctx.trace_version

    # -- conventions: type, model, parameters, usage, cost ----------------------------------
    genai = sections & _S_GENAI
    oi = sections & _S_OI
    if obs_type is None and oi:
        v = a.get("openinference.span.kind")
        if type(v) is str and v.upper() in _OI_KINDS:
            obs_type = _OI_KINDS[v.upper()]
            del a["openinference.span.kind"]
    if obs_type is None and genai:
        v = a.get("gen_ai.operation.name")
        if type(v) is str and v in _GENAI_OPERATIONS:
            obs_type = _GENAI_OPERATIONS[v]
            del a["gen_ai.operation.name"]
    if "model" not in obs:
        s = None
        if genai:
            s = _pop_str(a, "gen_ai.response.model", "gen_ai.request.model")
        if s is None and oi:
            s = _pop_str(a, "llm.model_name")
        if s is not None:
            obs["model"] = s
    if groups:
        if "model_parameters" not in obs:
            keys = groups.get(_G_GENAI_REQUEST)
            if keys:
                plen = _PREFIX_LEN[_G_GENAI_REQUEST]
                obs["model_parameters"] = _params({k[plen:]: a.pop(k) for k in keys})
        if "usage_details" not in obs:
            keys = groups.get(_G_GENAI_USAGE)
            if keys:
                usage = _genai_usage(a, keys)
                if usage:
                    obs["usage_details"] = usage
        if "usage_details" not in obs:
            keys = groups.get(_G_OI_TOKENS)
            if keys:
                usage = _oi_numbers(a, keys, _PREFIX_LEN[_G_OI_TOKENS], _OI_TOKENS, True)
                if usage:
                    obs["usage_details"] = usage
        if "cost_details" not in obs:
            keys = groups.get(_G_OI_COST)
            if keys:
                cost = _oi_numbers(a, keys, _PREFIX_LEN[_G_OI_COST], _OI_COST, False)
                if cost:
                    obs["cost_details"] = cost
    if "model_parameters" not in obs and oi and "llm.invocation_parameters" in a:
        v = json_or_raw(a["llm.invocation_parameters"])
        if isinstance(v, dict):
            obs["model_parameters"] = _params(v)
            del a["llm.invocation_parameters"]
    if "model_parameters" not in obs:
        keys = groups.get(_G_OI_PARAMS)
        if keys:
            plen = _PREFIX_LEN[_G_OI_PARAMS]
            obs["model_parameters"] = _params({k[plen:]: json_or_raw(a.pop(k)) for k in keys})
    if genai and "gen_ai.usage.cost" in a:
        cost_details = obs.get("cost_details")
        if cost_details is None or "total" not in cost_details:
            n = _number(a["gen_ai.usage.cost"])
            if n is not None:
                del a["gen_ai.usage.cost"]
                if cost_details is None:
                    obs["cost_details"] = {"total": n}
                else:
                    cost_details["total"] = n
    if obs_type is None:
        if (
            "model" in obs
            or "usage_details" in obs
            or "cost_details" in obs
            or "model_parameters" in obs
        ):
            obs_type = _GENERATION
        else:
            obs_type = _SPAN
    obs["type"] = obs_type

    # -- input / output ------------------------------------------------------------------------
    if genai or oi or groups:
        if "input" not in obs:
            _convention_io(a, groups, obs, obs_type, genai, oi, True)
        if "output" not in obs:
            _convention_io(a, groups, obs, obs_type, genai, oi, False)
        if genai:
            s = _pop_str(a, "gen_ai.tool.name")
            if s is not None:
                if name and name != s:
                    span_name = name
                name = s

    # -- OpenInference metadata ------------------------------------------------------------------
    md: dict[str, Any] = {}
    if oi and "metadata" in a:
        oi_md: dict[str, Any] = {}
        _metadata_value(oi_md, json_or_raw(a.pop("metadata")))
        md.update(oi_md)
        if is_root and oi_md:
            trace_md = {**oi_md, **trace_md}
    if trace_md:
        trace["metadata"] = trace_md

    # -- level from status -------------------------------------------------------------------------
    if sp.status_code == STATUS_ERROR and "level" not in obs:
        obs["level"] = Level.ERROR.value
    if sp.status_message and "status_message" not in obs:
        obs["status_message"] = sp.status_message

    # -- events ------------------------------------------------------------------------------------
    exceptions, events = _events(sp.events, obs) if sp.events else (None, None)

    # -- the rest ----------------------------------------------------------------------------------
    if name:
        obs["name"] = name
    if sp.parent_id is not None:
        obs["parent_observation_id"] = sp.parent_id
    ns = sp.start_ns
    if ns:
        us = ns // 1000
        obs["start_time"] = (
            _fromtimestamp(us / 1e6, UTC) if us < _FLOAT_EXACT_US else ns_to_datetime(ns)
        )
    ns = sp.end_ns
    if ns:
        us = ns // 1000
        obs["end_time"] = (
            _fromtimestamp(us / 1e6, UTC) if us < _FLOAT_EXACT_US else ns_to_datetime(ns)
        )

    md.update(user_md)
    if a and "attributes" not in md:
        md["attributes"] = a
    if ctx.resource_attributes and "resourceAttributes" not in md:
        md["resourceAttributes"] = dict(ctx.resource_attributes)
    if ctx.scope and "scope" not in md:
        md["scope"] = dict(ctx.scope)
    if exceptions and "exceptions" not in md:
        md["exceptions"] = exceptions
    if events and "events" not in md:
        md["events"] = events
    if sp.links and "links" not in md:
        md["links"] = sp.links
    if sp.kind in _KIND_NAMES and "spanKind" not in md:
        md["spanKind"] = _KIND_NAMES[sp.kind]
    if sp.trace_state and "traceState" not in md:
        md["traceState"] = sp.trace_state
    if span_name is not None and "spanName" not in md:
        md["spanName"] = span_name
    if md:
        obs["metadata"] = md
    return ObservationUpsert(sp.span_id, sp.trace_id, obs), trace, weak


def _genai_usage(a: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """`gen_ai.usage.*` -> usage details; a legacy key only fills a key the current one left."""
    plen = _PREFIX_LEN[_G_GENAI_USAGE]
    usage: dict[str, Any] = {}
    legacy: list[tuple[str, str]] = []
    for key in keys:
        suffix = key[plen:]
        target, primary = _GENAI_USAGE.get(suffix, (suffix, True))
        if not primary:
            legacy.append((key, target))
            continue
        n = _number(a[key])
        if n is not None:
            usage[target] = n
            del a[key]
    for key, target in legacy:
        if target not in usage:
            n = _number(a[key])
            if n is not None:
                usage[target] = n
                del a[key]
    return usage


def _oi_numbers(
    a: dict[str, Any], keys: list[str], plen: int, table: dict[str, str], tokens: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        n = _number(a[key])
        if n is not None:
            out[_oi_key(key[plen:], table, tokens)] = n
            del a[key]
    return out


def _system_message(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {"role": "system", "parts": value}
    return {"role": "system", "content": value}


def _convention_io(
    a: dict[str, Any],
    groups: dict[int, list[str]],
    obs: dict[str, Any],
    obs_type: str,
    genai: int,
    oi: int,
    is_input: bool,
) -> None:
    """Fill obs["input"] (or ["output"]) from the first convention present, in precedence order."""
    field = "input" if is_input else "output"
    if genai:
        if is_input:
            has_messages = "gen_ai.input.messages" in a
            has_system = "gen_ai.system_instructions" in a
            if has_messages or has_system:
                messages = json_or_raw(a.pop("gen_ai.input.messages", None))
                if has_system:
                    system = _system_message(json_or_raw(a.pop("gen_ai.system_instructions")))
                    if isinstance(messages, list):
                        messages = [system, *messages]
                    elif messages is None:
                        messages = [system]
                    else:
                        messages = [system, messages]
                obs[field] = messages
                return
        elif "gen_ai.output.messages" in a:
            obs[field] = json_or_raw(a.pop("gen_ai.output.messages"))
            return
        # (legacy flattened keys are a prefix group, handled below even without `genai`)
    g = _G_GENAI_PROMPT if is_input else _G_GENAI_COMPLETION
    keys = groups.get(g)
    if keys:
        messages_list = _flat_messages(a, keys, _PREFIX_LEN[g], "")
        if messages_list is not None:
            obs[field] = messages_list
            return
    g = _G_OI_INPUT_MESSAGES if is_input else _G_OI_OUTPUT_MESSAGES
    oi_keys = groups.get(g)
    if oi_keys and obs_type == _GENERATION:
        messages_list = _flat_messages(a, oi_keys, _PREFIX_LEN[g], "message.")
        if messages_list is not None:
            obs[field] = messages_list
            return
    if oi:
        value_key = "input.value" if is_input else "output.value"
        if value_key in a:
            mime_key = "input.mime_type" if is_input else "output.mime_type"
            value = a.pop(value_key)
            mime = a.pop(mime_key, None)
            if type(mime) is str and "json" in mime.lower():
                obs[field] = json_or_raw(value)
            else:
                obs[field] = _json_struct(value)
            return
    if oi_keys:
        messages_list = _flat_messages(a, oi_keys, _PREFIX_LEN[g], "message.")
        if messages_list is not None:
            obs[field] = messages_list
            return
    if genai:
        tool_key = "gen_ai.tool.call.arguments" if is_input else "gen_ai.tool.call.result"
        if tool_key in a:
            obs[field] = json_or_raw(a.pop(tool_key))


def _events(
    events: list[tuple[str, int, dict[str, Any]]], obs: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Use GenAI message events as input/output when still unset; return the exceptions and
    the remaining events for the metadata."""
    exceptions: list[dict[str, Any]] = []
    inputs: list[int] = []
    outputs: list[int] = []
    prompt_event = completion_event = -1
    for i, (ev_name, _t, _attrs) in enumerate(events):
        if ev_name == "exception":
            continue
        if ev_name in _EVENT_INPUT_ROLES:
            inputs.append(i)
        elif ev_name == "gen_ai.choice":
            outputs.append(i)
        elif ev_name == "gen_ai.content.prompt":
            prompt_event = i
        elif ev_name == "gen_ai.content.completion":
            completion_event = i
    used: set[int] = set()
    if "input" not in obs:
        if inputs:
            obs["input"] = [
                _event_message(_EVENT_INPUT_ROLES[events[i][0]], events[i][2]) for i in inputs
            ]
            used.update(inputs)
        elif prompt_event >= 0 and "gen_ai.prompt" in events[prompt_event][2]:
            obs["input"] = json_or_raw(events[prompt_event][2]["gen_ai.prompt"])
            used.add(prompt_event)
    if "output" not in obs:
        if outputs:
            obs["output"] = [_choice(events[i][2]) for i in outputs]
            used.update(outputs)
        elif completion_event >= 0 and "gen_ai.completion" in events[completion_event][2]:
            obs["output"] = json_or_raw(events[completion_event][2]["gen_ai.completion"])
            used.add(completion_event)
    others: list[dict[str, Any]] = []
    for i, (ev_name, t, attrs) in enumerate(events):
        if ev_name == "exception":
            exc: dict[str, Any] = {}
            for k, v in attrs.items():
                exc[k[10:] if k.startswith("exception.") else k] = v
            if t:
                exc["time"] = _iso(t)
            exceptions.append(exc)
        elif i not in used:
            ev: dict[str, Any] = {"name": ev_name}
            if t:
                ev["time"] = _iso(t)
            if attrs:
                ev["attributes"] = attrs
            others.append(ev)
    return exceptions, others


class _TraceAcc:
    __slots__ = ("last_strong", "last_weak", "record", "strong_keys")

    def __init__(self, trace_id: str) -> None:
        self.record = TraceUpsert(trace_id)
        self.strong_keys: set[str] = set()
        self.last_strong: dict[str, Any] | None = None
        self.last_weak: dict[str, Any] | None = None


def build_batch(spans: Iterable[SpanIn]) -> Batch:
    """Map spans to records: one observation per span, one trace record per trace id."""
    batch = Batch()
    observations = batch.observations
    traces: dict[str, _TraceAcc] = {}
    for sp in spans:
        obs, strong, weak = _map_span(sp)
        observations.append(obs)
        acc = traces.get(sp.trace_id)
        if acc is None:
            acc = traces[sp.trace_id] = _TraceAcc(sp.trace_id)
            batch.traces.append(acc.record)
        elif strong == acc.last_strong and weak == acc.last_weak:
            continue  # propagated trace attributes repeat on every span: merging is a no-op
        acc.last_strong, acc.last_weak = strong, weak
        fields, strong_keys = acc.record.fields, acc.strong_keys
        for k, v in strong.items():
            if k == "metadata":
                md = fields.get("metadata")
                if md is None:
                    fields["metadata"] = dict(v)
                else:
                    md.update(v)
            elif k == "tags":
                tags = fields.get("tags")
                if tags is None:
                    fields["tags"] = list(v)
                else:
                    tags.extend(t for t in v if t not in tags)
            else:
                fields[k] = v
            strong_keys.add(k)
        for k, v in weak.items():
            if k not in strong_keys:
                fields[k] = v
    return batch
