"""The ``xpha`` command: one entry point whose sub-commands mirror the project's folders.

Each package contributes its commands through a ``register(app)`` function in its ``cli``
module; heavy imports (torch, dask, astropy) happen inside commands, so ``xpha --help`` is fast.
"""

from __future__ import annotations

import importlib
import sys

import psycopg
import typer

from sql.database import (
    database_url,
    embedded_cluster,
    migrate,
    migration_status,
)
from sql.errors import XphaError
from sql.settings import get_settings

app = typer.Typer(
    help="xpha: H-alpha emission-line stars in Gaia DR3 XP spectra, served over TAP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The database: embedded PostgreSQL cluster and schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

COMMAND_MODULES = (
    "ingest.cli",
    "ingest.simulator.cli",
    "ingest.labels_cli",
    "training.cli",
    "tap_service.cli",
    "sql.demo",
)


@db_app.command("start")
def db_start() -> None:
    """Create (first time) and start the embedded cluster, then apply migrations."""
    settings = get_settings()
    if settings.database_url:
        typer.echo("XPHA_DATABASE_URL is set: using that server, nothing to start.")
    else:
        cluster = embedded_cluster(settings)
        cluster.start()
        cluster.ensure_database(settings.pg_database)
        typer.echo(f"embedded PostgreSQL running on 127.0.0.1:{settings.pg_port} ({cluster.data_dir})")
    applied = migrate()
    typer.echo(f"schema up to date ({len(applied)} migration(s) applied now)")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster."""
    settings = get_settings()
    if settings.database_url:
        typer.echo("XPHA_DATABASE_URL is set: the external server is not managed by xpha.")
        return
    embedded_cluster(settings).stop()
    typer.echo("embedded PostgreSQL stopped")


@db_app.command("status")
def db_status() -> None:
    """Say where the database is, whether it runs, and which migrations it has."""
    settings = get_settings()
    if settings.database_url:
        typer.echo("database: external (XPHA_DATABASE_URL)")
    else:
        cluster = embedded_cluster(settings)
        state = "running" if cluster.is_running() else "stopped"
        typer.echo(f"database: embedded, {state}, 127.0.0.1:{settings.pg_port}, {cluster.data_dir}")
        if state == "stopped":
            raise typer.Exit(3)
    for migration, applied in migration_status():
        mark = "applied" if applied else "pending"
        typer.echo(f"  {migration.version:03d} {migration.name:<24} {mark}")


@db_app.command("url")
def db_url() -> None:
    """Print the connection URL (for psql, TOPCAT's JDBC, scripts)."""
    typer.echo(database_url())


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (idempotent)."""
    applied = migrate()
    for migration in applied:
        typer.echo(f"applied {migration.path.name}")
    typer.echo(f"schema up to date ({len(applied)} migration(s) applied now)")


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
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
        typer.secho(f"error: {message}; the database schema is older than this xpha: "
                    "run `xpha db migrate`", fg=typer.colors.RED, err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
