"""Commands of `xpha labels: SDSS H-alpha measurement, LAMOST catalogues, crossmatch, training labels`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
