"""Commands of ``xpha db``: the embedded PostgreSQL cluster and the schema's migrations."""

from __future__ import annotations

import typer

from sql.database import (
    database_url,
    embedded_cluster,
    migrate,
    migration_status,
)
from sql.settings import get_settings

db_app = typer.Typer(
    help="The database: embedded PostgreSQL cluster and schema.", no_args_is_help=True
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
        typer.echo(
            f"embedded PostgreSQL running on 127.0.0.1:{settings.pg_port} ({cluster.data_dir})"
        )
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


def register(app: typer.Typer) -> None:
    """Add ``xpha db ...`` to the root app."""
    app.add_typer(db_app, name="db")
