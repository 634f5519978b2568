"""Select stellar SDSS spectra through SkyServer SQL and download them, resumably (astroquery).

``selection_sql`` builds the CasJobs/SkyServer query (SpecObjAll joined to PhotoObjAll on
bestObjID; column names as in the DR12+ schema, e.g. ``fiberID``); ``run_selection`` runs it
with ``astroquery.sdss.SDSS.query_sql`` and writes a manifest CSV (one row per plate-mjd-fiber);
``download_manifest`` fetches each spectrum with ``SDSS.get_spectra_async`` into
spec-PLATE-MJD-FIBER.fits, writing to a temporary name and renaming only once the file reads
as a complete spectrum, so an interrupted run resumes where it stopped and never leaves a
half-written file behind.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from ingest.sdss_spectra import SpectrumReadError, read_spectrum, read_spectrum_bytes
from ingest.settings import IngestSettings, get_settings
from sql.errors import XphaError

MANIFEST_COLUMNS = (
    "specobjid",
    "plate",
    "mjd",
    "fiberID",
    "run2d",
    "ra",
    "dec",
    "z",
    "zWarning",
    "class",
    "subClass",
    "snMedian",
    "psfMag_g",
    "psfMag_r",
)


@dataclass(frozen=True)
class StarSelection:
    """Stellar spectra in a magnitude (and optional colour) range, good redshifts only."""

    g_min: float = 12.0
    g_max: float = 19.0
    gr_min: float | None = None
    gr_max: float | None = None
    limit: int = 1000
    object_class: str = "STAR"


def selection_sql(sel: StarSelection) -> str:
    """The SkyServer SQL for a selection (numbers formatted, never pasted as text)."""
    if not sel.g_min < sel.g_max:
        raise XphaError(f"g range is empty: {sel.g_min} .. {sel.g_max}")
    if sel.limit <= 0:
        raise XphaError(f"limit must be positive, got {sel.limit}")
    if not sel.object_class.isalpha():
        raise XphaError(f"class must be a word such as STAR, got {sel.object_class!r}")
    where = [
        f"s.class = '{sel.object_class.upper()}'",
        "s.zWarning = 0",
        f"p.psfMag_g BETWEEN {float(sel.g_min):.3f} AND {float(sel.g_max):.3f}",
    ]
    if sel.gr_min is not None:
        where.append(f"p.psfMag_g - p.psfMag_r >= {float(sel.gr_min):.3f}")
    if sel.gr_max is not None:
        where.append(f"p.psfMag_g - p.psfMag_r <= {float(sel.gr_max):.3f}")
    return (
        f"SELECT TOP {int(sel.limit)} s.specObjID AS specobjid, s.plate, s.mjd, s.fiberID,"
        " s.run2d, s.ra, s.dec, s.z, s.zWarning, s.class, s.subClass, s.snMedian,"
        " p.psfMag_g, p.psfMag_r"
        " FROM SpecObjAll AS s JOIN PhotoObjAll AS p ON s.bestObjID = p.objID"
        f" WHERE {' AND '.join(where)}"
        " ORDER BY s.specObjID"
    )


def write_manifest(table, path: Path) -> int:
    """Write the manifest CSV from a query result (columns it lacks are left empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = {n.lower(): n for n in table.colnames}
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(MANIFEST_COLUMNS)
        for row in table:
            writer.writerow(
                [row[names[c.lower()]] if c.lower() in names else "" for c in MANIFEST_COLUMNS]
            )
    return len(table)


def run_selection(sel: StarSelection, out: Path, settings: IngestSettings | None = None) -> int:
    """Run the selection on SkyServer and write the manifest; returns the number of spectra."""
    from astroquery.sdss import SDSS

    settings = settings or get_settings()
    table = SDSS.query_sql(selection_sql(sel), data_release=settings.sdss_data_release)
    if table is None:
        raise XphaError("SkyServer returned no spectra for this selection")
    return write_manifest(table, out)


@dataclass
class DownloadReport:
    downloaded: int = 0
    present: int = 0
    failed: int = 0
    log: Path | None = None


def _complete(path: Path) -> bool:
    try:
        read_spectrum(path)
        return True
    except SpectrumReadError:
        return False


def download_manifest(
    manifest: Path, out: Path | None = None, settings: IngestSettings | None = None
) -> DownloadReport:
    """Fetch every manifest spectrum not already on disk (complete); failures go to a log."""
    from astropy.table import Table
    from astroquery.sdss import SDSS
    from tqdm import tqdm

    settings = settings or get_settings()
    out = Path(out or settings.sdss_download_dir or settings.var_dir / "sdss")
    out.mkdir(parents=True, exist_ok=True)
    log = out / "download_failures.csv"
    report = DownloadReport(log=log)
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in ("plate", "mjd", "fiberID", "run2d") if rows and c not in rows[0]]
    if missing:
        raise XphaError(f"{manifest}: manifest lacks column(s) {', '.join(missing)}")
    failures: list[tuple[str, str]] = []
    for row in tqdm(rows, unit="spec", desc="SDSS download"):
        plate, mjd, fiber = int(row["plate"]), int(row["mjd"]), int(row["fiberID"])
        target = out / f"spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits"
        if target.exists() and _complete(target):
            report.present += 1
            continue
        matches = Table(
            rows=[(row["run2d"], plate, mjd, fiber)], names=("run2d", "plate", "mjd", "fiberID")
        )
        try:
            (container,) = SDSS.get_spectra_async(
                matches=matches,
                data_release=settings.sdss_data_release,
                cache=False,
                show_progress=False,
            )
            data = container.get_string()
            read_spectrum_bytes(data, str(target))  # refuse incomplete downloads
        except (SpectrumReadError, OSError, ValueError, TypeError) as exc:
            failures.append((target.name, str(exc)))
            report.failed += 1
            continue
        partial = target.with_suffix(".fits.part")
        partial.write_bytes(data)
        os.replace(partial, target)
        report.downloaded += 1
    with log.open("w", newline="") as fh:
        csv.writer(fh).writerows([("file", "error"), *failures])
    return report
