"""Commands of `xpha serve: the TAP and cone-search service`."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option(None, help="Address to listen on (default XPHA_TAP_HOST, loopback)."),
    port: int = typer.Option(None, help="Port to listen on (default XPHA_TAP_PORT, 8000)."),
    workers: int = typer.Option(1, help="Server processes (each with its own pool)."),
) -> None:
    """Serve TAP 1.1 at /tap, cone search at /scs and a landing page at /."""
    import uvicorn

    from sql.settings import get_settings

    settings = get_settings()
    host = host or settings.tap_host
    port = port or settings.tap_port
    typer.echo(f"xpha TAP service on http://{host}:{port}/tap (cone search /scs)")
    if workers > 1:
        uvicorn.run("tap_service.app:create_app", factory=True, host=host, port=port,
                    workers=workers, log_level="warning")
    else:
        from tap_service.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
    app.command("serve")(serve)
