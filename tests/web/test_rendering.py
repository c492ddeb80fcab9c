"""The guideline Markdown renderer and the shaping of trace content: no markup gets through."""

from __future__ import annotations

import pytest

from tracemark.web import content
from tracemark.web.markdown import render_markdown


def test_markdown_basics() -> None:
    html = str(
        render_markdown(
            "# Title\nSome **bold**, *italic*, _also italic_ and `code <b>`.\n\n"
            "- one\n- two\n  continued\n\n1. first\n2. second\n\n"
            "> quoted\n\n```\nif a < b:\n    pass\n```\n---\n"
            "See [the policy](https://example.com/p?a=1&b=2)."
        )
    )
    assert "<h3>Title</h3>" in html
    assert "<strong>bold</strong>" in html and "<em>italic</em>" in html
    assert "<em>also italic</em>" in html
    assert "<code>code &lt;b&gt;</code>" in html
    assert "<ul><li>one</li><li>two continued</li></ul>" in html
    assert "<ol><li>first</li><li>second</li></ol>" in html
    assert "<blockquote><p>quoted</p></blockquote>" in html
    assert "<pre><code>if a &lt; b:\n    pass</code></pre>" in html
    assert "<hr>" in html
    assert '<a href="https://example.com/p?a=1&amp;b=2" rel="noopener noreferrer nofollow">' in html


def test_markdown_keeps_snake_case_and_code_literal() -> None:
    html = str(render_markdown("use user_id_value and `**not bold**`"))
    assert "user_id_value" in html and "<em>" not in html
    assert "<code>**not bold**</code>" in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](data:text/html,<script>alert(1)</script>)",
        '[x](https://ok.example/"onmouseover="alert(1))',
        "> <script>alert(1)</script>",
        "- <iframe src=javascript:alert(1)>",
        "```\n<script>alert(1)</script>\n```",
        "# <svg onload=alert(1)>",
        "**<b onclick=alert(1)>x</b>**",
    ],
)
def test_markdown_never_passes_markup_through(source: str) -> None:
    html = str(render_markdown(source))
    for tag in ("<script", "<img", "<iframe", "<svg", "<b ", 'href="javascript', 'href="data'):
        assert tag not in html
    assert '"onmouseover' not in html


def test_markdown_of_nothing() -> None:
    assert str(render_markdown(None)) == "" and str(render_markdown("")) == ""


def test_content_views() -> None:
    assert content.view(None).kind == "empty" and content.view({}).kind == "empty"
    assert content.view("plain\ntext").kind == "text"
    chat = content.view([{"role": "user", "content": "hi"}, {"role": "Evil<x>", "content": None}])
    assert chat.kind == "chat"
    assert [m.role_class for m in chat.messages] == ["user", "other"]
    wrapped = content.view({"messages": [{"role": "system", "content": "be nice"}], "model": "m"})
    assert wrapped.kind == "chat" and wrapped.extra is not None
    parts = content.view(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://evil.example/x.png"}},
            ],
        }
    )
    assert [p.kind for p in parts.messages[0].parts] == ["text", "json"]
    assert content.view('{"a": [1, 2]}').kind == "json"  # JSON held in a string
    assert content.view("{not json}").kind == "text"


def test_content_tree_is_cut_to_size() -> None:
    tree = content.json_tree({"items": list(range(5000))})
    shown = tree.children[0]
    assert shown.size == 5000 and shown.hidden > 0
    assert len(shown.children) + shown.hidden == 5000
    deep: object = "bottom"
    for _ in range(100):
        deep = [deep]
    node = content.json_tree(deep)
    depth = 0
    while node.children:
        node = node.children[0]
        depth += 1
    assert depth <= content.MAX_DEPTH + 1
