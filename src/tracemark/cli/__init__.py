"""The `tracemark` command line: serve (default), db, user, project, keys, tokens, demo."""

from __future__ import annotations

from tracemark.cli.main import cli, main

__all__ = ["cli", "main"]
