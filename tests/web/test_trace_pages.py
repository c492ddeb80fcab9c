"""Trace and session detail pages, single-item annotation and roles, in-process, both engines."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import ProjectFixture
from tests.detail_world import tree_batch
from tests.queue_world import Person, add_member, form_csrf, make_configs, meta_csrf
from tests.web.test_queue_pages import ingest, login
from tracemark.db.engine import Database
from tracemark.db.models import Role, ScoreChange, ScoreSource
from tracemark.services import annotation, scores


@dataclass
class World:
    project_id: str
    configs: dict[str, str]
    ann: Person
    bob: Person
    vic: Person


@pytest.fixture
def world(app_client: TestClient, project: ProjectFixture, db: Database) -> World:
    ingest(app_client, project, tree_batch())
    return World(
        project.project.id,
        make_configs(db, project.project.id),
        add_member(db, project, "ann@example.com", Role.ANNOTATOR),
        add_member(db, project, "bob@example.com", Role.ANNOTATOR),
        add_member(db, project, "vic@example.com", Role.VIEWER),
    )


def trace_url(world: World, trace_id: str = "tr-1") -> str:
    return f"/project/{world.project_id}/traces/{trace_id}"


def text_of(fragment: str) -> str:
    """Tags stripped, entities decoded, spaces squeezed: what a reader sees."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def tree_rows(page: str) -> list[str]:
    return [text_of(row) for row in re.findall(r'<li class="trow d\d+">(.*?)</li>', page, re.S)]


def annotate(
    client: TestClient, url: str, page: str, fields: dict[str, str], **extra: str
) -> object:
    data = {"csrf_token": form_csrf(page), **fields, **extra}
    return client.post(url + "/annotate", data=data)


def test_trace_page_shows_tree_totals_and_the_trace(app_client: TestClient, world: World) -> None:
    ann = login(app_client, world.ann.email, world.ann.password)
    response = ann.get(trace_url(world))
    assert response.status_code == 200, response.text
    page = response.text
    rows = tree_rows(page)
    # The tree in execution order, nested: trace, agent, its two children, the tool, the event.
    names = [r.split(" ")[1] for r in rows]
    assert names == [
        "support-agent",
        "agent-loop",
        "lookup-invoice",
        "draft-answer",
        "update-invoice",
        "rate-limit",
    ]
    depths = re.findall(r'<li class="trow d(\d+)">', page)
    assert depths == ["0", "1", "2", "2", "3", "1"]
    assert rows[3].startswith("GENERATION draft-answer") and "2.00 s" in rows[3]
    assert "ERROR" in rows[5]
    # Bars on one time axis: the generation starts at 1 s of 4 s and lasts 2 s.
    bar = re.findall(r'<rect x="([\d.]+)" y="1" height="8" width="([\d.]+)">', page)[3]
    assert bar == ("250.0", "500.0")
    totals = text_of(re.search(r'<dl class="totals".*?</dl>', page, re.S).group(0))  # type: ignore[union-attr]
    assert "Latency 4.00 s" in totals and "Cost $0.003" in totals
    assert "Tokens 100 → 20 (Σ 120)" in totals and "Observations 5" in totals
    # The trace itself is selected: its chat input as a conversation.
    detail = re.search(r'<section id="node-detail".*?</section>\s*</div>', page, re.S).group(0)  # type: ignore[union-attr]
    assert '<li class="msg msg-user">' in detail and "I fixed the invoice." in detail
    assert 'href="/project/' + world.project_id + '/sessions/conv-1"' in page
    assert "Annotate" in page and 'id="annotate-form"' in page


def test_observation_query_selects_and_highlights_it(app_client: TestClient, world: World) -> None:
    ann = login(app_client, world.ann.email, world.ann.password)
    page = ann.get(trace_url(world), params={"observation": "obs-llm"}).text
    selected = re.findall(r'<a class="tnode"[^>]*aria-current="true"', page)
    assert len(selected) == 1 and 'data-node="obs-llm"' in selected[0]
    detail = text_of(
        re.search(r'<section id="node-detail".*?</section>\s*</div>', page, re.S).group(0)
    )  # type: ignore[union-attr]
    assert "draft-answer" in detail and "Model gpt-4o" in detail
    assert "First token 500 ms" in detail and "Cost $0.003" in detail
    assert "You are a billing assistant." in detail and "temperature" in detail
    # The Annotate form targets the observation.
    assert '<input type="hidden" name="observation" value="obs-llm">' in page
    # The panel endpoint gives the same node without the page, for the tree's script.
    panel = ann.get(trace_url(world) + "/panel", params={"observation": "obs-tool"})
    assert panel.status_code == 200
    data = panel.json()
    assert "update-invoice" in data["detail"] and data["detail"].startswith(
        '<section id="node-detail"'
    )
    assert 'value="obs-tool"' in data["annotate"]
    assert ann.get(trace_url(world) + "/panel", params={"observation": "nope"}).status_code == 404
    # An unknown observation on the page: the trace is shown, with a note.
    missing = ann.get(trace_url(world), params={"observation": "nope"})
    assert missing.status_code == 200 and "is not part of this trace" in missing.text
    assert ann.get(trace_url(world, "no-such-trace")).status_code == 404


def test_hostile_content_is_escaped_everywhere(app_client: TestClient, world: World) -> None:
    ann = login(app_client, world.ann.email, world.ann.password)
    pages = [
        ann.get(trace_url(world, "tr-evil")).text,
        ann.get(trace_url(world, "tr-evil"), params={"observation": "obs-evil"}).text,
        ann.get(trace_url(world, "tr-evil") + "/panel", params={"observation": "obs-evil"}).json()[
            "detail"
        ],
    ]
    for page in pages:
        for raw in ("<script>alert", "<img src=x", "<svg onload", "<iframe", "<b>key</b>"):
            assert raw not in page
        assert 'href="javascript:' not in page and "href='javascript:" not in page
        assert not re.search(r"<[a-z]+[^>]*\son[a-z]+=", page), "an event handler attribute"
    trace_page, obs_page, _ = pages
    # Names, tags, metadata keys, chat roles and messages, JSON values: all shown as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; trace" in trace_page  # name
    assert '<span class="tag">&lt;img src=x onerror=alert(1)&gt;</span>' in trace_page  # tag
    assert '<span class="jkey">&lt;b&gt;key&lt;/b&gt;</span>' in trace_page  # metadata key
    assert "&lt;iframe src=javascript:alert(1)&gt;" in trace_page  # metadata value
    assert '<li class="msg msg-other">' in trace_page  # the hostile role is not a class
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;click me&lt;/a&gt;" in trace_page
    assert "&lt;svg onload=alert(1)&gt; step" in trace_page  # observation name in the tree
    assert "&lt;img src=x onerror=alert(1)&gt; model" in obs_page  # model
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in obs_page  # usage key
    assert "[click](javascript:alert(1))" in obs_page  # markdown-looking output stays text
    # The session link percent-encodes the hostile session id.
    assert "/sessions/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%20session" in trace_page
    scripts = re.findall(r"<script[^>]*>", trace_page)
    assert scripts == [
        '<script src="/static/app.js" defer>',
        '<script src="/static/detail.js" defer>',
    ]


def test_annotate_stores_annotation_scores_with_the_author_and_keeps_history(
    app_client: TestClient, world: World, db: Database
) -> None:
    ann = login(app_client, world.ann.email, world.ann.password)
    page = ann.get(trace_url(world)).text
    c = world.configs
    saved = annotate(
        ann,
        trace_url(world),
        page,
        {
            f"score.{c['tone']}": "friendly",
            f"score.{c['quality']}": "4",
            f"score.{c['correct']}": "1",
        },
        comment="Good fix.",
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == trace_url(world) + "?annotate=1&saved=3&commented=1"
    after = ann.get(saved.headers["location"]).text
    assert "3 scores saved, comment added." in after
    # My values are in the form again, ready to edit.
    assert f'name="score.{c["quality"]}" id="a-3"' in after and 'value="4"' in after
    # Edit one: the score changes, its history keeps the old value; the others are untouched.
    edited = annotate(
        ann,
        trace_url(world),
        after,
        {f"score.{c['quality']}": "2", f"score.{c['tone']}": "friendly"},
    )
    assert edited.headers["location"].endswith("saved=1&commented=0")
    with db.read() as session:
        stored = {s.name: s for s in scores.scores_for_trace(session, world.project_id, "tr-1")}
        assert set(stored) == {"tone", "quality", "correct"}
        assert all(s.source == ScoreSource.ANNOTATION.value for s in stored.values())
        assert {s.author_user_id for s in stored.values()} == {world.ann.user.id}
        assert stored["quality"].value == 2.0 and stored["tone"].string_value == "friendly"
        history = scores.history_of(session, world.project_id, stored["quality"].id)
        assert [(h.action, h.old_value, h.new_value) for h in history] == [
            ("CREATE", None, 4.0),
            ("UPDATE", 4.0, 2.0),
        ]
        assert len(scores.history_of(session, world.project_id, stored["tone"].id)) == 1
    # The Scores tab shows source, author, comment and the history.
    tab = ann.get(trace_url(world), params={"tab": "scores"}).text
    table = text_of(re.search(r'<table class="table scores-table">.*?</table>', tab, re.S).group(0))  # type: ignore[union-attr]
    assert "quality 2 ANNOTATION Ann trace" in table
    assert "4 → 2" in table and "2 changes" in table
    assert "Good fix." in text_of(tab)


def test_remove_my_score_deletes_only_mine_and_keeps_history(
    app_client: TestClient, world: World, db: Database
) -> None:
    quality = world.configs["quality"]
    for person, value in ((world.ann, "5"), (world.bob, "1")):
        client = login(app_client, person.email, person.password)
        page = client.get(trace_url(world)).text
        assert 'name="clear.' not in page  # nothing of mine to remove yet
        assert (
            annotate(client, trace_url(world), page, {f"score.{quality}": value}).status_code == 303
        )
    page = client.get(trace_url(world)).text  # Bob's page offers to remove Bob's score
    assert f'name="clear.{quality}"' in page and "Remove my quality score" in text_of(page)
    removed = annotate(client, trace_url(world), page, {f"clear.{quality}": "1"})
    assert removed.headers["location"].endswith("saved=0&commented=0&removed=1")
    after = client.get(removed.headers["location"]).text
    assert "1 score removed." in after and f'name="clear.{quality}"' not in after
    with db.read() as session:
        rows = scores.scores_for_trace(session, world.project_id, "tr-1")
        assert {s.author_user_id: s.value for s in rows} == {world.ann.user.id: 5.0}
        deleted = session.scalars(
            select(ScoreChange).where(
                ScoreChange.project_id == world.project_id, ScoreChange.action == "DELETE"
            )
        ).all()
        assert [(d.old_value, d.changed_by_user_id) for d in deleted] == [(1.0, world.bob.user.id)]


def test_observation_and_session_annotation_target_them(
    app_client: TestClient, world: World, db: Database
) -> None:
    ann = login(app_client, world.ann.email, world.ann.password)
    url = trace_url(world)
    page = ann.get(url, params={"observation": "obs-llm"}).text
    response = annotate(
        ann, url, page, {f"score.{world.configs['correct']}": "0"}, observation="obs-llm"
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(url + "?observation=obs-llm&annotate=1")
    session_url = f"/project/{world.project_id}/sessions/conv-1"
    session_page = ann.get(session_url)
    assert session_page.status_code == 200
    text = text_of(session_page.text)
    # Its traces in order, as a conversation.
    assert text.index("My invoice is wrong.") < text.index("Is it fixed now?")
    assert "support-agent" in text and "follow-up" in text and "Traces 2" in text
    saved = annotate(
        ann,
        session_url,
        session_page.text,
        {f"score.{world.configs['tone']}": "neutral"},
        comment="Long chat.",
    )
    assert saved.status_code == 303
    with db.read() as session:
        on_obs = [s for s in scores.scores_for_trace(session, world.project_id, "tr-1")]
        assert [(s.name, s.observation_id, s.value) for s in on_obs] == [
            ("correct", "obs-llm", 0.0)
        ]
        details = annotation.score_details(session, world.project_id, session_id="conv-1")
        assert [(d.score.name, d.score.string_value, d.author) for d in details] == [
            ("tone", "neutral", "Ann")
        ]
    tab = ann.get(session_url, params={"tab": "scores"}).text
    assert "Long chat." in tab and "neutral" in tab
    # The session page shows the hostile session id as text.
    evil = ann.get(
        f"/project/{world.project_id}/sessions/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%20session"
    )
    assert evil.status_code == 200 and "<img src=x" not in evil.text
    assert "&lt;img src=x onerror=alert(1)&gt; session" in evil.text


def test_another_users_score_is_never_overwritten(
    app_client: TestClient, world: World, db: Database
) -> None:
    field = f"score.{world.configs['quality']}"
    for person, value in ((world.ann, "5"), (world.bob, "1")):
        client = login(app_client, person.email, person.password)
        page = client.get(trace_url(world)).text
        assert annotate(client, trace_url(world), page, {field: value}).status_code == 303
    bob = login(app_client, world.bob.email, world.bob.password)
    page = bob.get(trace_url(world)).text
    # Bob's form holds Bob's value, not Ann's.
    assert re.search(rf'name="{re.escape(field)}"[^>]*value="1"', page)
    with db.read() as session:
        rows = scores.scores_for_trace(session, world.project_id, "tr-1")
        by_author = {s.author_user_id: s.value for s in rows}
        assert by_author == {world.ann.user.id: 5.0, world.bob.user.id: 1.0}
        # Bob cannot take over Ann's score by its id either.
        ann_score = next(s for s in rows if s.author_user_id == world.ann.user.id)
        result = scores.write_scores(
            session,
            world.project_id,
            [
                scores.ScoreInput(
                    {
                        "id": ann_score.id,
                        "traceId": "tr-1",
                        "configId": world.configs["quality"],
                        "value": 3,
                        "source": "ANNOTATION",
                    }
                )
            ],
            scores.Actor(user_id=world.bob.user.id),
        )
        assert result.errors and "belongs to another annotator" in result.errors[0]


def test_bad_values_get_a_message_and_store_nothing(
    app_client: TestClient, world: World, db: Database
) -> None:
    ann = login(app_client, world.ann.email, world.ann.password)
    page = ann.get(trace_url(world)).text
    c = world.configs
    high = annotate(
        ann,
        trace_url(world),
        page,
        {f"score.{c['quality']}": "9", f"score.{c['tone']}": "friendly"},
    )
    assert high.status_code == 400 and "above the maximum 5" in high.text
    assert (
        'id="annotate"' in high.text
        and 'class="annotate-side" aria-label="Annotate" hidden' not in high.text
    )
    word = annotate(ann, trace_url(world), page, {f"score.{c['quality']}": "lots"})
    assert word.status_code == 400 and "quality: enter a number" in word.text
    category = annotate(ann, trace_url(world), page, {f"score.{c['tone']}": "angry"})
    assert category.status_code == 400 and "not a category" in category.text
    nothing = annotate(ann, trace_url(world), page, {})
    assert nothing.status_code == 303 and "saved=0" in nothing.headers["location"]
    assert "Nothing changed." in ann.get(nothing.headers["location"]).text
    with db.read() as session:
        assert scores.scores_for_trace(session, world.project_id, "tr-1") == []


def test_viewer_sees_no_annotate_and_is_refused(
    app_client: TestClient, world: World, db: Database
) -> None:
    vic = login(app_client, world.vic.email, world.vic.password)
    page = vic.get(trace_url(world))
    assert page.status_code == 200 and "support-agent" in page.text
    assert 'id="annotate-form"' not in page.text and 'data-action="annotate"' not in page.text
    assert (
        vic.get(trace_url(world) + "/panel", params={"observation": "obs-llm"}).json()["annotate"]
        is None
    )
    session_page = vic.get(f"/project/{world.project_id}/sessions/conv-1")
    assert session_page.status_code == 200 and 'id="annotate-form"' not in session_page.text
    token = meta_csrf(page.text)
    refused = vic.post(
        trace_url(world) + "/annotate",
        data={"csrf_token": token, f"score.{world.configs['quality']}": "3"},
    )
    assert (
        refused.status_code == 403
        and "VIEWER may not create and edit own ANNOTATION" in refused.text
    )
    refused = vic.post(
        f"/project/{world.project_id}/sessions/conv-1/annotate",
        data={"csrf_token": token, "comment": "hi"},
    )
    assert refused.status_code == 403
    with db.read() as session:
        assert scores.scores_for_trace(session, world.project_id, "tr-1") == []


def test_annotate_needs_the_csrf_token(app_client: TestClient, world: World) -> None:
    ann = login(app_client, world.ann.email, world.ann.password)
    field = {f"score.{world.configs['quality']}": "3"}
    assert ann.post(trace_url(world) + "/annotate", data=field).status_code == 403
    bad = ann.post(trace_url(world) + "/annotate", data={**field, "csrf_token": "f" * 64})
    assert bad.status_code == 403 and "security token" in bad.text
    session_url = f"/project/{world.project_id}/sessions/conv-1/annotate"
    assert ann.post(session_url, data={"comment": "x"}).status_code == 403


def test_outsiders_get_404(app_client: TestClient, world: World, db: Database) -> None:
    from tracemark.services import accounts

    with db.write() as session:
        accounts.create_user(session, email="out@example.com", name="Out", password="outsider-pw")
    out = login(app_client, "out@example.com", "outsider-pw")
    assert out.get(trace_url(world)).status_code == 404
    assert out.get(f"/project/{world.project_id}/sessions/conv-1").status_code == 404
    token = meta_csrf(out.get("/").text)
    assert out.post(trace_url(world) + "/annotate", data={"csrf_token": token}).status_code == 404


def test_a_trace_id_holding_a_slash_has_its_page_panel_and_annotate(
    app_client: TestClient, project: ProjectFixture, world: World, db: Database
) -> None:
    """Clients choose trace ids; "chat/42" is linked as chat%2F42 and every route finds it."""
    ingest(
        app_client,
        project,
        {
            "batch": [
                {
                    "id": "ev-slash-1",
                    "type": "trace-create",
                    "timestamp": "2026-11-20T10:00:00Z",
                    "body": {"id": "chat/42", "name": "slashed-trace", "sessionId": "s/1"},
                },
                {
                    "id": "ev-slash-2",
                    "type": "span-create",
                    "timestamp": "2026-11-20T10:00:00Z",
                    "body": {"id": "step/1", "traceId": "chat/42", "name": "slashed-step"},
                },
            ]
        },
    )
    ann = login(app_client, world.ann.email, world.ann.password)
    listing = ann.get(f"/project/{world.project_id}/traces").text
    url = f"/project/{world.project_id}/traces/chat%2F42"
    assert f'href="{url}"' in listing
    page = ann.get(url)
    assert page.status_code == 200 and "slashed-trace" in page.text
    panel = ann.get(url + "/panel", params={"observation": "step/1"})
    assert panel.status_code == 200 and "slashed-step" in panel.json()["detail"]
    saved = annotate(ann, url, page.text, {f"score.{world.configs['quality']}": "5"})
    assert saved.status_code == 303
    with db.read() as session:
        stored = scores.scores_for_trace(session, world.project_id, "chat/42")
    assert [(s.name, s.value) for s in stored] == [("quality", 5.0)]
