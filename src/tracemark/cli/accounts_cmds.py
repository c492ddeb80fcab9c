"""`tracemark user | project | keys | tokens`: accounts from the command line."""

from __future__ import annotations

import sys

import click

from tracemark.cli.common import CliError, database_options, open_database, settings_from
from tracemark.services import accounts, credentials


@click.group()
def user() -> None:
    """Users of this Tracemark instance."""


@user.command("create")
@click.option("--email", required=True, help="Login email (unique, case-insensitive).")
@click.option("--name", required=True, help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--admin", is_flag=True, help="Make the user an instance administrator.")
@database_options
def user_create(
    email: str,
    name: str,
    password_stdin: bool,
    admin: bool,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Create a user. Without --password-stdin the password is asked for twice."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("no password on standard input")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    db = open_database(settings_from(data_dir, database_url))
    with db.write() as session:
        created = accounts.create_user(
            session, email=email, name=name, password=password, is_admin=admin
        )
        click.echo(f"created user {created.email} ({created.id}){' as admin' if admin else ''}")


@click.group()
def project() -> None:
    """Projects and their members."""


@project.command("create")
@click.argument("name")
@click.option("--owner", default=None, help="Email of the user who becomes OWNER.")
@database_options
def project_create(
    name: str, owner: str | None, data_dir: str | None, database_url: str | None
) -> None:
    """Create a project named NAME."""
    db = open_database(settings_from(data_dir, database_url))
    with db.write() as session:
        owner_user = accounts.require_user_by_email(session, owner) if owner else None
        created = accounts.create_project(session, name, owner=owner_user)
        click.echo(f"created project {created.name} ({created.id})")


@project.command("add-member")
@click.argument("project_ref", metavar="PROJECT")
@click.argument("email")
@click.argument("role")
@database_options
def project_add_member(
    project_ref: str, email: str, role: str, data_dir: str | None, database_url: str | None
) -> None:
    """Give EMAIL the ROLE (OWNER, ADMIN, MEMBER, ANNOTATOR, VIEWER) in PROJECT (name or id)."""
    db = open_database(settings_from(data_dir, database_url))
    with db.write() as session:
        found = accounts.find_project(session, project_ref)
        member = accounts.require_user_by_email(session, email)
        membership = accounts.set_membership(session, found, member, role)
        click.echo(f"{member.email} is {membership.role} in {found.name}")


@click.group()
def keys() -> None:
    """Project API keys (HTTP Basic: public key as user, secret key as password)."""


@keys.command("create")
@click.argument("project_ref", metavar="PROJECT")
@click.option("--note", default=None, help="What the key is for.")
@database_options
def keys_create(
    project_ref: str, note: str | None, data_dir: str | None, database_url: str | None
) -> None:
    """Create a key pair for PROJECT. The secret is printed once and never again."""
    db = open_database(settings_from(data_dir, database_url))
    with db.write() as session:
        found = accounts.find_project(session, project_ref)
        new = credentials.create_api_key(session, found, note=note)
        click.echo(f"public key: {new.key.public_key}")
        click.echo(f"secret key: {new.secret}")
        click.echo("Store the secret now: it is not shown again.", err=True)


@click.group()
def tokens() -> None:
    """Personal access tokens (HTTP Bearer; act as the user with their role)."""


@tokens.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--project", "project_ref", required=True, help="Project name or id.")
@click.option("--name", default="cli", help="A label for the token.")
@database_options
def tokens_create(
    email: str, project_ref: str, name: str, data_dir: str | None, database_url: str | None
) -> None:
    """Create a personal access token; it is printed once and never again."""
    db = open_database(settings_from(data_dir, database_url))
    with db.write() as session:
        found = accounts.find_project(session, project_ref)
        owner = accounts.require_user_by_email(session, email)
        new = credentials.create_token(session, owner, found, name)
        click.echo(new.value)
