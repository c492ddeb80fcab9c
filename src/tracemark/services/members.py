"""Project members as the settings page manages them: add by email, change role, remove.

The building blocks (users, memberships, the last-owner rule) are in `accounts`; this module
adds what a person managing a team needs: adding someone who has no account yet (they get a
one-time set-password link) and the rule that only an OWNER hands out or takes away OWNER.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tracemark.db.models import Project, Role, User
from tracemark.services import accounts, password_links
from tracemark.services.errors import Conflict, Forbidden, NotFound
from tracemark.services.permissions import parse_role


@dataclass(frozen=True)
class Added:
    user: User
    role: Role
    created: bool  # a new account was made for them
    link: password_links.NewLink | None  # their set-password link, when created


def _check_owner_rule(actor_role: Role, *roles: Role) -> None:
    if Role.OWNER in roles and actor_role != Role.OWNER:
        raise Forbidden("only an OWNER may make someone an OWNER or change an OWNER's role")


def add_by_email(
    session: Session,
    project: Project,
    *,
    email: str,
    role: str,
    name: str = "",
    actor: User,
    actor_role: Role,
) -> Added:
    """Add a person to the project. Someone without an account gets one, without a password,
    and a one-time link to set it."""
    parsed = parse_role(role)
    _check_owner_rule(actor_role, parsed)
    address = accounts.normalize_email(email)
    user = accounts.get_user_by_email(session, address)
    created = user is None
    if user is None:
        user = accounts.create_user(
            session, email=address, name=name.strip() or address.split("@")[0], password=None
        )
    elif accounts.role_in_project(session, user, project.id) is not None and not user.is_admin:
        raise Conflict(f"{address} is already a member of {project.name}; change their role below")
    accounts.set_membership(session, project, user, parsed)
    link = password_links.create_link(session, user, created_by=actor) if created else None
    return Added(user, parsed, created, link)


def _member(session: Session, project: Project, user_id: str) -> tuple[User, Role]:
    user = accounts.get_user(session, user_id)
    role = None
    if user is not None:
        role = next(
            (m.role for m in accounts.list_members(session, project.id) if m.user.id == user.id),
            None,
        )
    if user is None or role is None:
        raise NotFound(f"no member {user_id} in {project.name}")
    return user, role


def change_role(
    session: Session, project: Project, user_id: str, role: str, *, actor_role: Role
) -> User:
    user, current = _member(session, project, user_id)
    parsed = parse_role(role)
    _check_owner_rule(actor_role, parsed, current)
    accounts.set_membership(session, project, user, parsed)
    return user


def remove(session: Session, project: Project, user_id: str, *, actor_role: Role) -> User:
    user, current = _member(session, project, user_id)
    _check_owner_rule(actor_role, current)
    accounts.remove_member(session, project, user)
    return user


def new_password_link(
    session: Session, project: Project, user_id: str, *, actor: User
) -> password_links.NewLink:
    """A fresh link for a member who has not set a password yet (the first was lost)."""
    user, _ = _member(session, project, user_id)
    if user.password_hash:
        raise Conflict(f"{user.email} has already set a password")
    return password_links.create_link(session, user, created_by=actor)
