"""The ``xpha`` command: one entry point whose sub-commands mirror the project's folders.

Each part contributes its commands through a ``register(app)`` function in its ``cli`` module;
heavy imports (torch, dask, astropy) happen inside commands, so ``xpha --help`` is fast.
"""

from __future__ import annotations

import sys

import psycopg
import typer

from ingest import cli as ingest_cli
from ingest import labels_cli
from ingest.simulator import cli as simulator_cli
from sql import cli as db_cli
from sql.errors import XphaError
from tap_service import cli as tap_cli
from training import cli as training_cli
from xpha import demo

app = typer.Typer(
    help="xpha: H-alpha emission-line stars in Gaia DR3 XP spectra, served over TAP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# In help order; each adds its own commands to the root app.
COMMAND_MODULES = (db_cli, ingest_cli, simulator_cli, labels_cli, training_cli, tap_cli, demo)


def _register_commands() -> None:
    for module in COMMAND_MODULES:
        module.register(app)


def main() -> None:
    """Console entry point: known failures become one red line and exit status 1."""
    _register_commands()
    try:
        app()
    except XphaError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
        # the code is newer than the database's schema
        message = str(exc).splitlines()[0]
        typer.secho(
            f"error: {message}; the database schema is older than this xpha: run `xpha db migrate`",
            fg=typer.colors.RED,
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
