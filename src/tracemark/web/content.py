"""Trace content (input, output, metadata) shaped for reading: chat, JSON tree, or text.

Trace content is untrusted. This module only classifies it and cuts it to size; the templates
print every string through Jinja's autoescaping and nothing here produces markup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

# A tree larger than this is cut; the rest is summarised as "N more".
MAX_NODES = 2_000
MAX_DEPTH = 24
# The first levels of a JSON tree below its root are open, deeper ones start closed.
OPEN_DEPTH = 3
KNOWN_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}

NodeKind = Literal["object", "array", "string", "number", "boolean", "null"]


@dataclass
class JsonNode:
    kind: NodeKind
    key: str | None = None
    text: str = ""  # scalars: the value as shown
    children: list[JsonNode] = field(default_factory=list)
    size: int = 0  # objects and arrays: entries in the original
    hidden: int = 0  # entries left out to stay under MAX_NODES
    depth: int = 0

    @property
    def is_open(self) -> bool:
        return self.depth < OPEN_DEPTH

    @property
    def multiline(self) -> bool:
        return self.kind == "string" and ("\n" in self.text or len(self.text) > 80)


@dataclass
class Message:
    role: str
    role_class: str  # one of KNOWN_ROLES or "other": safe to use in a class attribute
    name: str | None
    parts: list[View]


@dataclass
class View:
    """One value, as the template should show it."""

    kind: Literal["empty", "text", "chat", "json"]
    text: str = ""
    messages: list[Message] = field(default_factory=list)
    tree: JsonNode | None = None
    extra: JsonNode | None = None  # chat: the other keys of {"messages": [...], ...}


class _Budget:
    def __init__(self, nodes: int) -> None:
        self.left = nodes


def _tree(value: Any, key: str | None, depth: int, budget: _Budget) -> JsonNode:
    budget.left -= 1
    if isinstance(value, dict | list):
        entries = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        node = JsonNode(
            "object" if isinstance(value, dict) else "array",
            key=key,
            size=len(entries),
            depth=depth,
        )
        if depth >= MAX_DEPTH:
            node.children.append(
                JsonNode("string", key="…", text=json.dumps(value, default=str)[:5000])
            )
            return node
        for child_key, child in entries:
            if budget.left <= 0:
                node.hidden = len(entries) - len(node.children)
                break
            node.children.append(_tree(child, str(child_key), depth + 1, budget))
        return node
    if value is None:
        return JsonNode("null", key=key, text="null", depth=depth)
    if isinstance(value, bool):
        return JsonNode("boolean", key=key, text="true" if value else "false", depth=depth)
    if isinstance(value, int | float):
        return JsonNode("number", key=key, text=repr(value), depth=depth)
    return JsonNode("string", key=key, text=str(value), depth=depth)


def json_tree(value: Any) -> JsonNode:
    return _tree(value, None, 0, _Budget(MAX_NODES))


def _parsed(value: Any) -> Any:
    """A string that holds a JSON object or array is shown as that object or array."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                return json.loads(stripped)
            except ValueError:
                return value
    return value


def _is_message(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("role"), str)
        and ("content" in value or "tool_calls" in value)
    )


def _is_chat(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_message(v) for v in value)


def _content_parts(content: Any) -> list[View]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [View("text", text=content)]
    if isinstance(content, list):
        parts: list[View] = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and "text" in part:
                parts.append(View("text", text=str(part["text"])))
            elif isinstance(part, str):
                parts.append(View("text", text=part))
            else:
                # Images, audio, files: shown as data, never loaded.
                parts.append(View("json", tree=json_tree(part)))
        return parts
    return [View("json", tree=json_tree(content))]


def _message(raw: dict[str, Any]) -> Message:
    role = str(raw.get("role", ""))
    parts = _content_parts(raw.get("content"))
    rest = {k: v for k, v in raw.items() if k not in ("role", "content", "name")}
    if rest:
        parts.append(View("json", tree=json_tree(rest)))
    name = raw.get("name")
    return Message(
        role=role,
        role_class=role.lower() if role.lower() in KNOWN_ROLES else "other",
        name=str(name) if name is not None else None,
        parts=parts,
    )


def view(value: Any) -> View:
    """Choose how to show a value: chat messages, readable text, or a JSON tree."""
    value = _parsed(value)
    if value is None or value == "" or value == {} or value == []:
        return View("empty")
    if isinstance(value, str):
        return View("text", text=value)
    if _is_chat(value):
        return View("chat", messages=[_message(m) for m in value])
    if _is_message(value):
        return View("chat", messages=[_message(value)])
    if isinstance(value, dict) and _is_chat(value.get("messages")):
        rest = {k: v for k, v in value.items() if k != "messages"}
        return View(
            "chat",
            messages=[_message(m) for m in value["messages"]],
            extra=json_tree(rest) if rest else None,
        )
    if isinstance(value, bool | int | float):
        return View("text", text=json.dumps(value))
    return View("json", tree=json_tree(value))
