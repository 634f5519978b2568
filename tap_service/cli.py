"""Commands of `xpha serve: the TAP and cone-search service`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
