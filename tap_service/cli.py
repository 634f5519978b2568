"""Commands of `xpha serve: the TAP and cone-search service`."""

from __future__ import annotations

import typer


def serve(
    host: str | None = typer.Option(
        None, help="Address to listen on (default XPHA_TAP_HOST, loopback)."
    ),
    port: int | None = typer.Option(None, help="Port to listen on (default XPHA_TAP_PORT, 8000)."),
    workers: int = typer.Option(1, help="Server processes (each with its own pool)."),
) -> None:
    """Serve TAP 1.1 at /tap, cone search at /scs and a landing page at /."""
    import uvicorn

    from tap_service.settings import get_settings

    settings = get_settings()
    host = host or settings.tap_host
    port = port or settings.tap_port
    typer.echo(f"xpha TAP service on http://{host}:{port}/tap (cone search /scs)")
    if workers > 1:
        uvicorn.run(
            "tap_service.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
    else:
        from tap_service.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


tap_app = typer.Typer(help="TAP service administration (bearer tokens).", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for XPHA_TAP_AUTH=bearer.", no_args_is_help=True)
tap_app.add_typer(token_app, name="token")


@token_app.command("add")
def add_token(user: str = typer.Argument(..., help="Who the token is for (its jobs' owner).")):
    """Make a token for USER and print it once; only its SHA-256 is stored."""
    from tap_service.callers import add_token as make_token
    from tap_service.settings import get_settings

    path = get_settings().tap_tokens_path
    try:
        token = make_token(path, user)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)
    typer.echo(
        f"(stored as a SHA-256 digest in {path}; send it as 'Authorization: Bearer "
        "TOKEN', e.g. pyvo: session.headers['Authorization'] = 'Bearer ' + token)",
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
    app.command("serve")(serve)
    app.add_typer(tap_app, name="tap")
