"""A small, safe Markdown renderer for queue guidelines.

Everything is HTML-escaped first; only the markup this module writes itself reaches the page.
Supported: ATX headings, paragraphs, bullet and numbered lists, fenced code blocks, block
quotes, horizontal rules, inline code, bold, italic and links to http(s) URLs. Raw HTML in
the source is shown as text, and links with any other scheme (javascript:, data:, ...) stay
plain text.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s*&gt;\s?(.*)$")

_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# Applied to escaped text: the URL cannot hold a raw quote or angle bracket any more.
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")

# Headings inside guidelines sit below the page's own h1/h2.
_HEADING_OFFSET = 2


def _inline(escaped: str) -> str:
    """Inline markup on one block of already-escaped text."""
    saved: list[str] = []

    def keep(html: str) -> str:
        saved.append(html)
        return f"\x00{len(saved) - 1}\x00"

    def code(match: re.Match[str]) -> str:
        return keep(f"<code>{match.group(2).strip()}</code>")

    def emphasis(text: str) -> str:
        text = _BOLD.sub(lambda m: f"<strong>{m.group(2)}</strong>", text)
        text = _ITALIC_STAR.sub(lambda m: f"<em>{m.group(1)}</em>", text)
        return _ITALIC_UNDERSCORE.sub(lambda m: f"<em>{m.group(1)}</em>", text)

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), match.group(2)
        return keep(f'<a href="{url}" rel="noopener noreferrer nofollow">{emphasis(label)}</a>')

    text = _CODE_SPAN.sub(code, escaped)
    text = _LINK.sub(link, text)
    text = emphasis(text)

    def restore(value: str) -> str:
        return _PLACEHOLDER.sub(lambda m: restore(saved[int(m.group(1))]), value)

    return restore(text)


def render_markdown(source: str | None) -> Markup:
    """Markdown -> HTML that holds no markup from `source` itself."""
    if not source:
        return Markup("")
    # NUL would collide with the placeholders; it has no place in guidelines anyway.
    clean = source.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = str(escape(clean)).split("\n")
    # Every piece of the output was built from escaped text by _blocks.
    return Markup("\n".join(_blocks(lines)))  # noqa: S704


def _blocks(lines: list[str]) -> list[str]:
    """Block structure of escaped lines -> HTML pieces."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""
    quote: list[str] = []

    def flush_paragraph() -> None:
        if paragraph:
            out.append("<p>" + _inline("\n".join(paragraph)).replace("\n", "<br>\n") + "</p>")
            paragraph.clear()

    def flush_list() -> None:
        nonlocal list_tag
        if items:
            body = "".join(f"<li>{_inline(item)}</li>" for item in items)
            out.append(f"<{list_tag}>{body}</{list_tag}>")
            items.clear()
        list_tag = ""

    def flush_quote() -> None:
        if quote:
            out.append("<blockquote>" + "\n".join(_blocks(list(quote))) + "</blockquote>")
            quote.clear()

    def flush_all() -> None:
        flush_paragraph()
        flush_list()
        flush_quote()

    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        fence = _FENCE.match(line)
        if fence:
            flush_all()
            code: list[str] = []
            while index < len(lines) and not lines[index].strip().startswith(fence.group(1)):
                code.append(lines[index])
                index += 1
            index += 1  # the closing fence (or the end of the text)
            out.append("<pre><code>" + "\n".join(code) + "</code></pre>")
            continue
        if not line.strip():
            flush_all()
            continue
        quoted = _QUOTE.match(line)
        if quoted:
            flush_paragraph()
            flush_list()
            quote.append(quoted.group(1))
            continue
        flush_quote()
        heading = _HEADING.match(line)
        if heading:
            flush_all()
            level = min(6, len(heading.group(1)) + _HEADING_OFFSET)
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            continue
        if _RULE.match(line):
            flush_all()
            out.append("<hr>")
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            entry = pattern.match(line)
            if entry:
                flush_paragraph()
                if list_tag and list_tag != tag:
                    flush_list()
                list_tag = tag
                items.append(entry.group(1))
                break
        else:
            if items and line.startswith((" ", "\t")):
                items[-1] += " " + line.strip()  # a list item's continuation line
            else:
                flush_list()
                paragraph.append(line)
    flush_all()
    return out
