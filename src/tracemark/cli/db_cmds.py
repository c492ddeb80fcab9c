"""`tracemark db upgrade | current | check`."""

from __future__ import annotations

import click

from tracemark.cli.common import CliError, connect, database_options, safe_url, settings_from
from tracemark.db import migrate


@click.group()
def db() -> None:
    """Database schema: upgrade, current revision, drift check."""


@db.command()
@database_options
def upgrade(data_dir: str | None, database_url: str | None) -> None:
    """Apply every pending migration."""
    database = connect(settings_from(data_dir, database_url))
    before = migrate.current_revision(database.engine)
    migrate.upgrade(database.write_engine)
    after = migrate.current_revision(database.engine)
    click.echo(f"{safe_url(database.url)}: {before or 'empty'} -> {after}")


@db.command()
@database_options
def current(data_dir: str | None, database_url: str | None) -> None:
    """Print the database's revision and whether it is the newest."""
    database = connect(settings_from(data_dir, database_url))
    revision = migrate.current_revision(database.engine)
    head = migrate.head_revision()
    state = "up to date" if revision == head else f"behind; newest is {head}"
    click.echo(f"{revision or 'empty'} ({state})")


@db.command()
@database_options
def check(data_dir: str | None, database_url: str | None) -> None:
    """Fail when the database is behind, or its schema and the models differ."""
    database = connect(settings_from(data_dir, database_url))
    if not migrate.is_current(database.engine):
        raise CliError("the database is not at the newest revision; run `tracemark db upgrade`")
    differences = migrate.drift(database.engine)
    if differences:
        for diff in differences:
            click.echo(f"  {diff}", err=True)
        raise CliError(f"models and migrations differ in {len(differences)} places")
    click.echo("models and migrations match")
