"""`tracemark demo [--serve]`: a demo project with data to annotate at once."""

from __future__ import annotations

import click

from tracemark.cli.common import database_options, open_database, settings_from
from tracemark.cli.serve_cmd import run_server
from tracemark.services import demo as demo_service


@click.command()
@click.option("--serve", "and_serve", is_flag=True, help="Start the server afterwards.")
@click.option("--host", default=None, help="With --serve: address to listen on.")
@click.option("--port", default=None, type=int, help="With --serve: port to listen on.")
@database_options
def demo(
    and_serve: bool,
    host: str | None,
    port: int | None,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Create (or refresh) the demo project, its users and its key pair.

    Running it again does not duplicate anything. Prints the URL, the login and the keys.
    """
    settings = settings_from(data_dir, database_url, host=host, port=port)
    db = open_database(settings)
    with db.write() as session:
        info = demo_service.ensure_demo_accounts(session)
    with db.write() as session:
        added = demo_service.ensure_demo_traces(session, info.project_id)
    with db.write() as session:
        demo_service.ensure_demo_scores(session, info.project_id)
    with db.write() as session:
        queue_id = demo_service.ensure_demo_queue(session, info.project_id)
    db.dispose()
    base = settings.base_url
    project_url = f"{base}/project/{info.project_id}"
    click.echo(
        "\n".join(
            [
                "Tracemark demo is ready" + (f" ({added} demo traces added)." if added else "."),
                f"  Open:      {base}/project/{info.project_id}",
                f"  Annotate:  {project_url}/annotation-queues/{queue_id}/process",
                f"  Log in:    {info.email} / {info.password}",
                "  Annotators: "
                + ", ".join(f"{email}" for email, _ in info.annotators)
                + f" (password {info.password})",
                f"  API keys:  LANGFUSE_PUBLIC_KEY={info.public_key} "
                f"LANGFUSE_SECRET_KEY={info.secret_key} LANGFUSE_HOST={base}",
            ]
        )
    )
    if and_serve:
        run_server(settings)
