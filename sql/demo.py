"""`xpha demo`: the README's main job, from an empty machine to a queryable service."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``xpha demo`` to the root app."""
