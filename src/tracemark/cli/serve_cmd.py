"""`tracemark serve`: run the web UI and the API."""

from __future__ import annotations

import os

import click
import uvicorn

from tracemark.cli.common import database_options, open_database, settings_from
from tracemark.config import Settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on (default 3000).")
@click.option("--workers", default=None, type=int, help="Server processes (default 1).")
@database_options
def serve(
    host: str | None,
    port: int | None,
    workers: int | None,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Serve the web UI and the API.

    On SQLite the schema is migrated automatically; a PostgreSQL database that is behind is
    refused with a message naming `tracemark db upgrade`.
    """
    settings = settings_from(data_dir, database_url, host=host, port=port, workers=workers)
    run_server(settings)


def run_server(settings: Settings) -> None:
    db = open_database(settings)
    db.dispose()
    # Worker processes read their settings from the environment (see tracemark.app.factory).
    os.environ.update(settings.to_env())
    click.echo(f"Tracemark listening on {settings.base_url} ({_describe(settings)})", err=True)
    uvicorn.run(
        "tracemark.app:factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


def _describe(settings: Settings) -> str:
    from tracemark.cli.common import safe_url

    workers = f"{settings.workers} workers" if settings.workers > 1 else "1 worker"
    return f"{safe_url(settings.resolved_database_url)}, {workers}"
