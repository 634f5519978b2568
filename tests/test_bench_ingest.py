"""Ingest benchmark (`make bench`): the xpha path against this machine's ceiling, in one run.

A generated FITS file of 200,000 XP rows (coefficients and errors of both bands, archive-style
variable-length ``PD(55)`` columns and the fixed ``55D`` variant) is loaded (a) by the xpha path,
(b) by a raw server-side ``COPY ... FROM 'file' (FORMAT binary)`` of the same rows prepared in
advance (the ceiling: no parsing, no client), (c) row by row with INSERT on a 5,000-row sample.
It prints rows/s and the ratio xpha/ceiling, then the parse rates of CSV and ECSV separately.
"""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psycopg
import pytest
from astropy.io import fits
from astropy.table import Table

from ingest.bulk import table_types
from ingest.gaia_xp import ingest_xp, read_xp

N_ROWS = 200_000
TEXT_ROWS = 20_000
SAMPLE_ROWS = 5_000
COLUMNS = ["source_id", "solution_id", "bp_n_relevant_bases", "rp_n_relevant_bases",
           "bp_standard_deviation", "rp_standard_deviation", "bp_coefficients",
           "bp_coefficient_errors", "rp_coefficients", "rp_coefficient_errors"]


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
            columns.append(fits.Column(name=name, format=code,
                                       array=np.array(list(values), dtype=object)))
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


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>10,.0f} rows/s ({rows:,} rows in {seconds:.2f} s)"


@pytest.mark.benchmark
def test_ingest_against_ceiling(pg_cluster, migrated_template, test_settings) -> None:
    work = Path(tempfile.mkdtemp(prefix="xpha-bench-"))
    os.chmod(work, 0o777)  # the server (postgres OS user) writes and reads the COPY file here
    rows = xp_rows(N_ROWS)
    started = time.perf_counter()
    fixed, vla = work / "xp_fixed.fits", work / "xp_vla.fits"
    write_fits(rows, fixed, variable_length=False)
    write_fits(rows, vla, variable_length=True)
    print(f"\ngenerated {N_ROWS:,} XP rows as FITS ({fixed.stat().st_size / 2**20:.0f} MiB) in "
          f"{time.perf_counter() - started:.1f} s")

    template = migrated_template.rsplit("/", 1)[-1]
    databases: list[str] = []

    def fresh(name: str) -> str:
        databases.append(f"bench_{name}_{os.getpid()}")
        return pg_cluster.ensure_database(databases[-1], template=template)

    results = {}
    for label, path, name in (("FITS 55D", fixed, "fixed"), ("FITS PD(55)", vla, "vla")):
        url = fresh(name)
        (result,) = ingest_xp([path], url, chunk_rows=test_settings.ingest_chunk_rows,
                              progress=False)
        assert result.rows_loaded == N_ROWS
        results[label] = result.duration_s
        print(f"(a) xpha path, {label:<12} {rate(N_ROWS, result.duration_s)}")
    loaded_url = url

    # (b) the ceiling: the same rows as a binary COPY file written by the server, loaded by it
    copy_file = work / "xp_rows.bin"
    column_list = ", ".join(COLUMNS)
    with psycopg.connect(loaded_url, autocommit=True) as conn:
        conn.execute(f"COPY (SELECT {column_list} FROM gaia.xp_continuous) TO "
                     f"'{copy_file}' (FORMAT binary)")
    ceiling_url = fresh("ceiling")
    with psycopg.connect(ceiling_url) as conn:
        started = time.perf_counter()
        conn.execute(f"COPY gaia.xp_continuous ({column_list}) FROM '{copy_file}' (FORMAT binary)")
        conn.commit()
        ceiling = time.perf_counter() - started
        assert conn.execute("SELECT count(*) FROM gaia.xp_continuous").fetchone()[0] == N_ROWS
    print(f"(b) ceiling: server-side binary COPY {rate(N_ROWS, ceiling)}")

    # (c) row-by-row INSERT of a sample
    sample_url = fresh("rowwise")
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    sample = [[rows[c][i].tolist() for c in COLUMNS] for i in range(SAMPLE_ROWS)]
    with psycopg.connect(sample_url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO gaia.xp_continuous ({column_list}) VALUES ({placeholders})", sample)
        conn.commit()
        rowwise = time.perf_counter() - started
    print(f"(c) row-by-row INSERT (sample)    {rate(SAMPLE_ROWS, rowwise)}")
    for label, seconds in results.items():
        print(f"ratio xpha/ceiling, {label:<12} {ceiling / seconds:.2f} (target >= 0.6)")
    print(f"ratio xpha (FITS PD(55)) / row-by-row: {rowwise / SAMPLE_ROWS * N_ROWS / results['FITS PD(55)']:.0f}x")

    # memory: numpy/Python allocations traced while the 200,000-row file loads
    tracemalloc.start()
    ingest_xp([vla], fresh("memory"), chunk_rows=test_settings.ingest_chunk_rows, progress=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak traced memory while loading {vla.stat().st_size / 2**20:.0f} MiB of FITS: "
          f"{peak / 2**20:.0f} MiB (chunks of {test_settings.ingest_chunk_rows:,} rows)")
    assert peak < vla.stat().st_size / 2

    # parse rates of the text formats (parse + type, no database)
    text = {k: v[:TEXT_ROWS] for k, v in rows.items()}
    csv_path, ecsv_path = work / "xp.csv", work / "xp.ecsv"
    write_csv(text, csv_path)
    Table(text).write(ecsv_path, format="ascii.ecsv")
    with psycopg.connect(loaded_url) as conn:
        types = table_types(conn, "gaia.xp_continuous")
    for label, path in (("CSV", csv_path), ("ECSV", ecsv_path), ("FITS PD(55)", vla)):
        started = time.perf_counter()
        parsed = sum(chunk.n_rows for chunk in read_xp(path, types, 5000))
        seconds = time.perf_counter() - started
        size = path.stat().st_size / 2**20
        print(f"parse {label:<12} {rate(parsed, seconds)}, {size / seconds:.0f} MiB/s")
    for name in databases:
        pg_cluster.drop_database(name)
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    assert ceiling / results["FITS 55D"] > 0.3
