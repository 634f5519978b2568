"""Helpers for the ingest tests: what astropy reads from a file, and what the database holds."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import psycopg
from astropy.io import fits
from astropy.table import Table

XP_ARRAYS = [
    f"{b}_{q}"
    for b in ("bp", "rp")
    for q in ("coefficients", "coefficient_errors", "coefficient_correlations")
]
FLOAT32 = {
    "bp_coefficient_errors",
    "rp_coefficient_errors",
    "bp_coefficient_correlations",
    "rp_coefficient_correlations",
    "bp_standard_deviation",
    "rp_standard_deviation",
    "bp_chi_squared",
    "rp_chi_squared",
    "bp_relative_shrinking",
    "rp_relative_shrinking",
}


def extract_xp_members(zip_path: Path, into: Path) -> Path:
    """The XP_CONTINUOUS member of a recorded DataLink zip, extracted."""
    with zipfile.ZipFile(zip_path) as archive:
        (member,) = [n for n in archive.namelist() if n.startswith("XP_CONTINUOUS")]
        return Path(archive.extract(member, into))


def _cell(value: object, is_text_array: bool) -> object:
    """An astropy cell as a plain value: None for masked/empty, numpy array for arrays."""
    if value is None or value is np.ma.masked:
        return None
    if is_text_array:
        text = str(value).strip()
        if not text:
            return None
        return np.array(json.loads("[" + text.strip("()[]") + "]"), dtype=float)
    if isinstance(value, np.ndarray):
        return np.ma.filled(np.ma.asarray(value, dtype=float), np.nan) if value.size else None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def astropy_rows(path: Path) -> dict[int, dict[str, object]]:
    """source_id -> {column: value} as astropy reads the file (the reference for round trips)."""
    name = path.name.lower()
    if name.endswith(".csv"):
        table = Table.read(path, format="ascii.csv", fast_reader=False)
    elif name.endswith((".xml", ".vot")):
        table = Table.read(path, format="votable")
    else:
        table = Table.read(path)
    if "bp_coeff_0" in table.colnames:
        for prefix, target in (
            ("bp_coeff_", "bp_coefficients"),
            ("rp_coeff_", "rp_coefficients"),
            ("e_bp_coeff_", "bp_coefficient_errors"),
            ("e_rp_coeff_", "rp_coefficient_errors"),
        ):
            table[target] = np.stack(
                [np.asarray(table[f"{prefix}{i}"], dtype=float) for i in range(55)], axis=1
            )
    rows: dict[int, dict[str, object]] = {}
    for record in table:
        values = {}
        for column in table.colnames:
            is_text = column in XP_ARRAYS and table[column].dtype.kind in "US"
            values[column] = _cell(record[column], is_text)
        rows[int(values["source_id"])] = values
    return rows


def database_rows(url: str, table: str, columns: list[str]) -> dict[int, dict[str, object]]:
    with psycopg.connect(url) as conn:
        fetched = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    return {int(row[0]): dict(zip(columns, row, strict=True)) for row in fetched}


def assert_same(
    expected: object, actual: object, column: str, label: str = "", float32: bool | None = None
) -> None:
    """Equal as stored: float32 columns compared at float32, arrays element by element."""
    if float32 is None:
        float32 = column in FLOAT32
    if expected is None:
        assert actual is None, f"{label} {column}"
        return
    assert actual is not None, f"{label} {column}"
    if isinstance(expected, np.ndarray):
        dtype = np.float32 if float32 else np.float64
        np.testing.assert_array_equal(
            np.asarray(actual, dtype=dtype), expected.astype(dtype), err_msg=f"{label} {column}"
        )
    elif isinstance(expected, float):
        dtype = np.float32 if float32 else np.float64
        assert dtype(actual) == dtype(expected), f"{label} {column}"
    else:
        assert actual == expected, f"{label} {column}"


def table_state(url: str) -> tuple:
    """Everything an ingest can change: row counts and the ingest log."""
    with psycopg.connect(url) as conn:
        xp = conn.execute("SELECT count(*), coalesce(sum(source_id), 0) FROM gaia.xp_continuous")
        source = conn.execute("SELECT count(*) FROM gaia.source").fetchone()
        log = conn.execute(
            "SELECT kind, checksum, rows_read, rows_loaded FROM public.ingest_log"
            " ORDER BY ingest_id"
        ).fetchall()
        return (xp.fetchone(), source, log)


# --- generated XP rows (streaming tests and the benchmark) ------------------------------------
def xp_rows(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Plausible XP rows: ids spread over all twelve level-0 HEALPix partitions."""
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(12 * 2**59 // 2**35, size=n, replace=False)) * 2**35 + 1
    scale = 10.0 ** rng.uniform(2, 5, size=(n, 1))
    return {
        "source_id": ids.astype(np.int64),
        "solution_id": np.full(n, 4545469030156206080, dtype=np.int64),
        "bp_n_relevant_bases": rng.integers(30, 56, size=n).astype(np.int16),
        "rp_n_relevant_bases": rng.integers(30, 56, size=n).astype(np.int16),
        "bp_standard_deviation": rng.uniform(0.8, 1.5, size=n).astype(np.float32),
        "rp_standard_deviation": rng.uniform(0.8, 1.5, size=n).astype(np.float32),
        "bp_coefficients": rng.normal(size=(n, 55)) * scale,
        "bp_coefficient_errors": (rng.uniform(0.5, 50, size=(n, 55))).astype(np.float32),
        "rp_coefficients": rng.normal(size=(n, 55)) * scale,
        "rp_coefficient_errors": (rng.uniform(0.5, 50, size=(n, 55))).astype(np.float32),
    }


def write_fits(rows: dict[str, np.ndarray], path: Path, variable_length: bool) -> None:
    columns = []
    for name, values in rows.items():
        if values.ndim == 2 and variable_length:
            code = "PD(55)" if values.dtype == np.float64 else "PE(55)"
            columns.append(
                fits.Column(name=name, format=code, array=np.array(list(values), dtype=object))
            )
        elif values.ndim == 2:
            code = "55D" if values.dtype == np.float64 else "55E"
            columns.append(fits.Column(name=name, format=code, array=values))
        else:
            code = {"i8": "K", "i2": "I", "f4": "E"}[values.dtype.str[1:]]
            columns.append(fits.Column(name=name, format=code, array=values))
    fits.BinTableHDU.from_columns(columns).writeto(path)


def write_csv(rows: dict[str, np.ndarray], path: Path) -> None:
    """The archive's CSV: arrays as quoted "(a, b, ...)" strings."""
    n = len(rows["source_id"])
    cells = []
    for values in rows.values():
        if values.ndim == 2:
            text = [",".join(map(repr, row.tolist())) for row in values]
            cells.append([f'"({t})"' for t in text])
        else:
            cells.append([repr(v) for v in values.tolist()])
    with open(path, "w") as out:
        out.write(",".join(rows) + "\n")
        for i in range(n):
            out.write(",".join(column[i] for column in cells) + "\n")
