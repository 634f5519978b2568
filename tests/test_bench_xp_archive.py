"""Archive-format XP ingest against the COPY ceiling (`make bench`).

Gaia DR3 publishes ``xp_continuous_mean_spectrum`` as ``XpContinuousMeanSpectrum_*.csv.gz``:
ECSV text, every array a quoted ``"[v,v,...]"``, correlations included (~18 kB a source). Two
such files are written with the simulator's archive writer (``ingest.simulator.writer``), with
random values so that nothing compresses better than real data, and loaded:

(a) ``xpha ingest gaia-xp FILE`` (one process),
(b) ``xpha ingest gaia-xp FILE FILE --jobs 2`` (a process per file),
(c) the ceiling: the same rows, prepared in COPY's binary format, read by the server itself
    (``COPY ... FROM 'file'``), one stream and two at once.

It prints rows/s, the ratios (a)/(c, one stream) and (b)/(c, two streams), the parse rate with
no database against one server stream (the ratio --jobs N reaches where clients and server
streams do not share cores), and the hours per 220 million sources on this machine and per core.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from ingest.bulk import table_types
from ingest.gaia_xp import ingest_xp, read_xp
from ingest.simulator.gaia_format import XP_COLUMNS
from ingest.simulator.writer import TableData, write_table
from sql.binary_copy import encode_copy

ROWS_PER_FILE = int(os.environ.get("XPHA_BENCH_XP_ROWS", "10000"))
FULL_SKY = 220_000_000
MISSING_BP = 0.02  # sources without a BP spectrum (NULL band, "[]" arrays)


def archive_file(directory: Path, first: int, n: int, seed: int) -> Path:
    """One archive-format file of ``n`` sources, source_ids ``first`` onwards."""
    rng = np.random.default_rng(seed)
    data = TableData(n)
    bp = rng.random(n) >= MISSING_BP
    for column in XP_COLUMNS:
        band_present = bp if column.name.startswith("bp_") else np.ones(n, dtype=bool)
        if column.name == "source_id":
            data.set(column.name, (first + np.arange(n)) << 35)
        elif column.name == "solution_id":
            data.set(column.name, np.full(n, 4545469030156206080))
        elif column.letter == "I":
            data.set(column.name, np.where(band_present, rng.integers(40, 5000, n), np.nan))
        elif column.letter == "E":
            data.set(column.name, np.where(band_present, rng.gamma(2, 1, n), np.nan))
        elif column.is_array:
            length = column.max_length
            values = (
                rng.normal(0, 300, (n, length))
                if column.letter == "PD"
                else rng.uniform(-1, 1, (n, length)).astype(np.float32)
            )
            data.set(column.name, values, band_present)
    text = directory / f"xp_{first}.ecsv"
    write_table(text, XP_COLUMNS, data, "ecsv")
    path = directory / f"XpContinuousMeanSpectrum_{first:06d}-{first + n - 1:06d}.csv.gz"
    with open(text, "rb") as src, gzip.open(path, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
    text.unlink()
    return path


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:8,.0f} rows/s ({rows:,} rows in {seconds:.1f} s)"


@pytest.mark.benchmark
def test_archive_xp_ingest_against_copy_ceiling(pg_cluster, migrated_template) -> None:
    work = Path(tempfile.mkdtemp(prefix="xpha-bench-xp-"))
    os.chmod(work, 0o777)  # the server (postgres OS user) reads and writes the COPY files here
    template = migrated_template.rsplit("/", 1)[-1]
    databases: list[str] = []

    def fresh() -> str:
        databases.append(f"bench_xp_{os.getpid()}_{len(databases)}")
        return pg_cluster.ensure_database(databases[-1], template=template)

    try:
        started = time.perf_counter()
        files = [archive_file(work, k * ROWS_PER_FILE, ROWS_PER_FILE, k) for k in range(2)]
        with gzip.open(files[0]) as handle:
            unpacked = len(handle.read())
        print(
            f"\n2 archive-format files of {ROWS_PER_FILE:,} sources (ECSV, .csv.gz:"
            f" {files[0].stat().st_size / 2**20:.0f} MiB, {unpacked / 2**20:.0f} MiB unpacked,"
            f" {unpacked / ROWS_PER_FILE / 1e3:.1f} kB a source) written in"
            f" {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}"
        )

        url = fresh()
        (one,) = ingest_xp(files[:1], url, progress=False)
        assert one.rows_loaded == ROWS_PER_FILE
        two = fresh()
        t = time.perf_counter()
        results = ingest_xp(files, two, progress=False, jobs=2)
        jobs2 = time.perf_counter() - t
        assert sum(r.rows_loaded for r in results) == 2 * ROWS_PER_FILE

        copies = []
        with psycopg.connect(two, autocommit=True) as conn:
            for k in range(2):
                copies.append(work / f"rows_{k}.bin")
                lo, hi = k * ROWS_PER_FILE << 35, (k + 1) * ROWS_PER_FILE << 35
                conn.execute(
                    f"COPY (SELECT * FROM gaia.xp_continuous WHERE source_id >= {lo}"
                    f" AND source_id < {hi}) TO '{copies[-1]}' (FORMAT binary)"
                )
            types = table_types(conn, "gaia.xp_continuous")
            stored = conn.execute(
                "SELECT sum(pg_total_relation_size(relid))::float8 FROM"
                " pg_partition_tree('gaia.xp_continuous')"
            ).fetchone()[0]
        ceiling1 = ceiling([copies[0]], fresh())
        ceiling2 = ceiling(copies, fresh())

        t = time.process_time()
        parsed = 0
        for chunk in read_xp(files[0], types, 5000):
            names = list(chunk.columns)
            encode_copy([(types[k], chunk.columns[k]) for k in names], chunk.n_rows)
            parsed += chunk.n_rows
        parse_cpu = time.process_time() - t

        rows2 = 2 * ROWS_PER_FILE
        print(f"(a) xpha ingest, 1 file             {rate(ROWS_PER_FILE, one.duration_s)}")
        print(f"(b) xpha ingest, 2 files, --jobs 2  {rate(rows2, jobs2)}")
        print(
            f"(c) ceiling, server-side binary COPY: one stream {rate(ROWS_PER_FILE, ceiling1)},"
            f" two at once {rate(rows2, ceiling2)}"
        )
        client = parsed / parse_cpu
        per_stream = rows2 / ceiling2 / 2
        print(f"parse + pack alone (no database): {client:,.0f} rows per CPU-second")
        print(
            f"a client process against a server stream: {client / per_stream:.2f} (--jobs N"
            " reaches min(1, this) of the ceiling where each client and each server stream"
            " has a core of its own; here they share 2 cores)"
        )
        print(
            f"ratio (a)/(c one stream) {ceiling1 / one.duration_s:.2f}; "
            f"ratio (b)/(c two streams) {ceiling2 / jobs2:.2f} (target >= 0.8)"
        )
        hours = FULL_SKY / (rows2 / jobs2) / 3600
        print(
            f"220M sources: {hours:.0f} h on this machine at --jobs 2"
            f" ({hours * (os.cpu_count() or 2):.0f} core-hours; ceiling"
            f" {FULL_SKY / (rows2 / ceiling2) / 3600:.0f} h);"
            f" {stored / rows2 / 1e3:.1f} kB a source in the database"
        )
        assert ceiling2 / jobs2 > 0.05
    finally:
        for name in databases:
            pg_cluster.drop_database(name)
        shutil.rmtree(work, ignore_errors=True)


def ceiling(copies: list[Path], url: str) -> float:
    """Seconds for the server to read the prepared rows, one connection per file, at once."""

    def load(path: Path) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"COPY gaia.xp_continuous FROM '{path}' (FORMAT binary)")

    threads = [threading.Thread(target=load, args=(path,)) for path in copies]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t
