"""Gaia DR3 ``gaia_source`` rows (positions, proper motions, photometry) into gaia.source.

Archive results (VOTable, ECSV, CSV, FITS) carry some 150 columns in upper or lower case; the
columns that gaia.source has are taken by name, case-insensitively, and the rest are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ingest.bulk import Chunk, IngestError, IngestResult, Target, ingest_paths
from ingest.readers import TABLE_SUFFIXES, read_table, to_column

KIND = "gaia-source"
TABLE = "gaia.source"
REQUIRED = ("source_id", "ra", "dec")


def read_source(path: Path, types: dict[str, str], chunk_rows: int) -> Iterator[Chunk]:
    """Typed chunks of the gaia.source columns found in an archive result file."""
    for raw in read_table(path, chunk_rows):
        columns = {name.lower(): values for name, values in raw.columns.items()}
        missing = [name for name in REQUIRED if name not in columns]
        if missing:
            raise IngestError(
                path, f"not a gaia_source table: missing column(s) {', '.join(missing)}"
            )
        typed = {
            name: to_column(columns[name], pg_type, None, path, raw.first_row, name)
            for name, pg_type in types.items()
            if name in columns
        }
        for name in REQUIRED + (("ref_epoch",) if "ref_epoch" in typed else ()):
            null = typed[name].null
            if null is not None and null.any():
                raise IngestError(
                    path,
                    f"{name} is empty",
                    row=raw.first_row + int(np.flatnonzero(null)[0]),
                    column=name,
                )
        yield Chunk(raw.first_row, raw.n_rows, typed)


TARGET = Target(kind=KIND, table=TABLE, key="source_id", read=read_source)


def ingest_source(
    paths: list[Path],
    url: str | None = None,
    chunk_rows: int = 5000,
    progress: bool = True,
    jobs: int = 1,
) -> list[IngestResult]:
    """Load gaia_source result files and directories (one transaction per file, resumable)."""
    return ingest_paths(paths, TARGET, TABLE_SUFFIXES, url, chunk_rows, progress, jobs)
