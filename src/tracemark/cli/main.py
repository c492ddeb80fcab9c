"""The click group; every command's expected failures become one line and exit code 1."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from tracemark.cli import accounts_cmds, db_cmds, demo_cmd, serve_cmd
from tracemark.cli.common import CliError
from tracemark.config import ConfigError
from tracemark.services.errors import DomainError


class TracemarkGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (CliError, ConfigError, DomainError) as exc:
            raise click.ClickException(str(exc)) from None
        except OperationalError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
            raise click.ClickException(f"database error: {first}") from None
        except SQLAlchemyError as exc:
            raise click.ClickException(f"database error: {str(exc).splitlines()[0]}") from None


@click.group(cls=TracemarkGroup, invoke_without_command=True)
@click.version_option(package_name="tracemark")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Tracemark: human annotation of LLM traces.

    Without a command, `tracemark` runs `tracemark serve`.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve_cmd.serve)


cli.add_command(serve_cmd.serve)
cli.add_command(db_cmds.db)
cli.add_command(accounts_cmds.user)
cli.add_command(accounts_cmds.project)
cli.add_command(accounts_cmds.keys)
cli.add_command(accounts_cmds.tokens)
cli.add_command(demo_cmd.demo)


def main() -> None:
    cli(prog_name="tracemark")
