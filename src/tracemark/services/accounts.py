"""Users, projects and memberships."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracemark.db.models import Membership, Project, Role, User
from tracemark.services.errors import Conflict, Invalid, NotFound
from tracemark.services.hashing import slow_hash
from tracemark.services.permissions import parse_role

MIN_PASSWORD_LENGTH = 8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if not _EMAIL.match(value) or len(value) > 320:
        raise Invalid(f"email {email!r} is not a valid address")
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > 1024:
        raise Invalid("password must be at most 1024 characters long")


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str | None,
    is_admin: bool = False,
) -> User:
    address = normalize_email(email)
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("name must be 1 to 200 characters")
    if password is not None:
        check_password(password)
    if session.scalar(select(User.id).where(User.email == address)):
        raise Conflict(f"a user with email {address} already exists")
    user = User(
        email=address,
        name=name,
        password_hash=slow_hash(password) if password is not None else None,
        is_admin=is_admin,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a user with email {address} already exists") from None
    return user


def set_password(session: Session, user: User, password: str) -> None:
    check_password(password)
    user.password_hash = slow_hash(password)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def require_user_by_email(session: Session, email: str) -> User:
    user = get_user_by_email(session, email)
    if user is None:
        raise NotFound(f"no user with email {email.strip().lower()}")
    return user


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def create_project(session: Session, name: str, *, owner: User | None = None) -> Project:
    clean = name.strip()
    if not clean or len(clean) > 100:
        raise Invalid("project name must be 1 to 100 characters")
    if session.scalar(select(Project.id).where(Project.name_key == clean.lower())):
        raise Conflict(f"a project named {clean!r} already exists")
    project = Project(name=clean, name_key=clean.lower())
    session.add(project)
    session.flush()
    if owner is not None:
        session.add(Membership(project_id=project.id, user_id=owner.id, role=Role.OWNER.value))
        session.flush()
    return project


def find_project(session: Session, name_or_id: str) -> Project:
    """A project by id or by name (case-insensitive)."""
    project = session.get(Project, name_or_id) or session.scalar(
        select(Project).where(Project.name_key == name_or_id.strip().lower())
    )
    if project is None:
        raise NotFound(f"no project named or with id {name_or_id!r}")
    return project


def get_project(session: Session, project_id: str) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found")
    return project


def set_membership(session: Session, project: Project, user: User, role: Role | str) -> Membership:
    """Add `user` to `project` with `role`, or change the role they have."""
    parsed = parse_role(role) if isinstance(role, str) else role
    membership = session.scalar(
        select(Membership).where(Membership.project_id == project.id, Membership.user_id == user.id)
    )
    if membership is None:
        membership = Membership(project_id=project.id, user_id=user.id, role=parsed.value)
        session.add(membership)
    else:
        if membership.role == Role.OWNER.value and parsed != Role.OWNER:
            _keep_an_owner(session, project, excluding=user)
        membership.role = parsed.value
    session.flush()
    return membership


def remove_member(session: Session, project: Project, user: User) -> None:
    membership = session.scalar(
        select(Membership).where(Membership.project_id == project.id, Membership.user_id == user.id)
    )
    if membership is None:
        raise NotFound(f"{user.email} is not a member of {project.name}")
    if membership.role == Role.OWNER.value:
        _keep_an_owner(session, project, excluding=user)
    session.delete(membership)
    session.flush()


def _keep_an_owner(session: Session, project: Project, *, excluding: User) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.project_id == project.id,
            Membership.role == Role.OWNER.value,
            Membership.user_id != excluding.id,
        )
    )
    if not others:
        raise Conflict(f"{project.name} must keep at least one OWNER")


def role_in_project(session: Session, user: User, project_id: str) -> Role | None:
    """The user's role in the project; instance admins act as OWNER everywhere."""
    if user.is_admin:
        return Role.OWNER
    role = session.scalar(
        select(Membership.role).where(
            Membership.project_id == project_id, Membership.user_id == user.id
        )
    )
    return Role(role) if role else None


@dataclass(frozen=True)
class ProjectWithRole:
    project: Project
    role: Role


def projects_for_user(session: Session, user: User) -> list[ProjectWithRole]:
    if user.is_admin:
        projects = session.scalars(select(Project).order_by(Project.name_key)).all()
        return [ProjectWithRole(p, Role.OWNER) for p in projects]
    rows = session.execute(
        select(Project, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == user.id)
        .order_by(Project.name_key)
    ).all()
    return [ProjectWithRole(p, Role(r)) for p, r in rows]


@dataclass(frozen=True)
class Member:
    user: User
    role: Role


def list_members(session: Session, project_id: str) -> list[Member]:
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id)
        .order_by(User.email)
    ).all()
    return [Member(u, Role(r)) for u, r in rows]
