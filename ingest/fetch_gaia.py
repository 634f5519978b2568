"""Fetch Gaia DR3 XP continuous spectra and gaia_source rows from the archive (astroquery.gaia).

Fetched results are kept as files (the DataLink zip as the archive sent it, its XP_CONTINUOUS
members extracted next to it; the ADQL job's VOTable) and then loaded through the same ingest
path as local files, so a fetch is as idempotent and resumable as an ingest. The astroquery
``GaiaClass`` is a parameter: tests pass one whose HTTP layer replays recorded responses.
"""

from __future__ import annotations

import contextlib
import datetime
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.bulk import IngestResult
from ingest.gaia_source import ingest_source
from ingest.gaia_xp import ingest_xp
from ingest.readers import read_table, to_column
from ingest.settings import IngestSettings, get_settings
from sql.errors import XphaError

FORMATS = {"fits": "fits", "csv": "csv", "ecsv": "ecsv", "votable": "votable", "vot": "votable"}
DATA_STRUCTURES = ("INDIVIDUAL", "COMBINED", "RAW")


class FetchError(XphaError):
    """The archive could not be asked or answered with something unusable."""


@dataclass
class FetchReport:
    files: list[Path] = field(default_factory=list)  # files written, in fetch order
    results: list[IngestResult] = field(default_factory=list)


def read_ids(ids: str | None, ids_file: Path | None) -> list[int]:
    """source_ids from a comma/space separated string or a one-per-line file."""
    if ids_file is not None:
        if not ids_file.is_file():
            raise FetchError(f"{ids_file}: no such file")
        text, origin = ids_file.read_text(), str(ids_file)
    else:
        text, origin = ids or "", "--ids"
    values = []
    for number, token in enumerate(text.replace(",", " ").split(), 1):
        if token.startswith("#"):
            continue
        try:
            values.append(int(token))
        except ValueError:
            raise FetchError(f"{origin}: item {number} ({token!r}) is not a source_id") from None
    if not values:
        raise FetchError(f"{origin}: no source_ids given")
    return list(dict.fromkeys(values))


def _gaia(gaia: Any | None) -> Any:
    if gaia is not None:
        return gaia
    from astroquery.gaia import Gaia

    return Gaia


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%f")


def fetch_xp(
    ids: Iterable[int],
    out_dir: Path,
    format: str = "fits",
    data_structure: str = "INDIVIDUAL",
    gaia: Any | None = None,
    settings: IngestSettings | None = None,
) -> list[Path]:
    """Ask DataLink for XP_CONTINUOUS of ``ids`` (batches); returns the extracted XP files."""
    settings = settings or get_settings()
    if format not in FORMATS:
        raise FetchError(f"format {format!r} is not one of {', '.join(FORMATS)}")
    if data_structure.upper() not in DATA_STRUCTURES:
        raise FetchError(
            f"data structure {data_structure!r} is not one of {', '.join(DATA_STRUCTURES)}"
        )
    ids = list(ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for start in range(0, len(ids), settings.gaia_fetch_batch):
        batch = ids[start : start + settings.gaia_fetch_batch]
        # astroquery writes the DataLink zip into the working directory
        with contextlib.chdir(out_dir):
            before = set(Path(".").glob("datalink_output_*.zip"))
            try:
                with warnings.catch_warnings():
                    # astroquery parses every product (MCMC units like 'dex' warn); XP is read
                    # from the files afterwards
                    warnings.simplefilter("ignore")
                    _gaia(gaia).load_data(
                        ids=batch,
                        data_release=settings.gaia_data_release,
                        retrieval_type="XP_CONTINUOUS",
                        data_structure=data_structure.upper(),
                        format=FORMATS[format],
                        dump_to_file=True,
                        overwrite_output_file=True,
                    )
            except Exception as exc:  # astroquery raises HTTP, XML and value errors alike
                raise FetchError(
                    f"Gaia DataLink request for {len(batch)} source_id(s) "
                    f"(first {batch[0]}) failed: {exc}"
                ) from exc
            written = sorted(set(Path(".").glob("datalink_output_*.zip")) - before)
        if not written:
            raise FetchError(f"Gaia DataLink returned no file for source_ids {batch[0]}...")
        archive = out_dir / f"xp_continuous_{batch[0]}_{len(batch)}_{_stamp()}.zip"
        (out_dir / written[-1]).rename(archive)
        files.append(archive)
        files.extend(_extract_xp(archive, out_dir / archive.stem))
    return files


def _extract_xp(archive: Path, into: Path) -> list[Path]:
    """The XP_CONTINUOUS members of a DataLink zip, extracted (other products are left in it)."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = sorted(n for n in bundle.namelist() if "XP_CONTINUOUS" in n.upper())
            if not members:
                raise FetchError(f"{archive}: the archive's answer holds no XP_CONTINUOUS file")
            return [Path(bundle.extract(member, into)) for member in members]
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{archive}: the archive's answer is not a zip file: {exc}") from exc


def fetch_sources(adql: str, out_dir: Path, gaia: Any | None = None) -> Path:
    """Run an ADQL job on the archive and keep its result as a VOTable under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"gaia_source_{_stamp()}.vot"
    try:
        table = _gaia(gaia).launch_job_async(adql, output_format="votable").get_results()
    except Exception as exc:  # astroquery raises HTTP, XML and value errors alike
        raise FetchError(f"Gaia archive query failed: {exc}") from exc
    if table is None:
        raise FetchError("Gaia archive query returned no result table")
    table.write(target, format="votable")
    return target


def source_ids_in(path: Path) -> tuple[list[int], bool]:
    """(source_ids, has positions) of a query result file, read in chunks."""
    ids: list[int] = []
    positions = False
    for chunk in read_table(path, 50_000):
        columns = {name.lower(): values for name, values in chunk.columns.items()}
        if "source_id" not in columns:
            raise FetchError(f"{path}: the query result has no source_id column")
        positions = {"ra", "dec"} <= set(columns)
        column = to_column(columns["source_id"], "bigint", None, path, chunk.first_row, "source_id")
        values = column.values if column.null is None else column.values[~column.null]
        ids.extend(int(v) for v in values)
    return ids, positions


def fetch_and_ingest(
    ids: list[int] | None = None,
    adql: str | None = None,
    out_dir: Path | None = None,
    format: str = "fits",
    data_structure: str = "INDIVIDUAL",
    url: str | None = None,
    gaia: Any | None = None,
    settings: IngestSettings | None = None,
    progress: bool = True,
) -> FetchReport:
    """Fetch by source_id list or ADQL, keep the files, and ingest them."""
    settings = settings or get_settings()
    out_dir = out_dir or settings.gaia_fetch_dir or settings.var_dir / "fetch" / "gaia"
    report = FetchReport()
    if adql is not None:
        result = fetch_sources(adql, out_dir, gaia)
        report.files.append(result)
        ids, has_positions = source_ids_in(result)
        if has_positions:
            report.results += ingest_source([result], url, settings.ingest_chunk_rows, progress)
        if not ids:
            return report
    if not ids:
        raise FetchError("no source_ids to fetch")
    fetched = fetch_xp(ids, out_dir, format, data_structure, gaia, settings)
    report.files += fetched
    xp_files = [p for p in fetched if p.suffix != ".zip"]
    report.results += ingest_xp(xp_files, url, settings.ingest_chunk_rows, progress)
    return report
