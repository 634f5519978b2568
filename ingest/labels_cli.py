"""Commands of ``xpha labels``: SDSS H-alpha measurement, LAMOST catalogues, crossmatch, labels.

A thin layer: each command calls one service function (ingest/sdss.py, lamost.py,
crossmatch.py, sdss_query.py, label_review.py) and prints what it did.
"""

from __future__ import annotations

from pathlib import Path

import typer

labels_app = typer.Typer(
    help="Labels: SDSS H-alpha measurement, LAMOST catalogues, Q3C crossmatch, training labels.",
    no_args_is_help=True,
)


@labels_app.command("measure")
def measure_command(
    paths: list[Path] = typer.Argument(..., help="spec-*.fits files or directories of them."),
) -> None:
    """Measure H-alpha in SDSS spectra into labels.sdss_spectra (re-runs replace rows)."""
    from ingest.sdss import measure_files

    report = measure_files(paths)
    rate = report.files / report.seconds if report.seconds else 0.0
    typer.echo(
        f"{report.files} spectra: {report.measured} measured, {report.unmeasurable} "
        f"unmeasurable; labels {report.positive} positive, {report.negative} negative "
        f"({report.seconds:.1f} s, {rate:.0f}/s)"
    )


@labels_app.command("lamost")
def lamost_command(
    files: list[Path] = typer.Argument(..., help="Catalogue files (CSV or FITS)."),
    catalogue: str | None = typer.Option(None, help="Catalogue name (default: from file name)."),
    layout: str | None = typer.Option(None, help="Column layout: hou2016, liu2019."),
) -> None:
    """Load LAMOST H-alpha emission-line catalogues into labels.lamost_els (idempotent)."""
    from ingest.lamost import load_file
    from ingest.settings import get_settings

    for path in files:
        name, read, distinct = load_file(
            path, catalogue, layout, chunk_rows=get_settings().ingest_chunk_rows
        )
        typer.echo(f"{path}: {read} rows read; catalogue {name} now has {distinct} entries")


@labels_app.command("vizier")
def vizier_command(
    catalog: str = typer.Argument(..., help="VizieR catalogue, e.g. J/ApJS/241/32."),
    name: str = typer.Option(..., "--name", help="Catalogue name to store it under."),
    layout: str = typer.Option(..., help="Column layout: hou2016, liu2019."),
) -> None:
    """Fetch an H-alpha catalogue from VizieR (astroquery) and load it."""
    from ingest.lamost import LAYOUTS, CatalogueError, fetch_vizier, load_rows, table_rows

    if layout not in LAYOUTS:
        raise CatalogueError(f"unknown layout {layout!r}; known: {sorted(LAYOUTS)}")
    names, rows = table_rows(fetch_vizier(catalog))
    read, distinct = load_rows(names, rows, name, f"vizier:{catalog}", LAYOUTS[layout])
    typer.echo(f"vizier {catalog}: {read} rows read; catalogue {name} now has {distinct} entries")


@labels_app.command("crossmatch")
def crossmatch_command(
    radius_arcsec: float | None = typer.Option(None, help="Match radius (default: settings, 1)."),
    survey: list[str] = typer.Option(["sdss", "lamost"], help="Which surveys to match."),
) -> None:
    """Q3C crossmatch of Gaia with SDSS and LAMOST, proper motions applied (rebuilds)."""
    from ingest.crossmatch import crossmatch

    for name in survey:
        r = crossmatch(name, radius_arcsec)
        typer.echo(
            f"{name}: {r.matched} of {r.entries} entries matched, {r.ambiguous} with more than "
            f"one Gaia candidate ({r.seconds:.2f} s)"
        )


@labels_app.command("summary")
def summary_command() -> None:
    """Counts of measurements, catalogue entries, matches and training labels."""
    from ingest.labels_queries import SUMMARY
    from sql.database import connect

    with connect() as conn:
        for title, sql in SUMMARY.items():
            typer.echo(f"{title}:")
            for a, b, n in conn.execute(sql).fetchall():
                typer.echo(f"  {a:<28} {b:<16} {n:>10}")


@labels_app.command("sdss-query")
def sdss_query_command(
    out: Path = typer.Option(..., help="Manifest CSV to write (plate, mjd, fiberID, ...)."),
    g_min: float = typer.Option(12.0, help="Brightest g (PSF) magnitude."),
    g_max: float = typer.Option(19.0, help="Faintest g (PSF) magnitude."),
    gr_min: float | None = typer.Option(None, help="Bluest g-r colour."),
    gr_max: float | None = typer.Option(None, help="Reddest g-r colour."),
    limit: int = typer.Option(1000, help="Most spectra to select (TOP)."),
    show_sql: bool = typer.Option(False, help="Print the SkyServer SQL and stop."),
) -> None:
    """Select stellar SDSS spectra through SkyServer SQL (astroquery) into a manifest."""
    from ingest.sdss_query import StarSelection, run_selection, selection_sql

    selection = StarSelection(g_min, g_max, gr_min, gr_max, limit)
    if show_sql:
        typer.echo(selection_sql(selection))
        return
    n = run_selection(selection, out)
    typer.echo(f"{n} spectra written to {out}")


@labels_app.command("sdss-download")
def sdss_download_command(
    manifest: Path = typer.Argument(..., help="Manifest CSV from `xpha labels sdss-query`."),
    out: Path | None = typer.Option(None, help="Directory (default: settings sdss_download_dir)."),
) -> None:
    """Download the manifest's spectra through astroquery (resumable: present files are kept)."""
    from ingest.sdss_query import download_manifest

    report = download_manifest(manifest, out)
    typer.echo(
        f"{report.downloaded} downloaded, {report.present} already present, "
        f"{report.failed} failed (see {report.log})"
    )


@labels_app.command("review")
def review_command(
    out: Path = typer.Option(Path("var/labels_review"), help="Directory for the PNGs."),
    limit: int = typer.Option(48, help="Most spectra to draw."),
    which: str = typer.Option("flagged", help="flagged, positive, negative or all."),
) -> None:
    """PNGs of the H-alpha window (flux, continuum, model, EW) and a contact sheet."""
    from ingest.label_review import review

    pngs, sheet = review(out, which=which, limit=limit)
    typer.echo(f"{len(pngs)} review plots and contact sheet {sheet}")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root `xpha` app."""
    app.add_typer(labels_app, name="labels")
