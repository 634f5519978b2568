"""Gaia DR3 XP continuous mean spectra (``xp_continuous_mean_spectrum``) into gaia.xp_continuous.

Accepts the archive's layouts: one array column per quantity (``bp_coefficients`` ...: CSV with
bracketed arrays, ECSV, FITS, VOTable) and the one-coefficient-per-column layout
(``bp_coeff_0`` .. ``bp_coeff_54``, ``e_bp_coeff_0`` ...; no correlations -> NULL). Columns that
are not xp_continuous columns (e.g. ``phot_g_mean_mag`` next to the coefficients) are ignored.
A band whose coefficients are missing is NULL, never zeros.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ingest.bulk import Chunk, IngestError, IngestResult, Target, ingest_paths
from ingest.readers import TABLE_SUFFIXES, read_table, to_column

KIND = "gaia-xp"
TABLE = "gaia.xp_continuous"
N_BASES = 55
ARRAY_LENGTHS = {
    f"{band}_{quantity}": size
    for band in ("bp", "rp")
    for quantity, size in (
        ("coefficients", N_BASES),
        ("coefficient_errors", N_BASES),
        ("coefficient_correlations", N_BASES * (N_BASES - 1) // 2),
    )
}
REQUIRED = ("source_id", "bp_coefficients", "rp_coefficients")
# one-value-per-column layout: prefix of bp_coeff_0 .. bp_coeff_54 -> array column
SPLIT_ARRAYS = {
    "bp_coeff_": "bp_coefficients",
    "rp_coeff_": "rp_coefficients",
    "e_bp_coeff_": "bp_coefficient_errors",
    "e_rp_coeff_": "rp_coefficient_errors",
}
SPLIT_NAME = re.compile(r"^(e_[br]p_coeff_|[br]p_coeff_)(\d+)$")
#: At most this many rows a chunk, whatever ``chunk_rows`` says: an XP row is ~36 kB of archive
#: text and ~26 kB of COPY data, and 500 of them keep every buffer of a chunk under glibc's
#: 32 MB mmap ceiling, so that freed memory is reused by the next chunk instead of being mapped
#: and cleared afresh (10,000 archive rows: ~2 s of system time in 6.7 s of CPU with 5,000-row
#: chunks, ~0.6 s in 5 s with 500).
XP_CHUNK_ROWS = 500


def merge_split_arrays(columns: dict[str, Any], path: Path, first_row: int) -> dict[str, Any]:
    """Stack ``bp_coeff_0..54``-style columns into the array columns they stand for."""
    groups: dict[str, dict[int, Any]] = {}
    merged: dict[str, Any] = {}
    for name, values in columns.items():
        match = SPLIT_NAME.match(name.lower())
        if match:
            groups.setdefault(match.group(1), {})[int(match.group(2))] = values
        else:
            merged[name.lower()] = values
    for prefix, parts in groups.items():
        if sorted(parts) != list(range(N_BASES)):
            missing = sorted(set(range(N_BASES)) - set(parts))[:5]
            raise IngestError(
                path,
                f"columns {prefix}0..{N_BASES - 1} are incomplete "
                f"(missing e.g. {', '.join(f'{prefix}{i}' for i in missing)})",
            )
        stacked = [np.ma.asarray(parts[i]) for i in range(N_BASES)]
        if any(s.dtype.kind not in "fiu" for s in stacked):
            raise IngestError(path, f"columns {prefix}* must be numeric", row=first_row)
        merged[SPLIT_ARRAYS[prefix]] = np.ma.stack(stacked, axis=1)
    return merged


def read_xp(path: Path, types: dict[str, str], chunk_rows: int) -> Iterator[Chunk]:
    """Typed chunks of gaia.xp_continuous columns from any supported XP file."""
    for raw in read_table(path, min(chunk_rows, XP_CHUNK_ROWS)):
        columns = merge_split_arrays(raw.columns, path, raw.first_row)
        missing = [name for name in REQUIRED if name not in columns]
        if missing:
            raise IngestError(
                path,
                f"not an XP continuous table: missing column(s) "
                f"{', '.join(missing)} (has {', '.join(list(columns)[:8])} ...)",
            )
        typed = {
            name: to_column(
                columns[name], pg_type, ARRAY_LENGTHS.get(name), path, raw.first_row, name
            )
            for name, pg_type in types.items()
            if name in columns
        }
        null_ids = typed["source_id"].null
        if null_ids is not None and null_ids.any():
            raise IngestError(
                path,
                "source_id is empty",
                row=raw.first_row + int(np.flatnonzero(null_ids)[0]),
                column="source_id",
            )
        yield Chunk(raw.first_row, raw.n_rows, typed)


TARGET = Target(kind=KIND, table=TABLE, key="source_id", read=read_xp)


def ingest_xp(
    paths: list[Path],
    url: str | None = None,
    chunk_rows: int = 5000,
    progress: bool = True,
    jobs: int = 1,
) -> list[IngestResult]:
    """Load XP continuous files and directories (one transaction per file, resumable)."""
    return ingest_paths(paths, TARGET, TABLE_SUFFIXES, url, chunk_rows, progress, jobs)
