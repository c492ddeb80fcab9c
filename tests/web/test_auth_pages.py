from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import ProjectFixture
from tracemark.db.engine import Database
from tracemark.services import accounts


def csrf(page_html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, "page has no CSRF field"
    return match.group(1)


def test_first_start_asks_for_an_admin(app_client: TestClient, db: Database) -> None:
    home = app_client.get("/", follow_redirects=True)
    assert home.url.path == "/setup"
    assert "Create administrator" in home.text
    token = csrf(home.text)
    response = app_client.post(
        "/setup",
        data={
            "name": "Root",
            "email": "Root@Example.com",
            "password": "correct-horse",
            "password_confirm": "correct-horse",
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "tm_session=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    home = app_client.get("/")
    assert home.status_code == 200
    assert "Projects" in home.text and "Root" in home.text
    with db.read() as session:
        user = accounts.get_user_by_email(session, "root@example.com")
        assert user is not None and user.is_admin
    # Setup is closed once an admin exists.
    assert app_client.get("/setup", follow_redirects=False).headers["location"] == "/login"


def test_setup_refuses_mismatched_passwords(app_client: TestClient, db: Database) -> None:
    page = app_client.get("/setup")
    response = app_client.post(
        "/setup",
        data={
            "name": "Root",
            "email": "r@example.com",
            "password": "correct-horse",
            "password_confirm": "other-horse",
            "csrf_token": csrf(page.text),
        },
    )
    assert response.status_code == 400
    assert "the two passwords differ" in response.text
    with db.read() as session:
        assert accounts.count_users(session) == 0


def _login(client: TestClient, email: str, password: str, next_url: str = "/") -> object:
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "next": next_url,
            "csrf_token": csrf(page.text),
        },
    )


def test_login_logout(app_client: TestClient, project: ProjectFixture) -> None:
    response = app_client.get(f"/project/{project.project.id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    response = _login(
        app_client, "OWNER@example.com", "owner-password", f"/project/{project.project.id}"
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/project/{project.project.id}"
    page = app_client.get(f"/project/{project.project.id}")
    assert page.status_code == 200 and "Acme" in page.text and "OWNER" in page.text
    logout = app_client.post("/logout", data={"csrf_token": csrf(page.text)})
    assert logout.status_code == 303
    assert app_client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_and_unknown_email_look_the_same(
    app_client: TestClient, project: ProjectFixture
) -> None:
    wrong = _login(app_client, "owner@example.com", "nope-nope-nope")
    unknown = _login(app_client, "ghost@example.com", "nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong email or password" in wrong.text
    assert "wrong email or password" in unknown.text


def test_login_is_throttled_after_repeated_failures(
    app_client: TestClient, project: ProjectFixture
) -> None:
    for _ in range(5):
        assert _login(app_client, "owner@example.com", "bad-password").status_code == 401
    blocked = _login(app_client, "owner@example.com", "owner-password")
    assert blocked.status_code == 429
    assert "too many failed logins" in blocked.text
    assert blocked.headers["retry-after"]


def test_forms_need_a_csrf_token(app_client: TestClient, project: ProjectFixture) -> None:
    app_client.get("/login")
    response = app_client.post(
        "/login", data={"email": "owner@example.com", "password": "owner-password"}
    )
    assert response.status_code == 403
    assert "security token" in response.text
    forged = app_client.post(
        "/login",
        data={"email": "owner@example.com", "password": "owner-password", "csrf_token": "f" * 64},
    )
    assert forged.status_code == 403


def test_next_cannot_leave_the_site(app_client: TestClient, project: ProjectFixture) -> None:
    response = _login(app_client, "owner@example.com", "owner-password", "//evil.example/x")
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_other_projects_are_404_for_non_members(
    app_client: TestClient, project: ProjectFixture, db: Database
) -> None:
    with db.write() as session:
        accounts.create_user(session, email="out@example.com", name="Out", password="outsider-pw")
    _login(app_client, "out@example.com", "outsider-pw")
    assert "Acme" not in app_client.get("/").text
    response = app_client.get(f"/project/{project.project.id}")
    assert response.status_code == 404


def test_pages_forbid_inline_scripts(app_client: TestClient, project: ProjectFixture) -> None:
    page = app_client.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
