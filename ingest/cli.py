"""Commands of ``xpha ingest`` and ``xpha fetch``: load Gaia files, fetch from the Gaia archive.

A thin layer over ingest/gaia_xp.py, ingest/gaia_source.py and ingest/fetch_gaia.py.
"""

from __future__ import annotations

from pathlib import Path

import typer

ingest_app = typer.Typer(help="Load Gaia DR3 files into the database.", no_args_is_help=True)
fetch_app = typer.Typer(
    help="Fetch from the Gaia archive (astroquery), then ingest.", no_args_is_help=True
)

PATHS_HELP = (
    "Files (.csv, .ecsv, .fits, .xml/.vot, optionally .gz) or directories of them; "
    "directories are read in sorted order and a re-run resumes."
)


def _report(results: list) -> None:
    for r in results:
        if r.skipped:
            typer.echo(f"{r.file_name}: already loaded (same checksum), skipped")
        else:
            rate = r.rows_read / r.duration_s if r.duration_s else 0.0
            typer.echo(
                f"{r.file_name}: {r.rows_read} rows read, {r.rows_loaded} new "
                f"({r.duration_s:.2f} s, {rate:,.0f} rows/s)"
            )


@ingest_app.command("gaia-xp")
def ingest_gaia_xp(
    paths: list[Path] = typer.Argument(..., help=PATHS_HELP),
    chunk_rows: int | None = typer.Option(
        None,
        help="Rows per chunk (default: settings); at most 500 for XP, whose rows are ~36 kB "
        "of text, so that every buffer is reused instead of mapped afresh.",
    ),
    jobs: int = typer.Option(1, help="Files loaded at once, one process each."),
) -> None:
    """Load XP continuous mean spectra (xp_continuous_mean_spectrum) into gaia.xp_continuous."""
    from ingest.gaia_xp import ingest_xp
    from ingest.settings import get_settings

    _report(ingest_xp(paths, chunk_rows=chunk_rows or get_settings().ingest_chunk_rows, jobs=jobs))


@ingest_app.command("gaia-source")
def ingest_gaia_source(
    paths: list[Path] = typer.Argument(..., help=PATHS_HELP),
    chunk_rows: int | None = typer.Option(None, help="Rows per chunk (default: settings)."),
    jobs: int = typer.Option(1, help="Files loaded at once, one process each."),
) -> None:
    """Load gaia_source rows (archive query results) into gaia.source."""
    from ingest.gaia_source import ingest_source
    from ingest.settings import get_settings

    _report(
        ingest_source(paths, chunk_rows=chunk_rows or get_settings().ingest_chunk_rows, jobs=jobs)
    )


@fetch_app.command("gaia-xp")
def fetch_gaia_xp(
    ids: str | None = typer.Option(None, help="Comma-separated Gaia DR3 source_ids."),
    ids_file: Path | None = typer.Option(None, help="A file of source_ids, one per line."),
    adql: str | None = typer.Option(
        None,
        help="An ADQL query on gaiadr3.gaia_source; its rows go to gaia.source and the "
        "XP spectra of its source_ids are fetched.",
    ),
    out: Path | None = typer.Option(None, help="Where fetched files go (default: settings)."),
    format: str = typer.Option("fits", help="DataLink format: fits, csv, ecsv or votable."),
    data_structure: str = typer.Option("INDIVIDUAL", help="INDIVIDUAL, COMBINED or RAW."),
) -> None:
    """Fetch XP continuous spectra through astroquery.gaia, keep the files, ingest them."""
    from ingest.fetch_gaia import FetchError, fetch_and_ingest, read_ids

    if sum(x is not None for x in (ids, ids_file, adql)) != 1:
        raise FetchError("give exactly one of --ids, --ids-file or --adql")
    id_list = read_ids(ids, ids_file) if adql is None else None
    report = fetch_and_ingest(
        ids=id_list, adql=adql, out_dir=out, format=format, data_structure=data_structure
    )
    for path in report.files:
        typer.echo(f"fetched {path}")
    _report(report.results)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
    app.add_typer(ingest_app, name="ingest")
    app.add_typer(fetch_app, name="fetch")
