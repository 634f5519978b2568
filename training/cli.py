"""Commands of `xpha train / score / evaluate: models, scores and reports`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
