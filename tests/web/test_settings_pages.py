"""Project settings: members and roles, one-time set-password links, API keys, personal
tokens; who sees which part. In-process, both engines."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.conftest import ProjectFixture
from tests.queue_world import add_member, form_csrf, meta_csrf
from tests.web.test_queue_pages import login
from tests.web.test_score_config_pages import post_form
from tracemark.db.base import utcnow
from tracemark.db.engine import Database
from tracemark.db.models import PasswordLink, Role
from tracemark.services import accounts, credentials


def settings_url(project: ProjectFixture) -> str:
    return f"/project/{project.project.id}/settings"


def notice(page: str) -> str:
    match = re.search(r'<p class="alert (?:ok|error)" role="(?:status|alert)">([^<]*)</p>', page)
    assert match, "no message on the page"
    return html.unescape(match.group(1))


def role_of(db: Database, project: ProjectFixture, email: str) -> Role | None:
    with db.read() as session:
        user = accounts.get_user_by_email(session, email)
        return accounts.role_in_project(session, user, project.project.id) if user else None


def set_password_link(page: str) -> str:
    match = re.search(
        r'<code id="new-link" class="secret">https?://[^/]+(/set-password/[^<]+)<', page
    )
    assert match, "no set-password link on the page"
    return match.group(1)


def test_members_add_change_remove(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    add_member(db, project, "existing@example.com", Role.VIEWER)
    with db.write() as session:  # a user of the instance who is not in this project yet
        accounts.create_user(session, email="other@example.com", name="Other", password=None)
    owner = login(app_client, project.owner.email, "owner-password")
    url = settings_url(project)
    page = owner.get(url).text
    assert "existing@example.com" in page and "Add member" in page and "Create API key" in page

    added = post_form(
        owner, url, url + "/members", {"email": "Other@Example.com", "role": "ANNOTATOR"}
    )
    assert added.status_code == 200
    assert notice(added.text) == "other@example.com was added as ANNOTATOR."
    assert "/set-password/" not in added.text  # an existing user gets no link
    assert role_of(db, project, "other@example.com") == Role.ANNOTATOR

    again = post_form(
        owner, url, url + "/members", {"email": "other@example.com", "role": "MEMBER"}
    )
    assert again.status_code == 409 and "already a member" in notice(again.text)
    bad = post_form(owner, url, url + "/members", {"email": "not-an-email", "role": "MEMBER"})
    assert bad.status_code == 400 and "is not a valid address" in notice(bad.text)
    bad_role = post_form(owner, url, url + "/members", {"email": "x@example.com", "role": "BOSS"})
    assert bad_role.status_code == 400 and "unknown role" in notice(bad_role.text)

    with db.read() as session:
        existing = accounts.get_user_by_email(session, "existing@example.com")
        assert existing is not None
        existing_id = existing.id
    changed = post_form(owner, url, f"{url}/members/{existing_id}/role", {"role": "MEMBER"})
    assert notice(changed.text) == "existing@example.com is now MEMBER."
    assert role_of(db, project, "existing@example.com") == Role.MEMBER

    last_owner = post_form(owner, url, f"{url}/members/{project.owner.id}/remove", {})
    assert last_owner.status_code == 409
    assert notice(last_owner.text) == "Acme must keep at least one OWNER"
    demote = post_form(owner, url, f"{url}/members/{project.owner.id}/role", {"role": "ADMIN"})
    assert demote.status_code == 409
    assert role_of(db, project, project.owner.email) == Role.OWNER

    removed = post_form(owner, url, f"{url}/members/{existing_id}/remove", {})
    assert notice(removed.text).startswith("existing@example.com was removed")
    assert role_of(db, project, "existing@example.com") is None

    # An ADMIN manages members but may not hand out OWNER.
    admin = add_member(db, project, "adm@example.com", Role.ADMIN)
    admin_client = login(app_client, admin.email, admin.password)
    refused = post_form(
        admin_client, url, url + "/members", {"email": "boss@example.com", "role": "OWNER"}
    )
    assert refused.status_code == 403 and "only an OWNER" in notice(refused.text)
    assert role_of(db, project, "boss@example.com") is None


def test_new_person_gets_a_one_time_link(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    owner = login(app_client, project.owner.email, "owner-password")
    url = settings_url(project)
    added = post_form(
        owner,
        url,
        url + "/members",
        {"email": "newbie@example.com", "name": "Newbie", "role": "ANNOTATOR"},
    )
    assert added.status_code == 200
    assert "no account: one was created" in notice(added.text)
    link = set_password_link(added.text)
    assert added.headers["cache-control"] == "no-store"
    assert link not in owner.get(url).text  # shown once
    assert role_of(db, project, "newbie@example.com") == Role.ANNOTATOR

    guest = TestClient(app_client.app, follow_redirects=False)
    form = guest.get(link)
    assert form.status_code == 200 and "newbie@example.com" in form.text
    token = form_csrf(form.text)
    differ = guest.post(
        link, data={"password": "new-password-1", "password_confirm": "other", "csrf_token": token}
    )
    assert differ.status_code == 400 and "the two passwords differ" in differ.text
    short = guest.post(
        link, data={"password": "short", "password_confirm": "short", "csrf_token": token}
    )
    assert short.status_code == 400 and "at least 8 characters" in short.text
    done = guest.post(
        link,
        data={
            "password": "new-password-1",
            "password_confirm": "new-password-1",
            "csrf_token": token,
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "Newbie" in guest.get("/").text  # logged in
    assert login(app_client, "newbie@example.com", "new-password-1")

    # Used once: the link is dead now, for viewing and for posting.
    assert guest.get(link).status_code == 404
    stranger = TestClient(app_client.app, follow_redirects=False)
    dead = stranger.get(link)
    assert dead.status_code == 404
    replay = stranger.post(
        link,
        data={
            "password": "hijacked-pw",
            "password_confirm": "hijacked-pw",
            "csrf_token": meta_csrf(dead.text),
        },
    )
    assert replay.status_code == 404 and "already used, or has expired" in replay.text
    login(app_client, "newbie@example.com", "new-password-1")  # the password did not change


def test_set_password_link_expires_and_can_be_renewed(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    owner = login(app_client, project.owner.email, "owner-password")
    url = settings_url(project)
    added = post_form(owner, url, url + "/members", {"email": "late@example.com", "role": "VIEWER"})
    first = set_password_link(added.text)
    with db.write() as session:  # 72 hours pass
        session.execute(update(PasswordLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    guest = TestClient(app_client.app, follow_redirects=False)
    expired = guest.get(first)
    assert expired.status_code == 404 and "has expired" in expired.text

    with db.read() as session:
        user = accounts.get_user_by_email(session, "late@example.com")
        assert user is not None
        user_id = user.id
    renewed = post_form(owner, url, f"{url}/members/{user_id}/link", {})
    second = set_password_link(renewed.text)
    assert second != first
    assert guest.get(second).status_code == 200
    assert guest.get(first).status_code == 404


def test_api_key_secret_is_shown_once_and_revoked_key_is_refused(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    owner = login(app_client, project.owner.email, "owner-password")
    url = settings_url(project)
    created = post_form(owner, url, url + "/api-keys", {"note": "production app"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    public = re.search(r'<code id="new-public-key">([^<]+)</code>', created.text)
    secret = re.search(r'<code id="new-secret-key" class="secret">([^<]+)</code>', created.text)
    assert public and secret
    public_key, secret_key = public.group(1), secret.group(1)
    assert secret_key.startswith("sk-tm-")

    api = app_client.get("/api/public/projects", auth=(public_key, secret_key))
    assert api.status_code == 200 and api.json()["data"][0]["id"] == project.project.id

    listing = owner.get(url).text
    assert public_key in listing and "production app" in listing
    assert secret_key not in listing  # never shown again
    row = re.search(rf"<tr>\s*<td><code>{public_key}</code></td>(.*?)</tr>", listing, re.S)
    assert row and "never" not in row.group(1).split("</td>")[4]  # last use is recorded

    key_id = re.search(
        rf'/api-keys/([^/"]+)/revoke" class="inline" data-confirm="Revoke {public_key}', listing
    )
    assert key_id
    revoked = post_form(owner, url, f"{url}/api-keys/{key_id.group(1)}/revoke", {})
    assert notice(revoked.text) == f"The key {public_key} was revoked."
    refused = app_client.get("/api/public/projects", auth=(public_key, secret_key))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]
    # The fixture's own key still works.
    assert app_client.get("/api/public/projects", auth=project.auth).status_code == 200


def test_personal_tokens_and_who_sees_what(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    ann = add_member(db, project, "ann@example.com", Role.ANNOTATOR)
    client = login(app_client, ann.email, ann.password)
    url = settings_url(project)
    page = client.get(url)
    assert page.status_code == 200
    assert "My personal access tokens" in page.text
    assert "Members" not in page.text and "Project API keys" not in page.text
    assert "owner@example.com" not in page.text

    created = post_form(client, url, url + "/tokens", {"name": "notebook"})
    token = re.search(r'<code id="new-token" class="secret">([^<]+)</code>', created.text)
    assert token and token.group(1).startswith("tm-pat-")
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    assert app_client.get("/api/public/projects", headers=bearer).status_code == 200
    listing = client.get(url).text
    assert "notebook" in listing and token.group(1) not in listing
    token_id = re.search(r'/tokens/([^/"]+)/revoke', listing)
    assert token_id
    post_form(client, url, f"{url}/tokens/{token_id.group(1)}/revoke", {})
    assert app_client.get("/api/public/projects", headers=bearer).status_code == 401

    csrf = form_csrf(listing)
    for action, data in (
        (url + "/members", {"email": "x@example.com", "role": "OWNER"}),
        (url + "/api-keys", {"note": "mine"}),
        (f"{url}/members/{project.owner.id}/remove", {}),
    ):
        refused = client.post(action, data={**data, "csrf_token": csrf})
        assert refused.status_code == 403, action
    assert role_of(db, project, "x@example.com") is None
    assert role_of(db, project, project.owner.email) == Role.OWNER


def test_a_create_form_sent_twice_makes_one_key_and_one_token(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    """A reload after "Create" sends the form again: nothing new is made, and the page says
    why the secret is not shown."""
    owner = login(app_client, project.owner.email, "owner-password")
    url = settings_url(project)
    page = owner.get(url).text
    offered = re.search(r'<input type="hidden" name="public_key" value="([^"]+)">', page)
    lookup = re.search(r'<input type="hidden" name="lookup" value="([^"]+)">', page)
    assert offered and lookup
    key_form = {"csrf_token": form_csrf(page), "note": "ci", "public_key": offered.group(1)}
    first = owner.post(url + "/api-keys", data=key_form)
    made_first = re.search(r'<code id="new-public-key">([^<]+)</code>', first.text)
    assert made_first and made_first.group(1) == offered.group(1)
    again = owner.post(url + "/api-keys", data=key_form)
    assert again.status_code == 200 and 'id="new-secret-key"' not in again.text
    assert notice(again.text).startswith(f"This form was sent before. The key {offered.group(1)}")
    with db.read() as session:
        keys = credentials.list_api_keys(session, project.project.id)
    assert [k.note for k in keys].count("ci") == 1

    token_form = {"csrf_token": form_csrf(page), "name": "notebook", "lookup": lookup.group(1)}
    made = owner.post(url + "/tokens", data=token_form)
    assert 'id="new-token"' in made.text
    twice = owner.post(url + "/tokens", data=token_form)
    assert 'id="new-token"' not in twice.text
    assert notice(twice.text).startswith("This form was sent before. The token was created")
    with db.read() as session:
        tokens = credentials.list_tokens(session, project.owner.id)
    assert [t.name for t in tokens] == ["notebook"]
    # A tampered value is not used: the server makes a key of its own.
    forged = owner.post(url + "/api-keys", data={**key_form, "public_key": "pk-tm-mine"})
    made_key = re.search(r'<code id="new-public-key">([^<]+)</code>', forged.text)
    assert made_key and made_key.group(1) != "pk-tm-mine"
