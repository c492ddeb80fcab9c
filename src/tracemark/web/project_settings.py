"""Project settings: members and roles, project API keys, my personal access tokens.

Secrets (a new API key's secret, a new token, a set-password link) are shown once, in the
answer to the POST that made them, never stored in clear and never shown again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from tracemark.db.models import ApiKey, PersonalToken, Role
from tracemark.services import accounts, credentials, members
from tracemark.services.errors import Conflict, DomainError
from tracemark.services.permissions import Permission, allows, require
from tracemark.web import forms
from tracemark.web.common import (
    CurrentUser,
    ProjectAccess,
    check_csrf,
    db_of,
    path_segment,
    project_access,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
SETTINGS = "/project/{project_id}/settings"


@dataclass
class Shown:
    """What one POST's answer shows once, or the error it met (with the section it is for)."""

    section: str = ""
    notice: str | None = None
    error: str | None = None
    link: str | None = None  # a set-password URL
    link_for: str | None = None
    api_key: credentials.NewApiKey | None = None
    token: str | None = None
    form: dict[str, str] = field(default_factory=dict)
    status: int = 200


@dataclass
class SettingsData:
    members: list[accounts.Member]
    api_keys: list[ApiKey]
    tokens: list[PersonalToken]


def _load(session: Session, access: ProjectAccess) -> SettingsData:
    manage_members = allows(access.role, Permission.MANAGE_MEMBERS)
    manage_keys = allows(access.role, Permission.MANAGE_API_KEYS)
    return SettingsData(
        members=accounts.list_members(session, access.project_id) if manage_members else [],
        api_keys=credentials.list_api_keys(session, access.project_id) if manage_keys else [],
        tokens=[
            t
            for t in credentials.list_tokens(session, access.user.id)
            if t.project_id == access.project_id
        ],
    )


def _page(request: Request, access: ProjectAccess, shown: Shown | None = None) -> Response:
    shown = shown or Shown()
    with db_of(request).read() as session:
        data = _load(session, access)
    response = render(
        request,
        "settings.html",
        {
            "access": access,
            "data": data,
            "shown": shown,
            "roles": list(Role),
            "can_manage_members": allows(access.role, Permission.MANAGE_MEMBERS),
            "can_manage_keys": allows(access.role, Permission.MANAGE_API_KEYS),
            "host": str(request.base_url).rstrip("/"),
            "nav_active": "settings",
            # What the create forms will make: sent twice (a reload), they make it once.
            "new_public_key": credentials.new_public_key(),
            "new_token_lookup": credentials.new_token_lookup(),
        },
        status_code=shown.status,
        user=access.user,
    )
    response.headers["Cache-Control"] = "no-store"  # secrets shown once must not be cached
    return response


def _act(
    request: Request,
    access: ProjectAccess,
    section: str,
    action: Callable[[Session], Shown],
    form: dict[str, str] | None = None,
) -> Response:
    """Run one change in a write transaction; show its result, or its error in its section."""
    try:
        with db_of(request).write() as session:
            shown = action(session)
    except DomainError as exc:
        failed = Shown(section=section, error=exc.message, form=form or {}, status=exc.status)
        return _page(request, access, failed)
    shown.section = section
    return _page(request, access, shown)


def _settings_url(access: ProjectAccess) -> str:
    return f"/project/{path_segment(access.project_id)}/settings"


def _set_password_url(request: Request, token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/set-password/{token}"


@router.get(SETTINGS)
def settings_page(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Members and roles, API keys, personal tokens: each part for the roles that may use it."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    return _page(request, access)


def _members_access(request: Request, user: CurrentUser, project_id: str) -> ProjectAccess:
    access = project_access(request, user, project_id)
    forms.require_on_page(
        access, Permission.MANAGE_MEMBERS, _settings_url(access), "Back to the settings"
    )
    return access


@router.post(SETTINGS + "/members")
async def add_member(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Add a person by email; someone new gets an account and a one-time set-password link."""
    access = _members_access(request, user, project_id)
    form = forms.form_context(await request.form(), ("email", "name", "role"))

    def run(session: Session) -> Shown:
        project = accounts.get_project(session, access.project_id)
        added = members.add_by_email(
            session,
            project,
            email=form["email"],
            name=form["name"],
            role=form["role"] or Role.ANNOTATOR.value,
            actor=access.user,
            actor_role=access.role,
        )
        if added.link is None:
            return Shown(notice=f"{added.user.email} was added as {added.role.value}.")
        return Shown(
            notice=f"{added.user.email} had no account: one was created, as {added.role.value}.",
            link=_set_password_url(request, added.link.token),
            link_for=added.user.email,
        )

    return _act(request, access, "members", run, form)


@router.post(SETTINGS + "/members/{user_id}/role")
async def change_role(
    request: Request, user: CurrentUser, project_id: str, user_id: str
) -> Response:
    """Change a member's role (never leaving the project without an OWNER)."""
    access = _members_access(request, user, project_id)
    role = forms.text(await request.form(), "role")

    def run(session: Session) -> Shown:
        project = accounts.get_project(session, access.project_id)
        changed = members.change_role(session, project, user_id, role, actor_role=access.role)
        return Shown(notice=f"{changed.email} is now {role.upper()}.")

    return _act(request, access, "members", run)


@router.post(SETTINGS + "/members/{user_id}/remove")
def remove_member(request: Request, user: CurrentUser, project_id: str, user_id: str) -> Response:
    """Remove a member (never the last OWNER)."""
    access = _members_access(request, user, project_id)

    def run(session: Session) -> Shown:
        project = accounts.get_project(session, access.project_id)
        removed = members.remove(session, project, user_id, actor_role=access.role)
        return Shown(notice=f"{removed.email} was removed from {project.name}.")

    if user_id == access.user.id and not access.user.is_admin:
        response = _act(request, access, "members", run)
        return redirect("/") if response.status_code == 200 else response
    return _act(request, access, "members", run)


@router.post(SETTINGS + "/members/{user_id}/link")
def new_link(request: Request, user: CurrentUser, project_id: str, user_id: str) -> Response:
    """A new set-password link for a member who has not set a password yet."""
    access = _members_access(request, user, project_id)

    def run(session: Session) -> Shown:
        project = accounts.get_project(session, access.project_id)
        link = members.new_password_link(session, project, user_id, actor=access.user)
        target = accounts.get_user(session, user_id)
        return Shown(
            notice="A new link was made; earlier links for this person no longer work.",
            link=_set_password_url(request, link.token),
            link_for=target.email if target else None,
        )

    return _act(request, access, "members", run)


def _keys_access(request: Request, user: CurrentUser, project_id: str) -> ProjectAccess:
    access = project_access(request, user, project_id)
    forms.require_on_page(
        access, Permission.MANAGE_API_KEYS, _settings_url(access), "Back to the settings"
    )
    return access


@router.post(SETTINGS + "/api-keys")
async def create_api_key(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Create a project API key; its secret is shown in this answer only."""
    access = _keys_access(request, user, project_id)
    form = await request.form()
    note = forms.text(form, "note")[:200] or None
    # The key the page offered: a second send of the same form finds it taken.
    public_key = forms.text(form, "public_key")
    if not credentials.is_generated_public_key(public_key):
        public_key = credentials.new_public_key()

    def run(session: Session) -> Shown:
        project = accounts.get_project(session, access.project_id)
        try:
            created = credentials.create_api_key(session, project, note=note, public_key=public_key)
        except Conflict:
            return Shown(notice=_SENT_TWICE.format(what=f"The key {public_key}"))
        return Shown(api_key=created)

    return _act(request, access, "api-keys", run)


_SENT_TWICE = (
    "This form was sent before. {what} was created then; its secret was shown once and "
    "cannot be shown again. To make another, use the form below."
)


@router.post(SETTINGS + "/api-keys/{key_id}/revoke")
def revoke_api_key(request: Request, user: CurrentUser, project_id: str, key_id: str) -> Response:
    """Revoke a project API key: requests with it are refused from now on."""
    access = _keys_access(request, user, project_id)

    def run(session: Session) -> Shown:
        key = credentials.revoke_api_key(session, access.project_id, key_id)
        return Shown(notice=f"The key {key.public_key} was revoked.")

    return _act(request, access, "api-keys", run)


@router.post(SETTINGS + "/tokens")
async def create_token(request: Request, user: CurrentUser, project_id: str) -> Response:
    """Create a personal access token for me in this project; shown in this answer only."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)
    form = await request.form()
    name = forms.text(form, "name") or "token"
    lookup = forms.text(form, "lookup")
    if not credentials.is_generated_token_lookup(lookup):
        lookup = credentials.new_token_lookup()

    def run(session: Session) -> Shown:
        project = accounts.get_project(session, access.project_id)
        me = accounts.get_user(session, access.user.id)
        assert me is not None
        try:
            created = credentials.create_token(session, me, project, name, lookup=lookup)
        except Conflict:
            return Shown(notice=_SENT_TWICE.format(what="The token"))
        return Shown(token=created.value)

    return _act(request, access, "tokens", run)


@router.post(SETTINGS + "/tokens/{token_id}/revoke")
def revoke_token(request: Request, user: CurrentUser, project_id: str, token_id: str) -> Response:
    """Revoke one of my personal access tokens."""
    access = project_access(request, user, project_id)
    require(access.role, Permission.READ)

    def run(session: Session) -> Shown:
        token = credentials.revoke_token(session, access.user.id, token_id)
        return Shown(notice=f"The token {token.name!r} was revoked.")

    return _act(request, access, "tokens", run)
