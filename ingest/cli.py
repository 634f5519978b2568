"""Commands of `xpha ingest / xpha fetch: load Gaia files and fetch from the Gaia archive`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
