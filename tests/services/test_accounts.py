from __future__ import annotations

from pathlib import Path

import pytest

from tracemark.db.engine import Database
from tracemark.db.models import Role
from tracemark.services import accounts
from tracemark.services.errors import Conflict, Forbidden, Invalid
from tracemark.services.permissions import Permission, markdown_table, require


def test_email_is_unique_case_insensitively(db: Database) -> None:
    with db.write() as session:
        accounts.create_user(session, email="Ada@Example.com", name="Ada", password="long-enough")
    with db.write() as session, pytest.raises(Conflict, match="ada@example.com already exists"):
        accounts.create_user(session, email="ADA@example.COM", name="Other", password="long-enough")
    with db.read() as session:
        assert accounts.count_users(session) == 1
        assert accounts.get_user_by_email(session, "ada@EXAMPLE.com") is not None


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", "long-enough", "not a valid address"),
        ("a@b.c", "short", "at least 8 characters"),
    ],
)
def test_bad_user_input(db: Database, email: str, password: str, message: str) -> None:
    with db.write() as session, pytest.raises(Invalid, match=message):
        accounts.create_user(session, email=email, name="X", password=password)


def test_password_is_stored_as_argon2(db: Database) -> None:
    with db.write() as session:
        user = accounts.create_user(session, email="a@b.c", name="A", password="secret-pass")
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert "secret-pass" not in user.password_hash


def test_project_names_unique_and_owner_kept(db: Database) -> None:
    with db.write() as session:
        owner = accounts.create_user(session, email="o@b.c", name="O", password="secret-pass")
        project = accounts.create_project(session, "Acme", owner=owner)
    with db.write() as session, pytest.raises(Conflict, match="already exists"):
        accounts.create_project(session, "ACME")
    with db.write() as session, pytest.raises(Conflict, match="at least one OWNER"):
        accounts.set_membership(session, project, owner, Role.VIEWER)
    with db.read() as session:
        assert accounts.role_in_project(session, owner, project.id) == Role.OWNER


def test_unknown_role_is_refused(db: Database) -> None:
    with db.write() as session:
        owner = accounts.create_user(session, email="o@b.c", name="O", password="secret-pass")
        project = accounts.create_project(session, "Acme")
        with pytest.raises(Invalid, match="unknown role 'BOSS'; roles are VIEWER, ANNOTATOR"):
            accounts.set_membership(session, project, owner, "BOSS")


def test_admin_acts_as_owner_everywhere(db: Database) -> None:
    with db.write() as session:
        admin = accounts.create_user(
            session, email="root@b.c", name="R", password="secret-pass", is_admin=True
        )
        project = accounts.create_project(session, "Acme")
        assert accounts.role_in_project(session, admin, project.id) == Role.OWNER
        assert [p.project.name for p in accounts.projects_for_user(session, admin)] == ["Acme"]


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.VIEWER, Permission.READ, True),
        (Role.VIEWER, Permission.ANNOTATE, False),
        (Role.ANNOTATOR, Permission.ANNOTATE, True),
        (Role.ANNOTATOR, Permission.MANAGE_SCORE_CONFIGS, False),
        (Role.MEMBER, Permission.MANAGE_QUEUES, True),
        (Role.MEMBER, Permission.MANAGE_API_KEYS, False),
        (Role.ADMIN, Permission.MANAGE_MEMBERS, True),
        (Role.ADMIN, Permission.DELETE_PROJECT, False),
        (Role.OWNER, Permission.DELETE_PROJECT, True),
    ],
)
def test_permission_table(role: Role, permission: Permission, allowed: bool) -> None:
    if allowed:
        require(role, permission)
    else:
        with pytest.raises(Forbidden, match=f"your role {role.value} may not"):
            require(role, permission)


def test_permissions_doc_matches_the_code() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "permissions.md").read_text()
    assert markdown_table() in doc
