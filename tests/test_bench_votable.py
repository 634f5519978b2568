"""Benchmark: the BINARY2 writer against astropy's writer and against the database's ceiling.

Twenty columns of the real ``gaia.source`` schema (long, doubles, floats, a boolean; with
NULLs as in Gaia DR3) for 100,000 and 1,000,000 rows:

* ceiling: binary ``COPY (SELECT ...) TO STDOUT`` of the same rows parsed into numpy (NULL
  floats read as NaN so the rows have one width): the fastest way to have the rows in hand;
* fetch: psycopg's server-side binary cursor, ``fetchmany`` batches (what the runner does);
* writer: the BINARY2 writer alone (time inside the writer, fetch time subtracted);
* stream: fetch + writer together, i.e. the service minus HTTP;
* astropy: ``astropy.io.votable`` writing BINARY2 from an in-memory Table (100k rows only: at
  its speed 1M rows would take minutes; its rate does not depend on the row count);
* http: the 100,000-row BINARY2 download from /tap/sync of a live server (target >= 300,000
  rows/s; DaCHS on this machine ~77,000).

A second benchmark does the same for XP spectra: 100,000 rows of four 55-element arrays
(``bp/rp_coefficients`` double[55], ``bp/rp_coefficient_errors`` float[55]) declared with
arraysize 55 as TAP_SCHEMA does, the array path of the writer.

Run with ``make bench`` (or ``pytest -m benchmark -s tests/test_bench_votable.py``).
"""

from __future__ import annotations

import io
import os
import resource
import time

import numpy as np
import psycopg
import pytest

from tap_service.writers import ResultStatus, field_specs, get_writer

pytestmark = pytest.mark.benchmark

COLUMNS = (
    "source_id, ra, dec, ra_error, dec_error, ref_epoch, parallax, parallax_error, pmra, "
    "pmra_error, pmdec, pmdec_error, ruwe, phot_g_mean_flux, phot_g_mean_flux_error, "
    "phot_g_mean_mag, bp_rp, radial_velocity, l, has_xp_continuous"
)
NULLABLE_FLOATS = (
    "parallax",
    "parallax_error",
    "pmra",
    "pmra_error",
    "pmdec",
    "pmdec_error",
    "radial_velocity",
)
SEED = """
INSERT INTO gaia.source (source_id, ra, dec, ra_error, dec_error, ref_epoch, parallax,
    parallax_error, pmra, pmra_error, pmdec, pmdec_error, ruwe, phot_g_mean_flux,
    phot_g_mean_flux_error, phot_g_mean_mag, bp_rp, radial_velocity, l, b, has_xp_continuous)
SELECT (i::int8 << 35) + 7, random() * 360, random() * 180 - 90, random()::real,
       random()::real, 2016.0,
       CASE WHEN i % 10 = 0 THEN NULL ELSE random() * 10 END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE random()::real END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE random() * 50 - 25 END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE random()::real END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE random() * 50 - 25 END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE random()::real END,
       (0.8 + random())::real, random() * 1e6, random()::real * 100,
       (9 + random() * 12)::real, (random() * 3)::real,
       CASE WHEN i % 30 = 0 THEN (random() * 100)::real END,
       random() * 360, random() * 180 - 90, i % 3 = 0
FROM generate_series(1, %s) AS i
"""
SIZES = (100_000, 1_000_000)
FETCH_ROWS = 5000


@pytest.fixture(scope="module")
def bench_db(module_db_url):
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute(SEED.replace("%s", str(max(SIZES))))
        conn.execute("ANALYZE gaia.source")
    return module_db_url


def query(n: int) -> str:
    return f"SELECT {COLUMNS} FROM gaia.source ORDER BY source_id LIMIT {n}"


def copy_ceiling(url: str, n: int) -> float:
    """Seconds to COPY the rows out in binary and hold them as numpy columns."""
    select = query(n)
    for name in NULLABLE_FLOATS:
        select = select.replace(f" {name},", f" COALESCE({name}, 'NaN') AS {name},", 1)
    with psycopg.connect(url) as conn:
        probe = conn.execute(f"SELECT * FROM ({select}) AS q LIMIT 0")
        types = [d.type_code for d in probe.description]
        start = time.perf_counter()
        with conn.cursor().copy(f"COPY ({select}) TO STDOUT (FORMAT binary)") as copy:
            raw = b"".join(bytes(chunk) for chunk in copy)
        columns = _parse_copy(raw, types, n)
        elapsed = time.perf_counter() - start
    assert len(columns["c0"]) == n and not np.isnan(columns["c1"]).any()
    return elapsed


_COPY_TYPES = {20: ">i8", 701: ">f8", 700: ">f4", 16: "?"}


def _parse_copy(raw: bytes, type_codes: list[int], n: int) -> dict[str, np.ndarray]:
    """Binary COPY rows of fixed-width, non-NULL fields as one structured numpy array."""
    fields = [("count", ">i2")]
    for i, oid in enumerate(type_codes):
        fields += [(f"len{i}", ">i4"), (f"c{i}", _COPY_TYPES[oid])]
    rows = np.frombuffer(raw, dtype=np.dtype(fields), count=n, offset=19)
    return {
        f"c{i}": rows[f"c{i}"].astype(rows[f"c{i}"].dtype.newbyteorder("="))
        for i in range(len(type_codes))
    }


def stream_binary2(url: str, n: int) -> dict[str, float]:
    """Wall and CPU seconds of fetch + BINARY2 write of n rows, and of the fetching alone."""
    spent = {"fetch_wall": 0.0, "fetch_cpu": 0.0}
    with psycopg.connect(url) as conn, conn.transaction():
        cursor = conn.cursor("bench", binary=True)
        cursor.execute(query(n))

        def batches():
            while True:
                wall, cpu = time.perf_counter(), time.process_time()
                batch = cursor.fetchmany(FETCH_ROWS)
                spent["fetch_wall"] += time.perf_counter() - wall
                spent["fetch_cpu"] += time.process_time() - cpu
                if not batch:
                    return
                yield batch

        wall, cpu = time.perf_counter(), time.process_time()
        fields = field_specs(cursor.description)
        chunks = get_writer("votable").write(fields, batches(), ResultStatus(), {"QUERY": "b"})
        spent["bytes"] = sum(len(chunk) for chunk in chunks)
        spent["wall"] = time.perf_counter() - wall
        spent["cpu"] = time.process_time() - cpu
    return spent


def astropy_binary2(url: str, n: int) -> float:
    """Seconds astropy takes to write the same rows as BINARY2 (Table already in memory)."""
    from astropy.io.votable import from_table
    from astropy.table import MaskedColumn, Table

    with psycopg.connect(url) as conn:
        cursor = conn.execute(query(n))
        names = [d.name for d in cursor.description]
        rows = cursor.fetchall()
    table = Table()
    for name, column in zip(names, zip(*rows, strict=True), strict=True):
        mask = np.array([v is None for v in column])
        values = np.array([0 if v is None else v for v in column])
        table[name] = MaskedColumn(values, mask=mask)
    votable = from_table(table)
    start = time.perf_counter()
    votable.to_xml(io.BytesIO(), tabledata_format="binary2")
    return time.perf_counter() - start


def test_binary2_writer_vs_astropy_and_copy_ceiling(bench_db):
    results = []
    for n in SIZES:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = stream_binary2(bench_db, n)
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        results.append((n, n / copy_ceiling(bench_db, n), t, rss_growth / 1024))
    astropy_rate = 100_000 / astropy_binary2(bench_db, 100_000)
    print(
        "\nBINARY2, 20 columns of gaia.source, rows/s (wall clock; 'cpu' = this process's CPU "
        f"time); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"{'rows':>10} {'ceiling':>9} {'fetch':>9} {'writer':>9} {'writer cpu':>10} "
        f"{'stream':>9} {'astropy':>8} {'writer/astropy':>14} {'stream/ceiling':>14} "
        f"{'MB out':>6} {'peak RSS +MB':>12}"
    )
    for n, ceiling, t, rss_growth in results:
        writer = n / (t["wall"] - t["fetch_wall"])
        writer_cpu = n / (t["cpu"] - t["fetch_cpu"])
        stream = n / t["wall"]
        print(
            f"{n:>10,} {ceiling:>9,.0f} {n / t['fetch_wall']:>9,.0f} {writer:>9,.0f} "
            f"{writer_cpu:>10,.0f} {stream:>9,.0f} {astropy_rate:>8,.0f} "
            f"{writer / astropy_rate:>14.1f} {stream / ceiling:>14.2f} "
            f"{t['bytes'] / 1e6:>6.0f} {rss_growth:>12.0f}"
        )
        assert writer > 10 * astropy_rate


def test_http_binary2_download(bench_db):
    """The 100,000-row BINARY2 download from /tap/sync (columnar fetch, and the row-tuple
    fetch it replaced), against the COPY ceilings measured in the same run."""
    pytest.importorskip("tap_service.app")
    import httpx
    from astropy.io.votable import parse
    from tap_support import columnar_ceiling, live_server, tap_settings

    n = 100_000
    adql = f"SELECT TOP {n} {COLUMNS} FROM xpha.gaia_source"
    params = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql, "MAXREC": str(n)}
    ceiling = n / copy_ceiling(bench_db, n)
    numpy_ceiling = n / min(columnar_ceiling(bench_db, query(n), n, FETCH_ROWS) for _ in range(3))
    rates = {}
    for copy_fetch in (True, False):
        settings = tap_settings(bench_db, tap_copy_fetch=copy_fetch, tap_catalog_ttl_s=3600)
        with live_server(settings) as root, httpx.Client(timeout=120) as client:
            client.get(f"{root}/tap/sync", params={**params, "QUERY": adql.replace(str(n), "10")})
            timings, body = [], b""
            for _ in range(3):
                start = time.perf_counter()
                with client.stream("GET", f"{root}/tap/sync", params=params) as response:
                    assert response.status_code == 200
                    body = b"".join(response.iter_bytes())
                timings.append(time.perf_counter() - start)
        table = parse(io.BytesIO(body)).get_first_table()
        assert len(table.array) == n
        rates[copy_fetch] = n / min(timings)
    rate = rates[True]
    print(
        f"\nHTTP /tap/sync BINARY2, {n:,} rows x 20 columns ({len(body) / 1e6:.1f} MB), best "
        f"of 3, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:"
    )
    print(
        f"  columnar fetch (binary COPY -> numpy): {rate:,.0f} rows/s; "
        f"row-tuple fetch: {rates[False]:,.0f} rows/s ({rate / rates[False]:.1f}x)"
    )
    print(
        f"  ceilings: COPY -> numpy (the service's decoder) {numpy_ceiling:,.0f} rows/s, "
        f"raw COPY parse {ceiling:,.0f} rows/s; ratio {rate / numpy_ceiling:.2f} of the "
        f"COPY -> numpy ceiling; target 300,000; DaCHS ~77,000"
    )


XP_SEED = """
INSERT INTO gaia.xp_continuous (source_id, bp_n_parameters, bp_coefficients,
    bp_coefficient_errors, rp_n_parameters, rp_coefficients, rp_coefficient_errors)
SELECT (i::int8 << 35) + 7, 55,
       ARRAY(SELECT random() * 100 + i FROM generate_series(1, 55)),
       ARRAY(SELECT (random() + i % 7)::real FROM generate_series(1, 55)), 55,
       ARRAY(SELECT random() * 100 - i FROM generate_series(1, 55)),
       ARRAY(SELECT (random() + i % 5)::real FROM generate_series(1, 55))
FROM generate_series(1, %s) AS i
"""
XP_COLUMNS = (
    "source_id, bp_n_parameters, bp_coefficients, bp_coefficient_errors, "
    "rp_coefficients, rp_coefficient_errors"
)


def test_binary2_xp_arrays(module_db_url):
    """XP spectra: fixed 55-element arrays, writer vs astropy vs the COPY ceiling."""
    from astropy.io.votable import from_table
    from astropy.table import Table

    from tap_service.adql import OutputColumn
    from tap_service.catalog import ColumnInfo

    n = 100_000
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute(XP_SEED.replace("%s", str(n)))
    select = f"SELECT {XP_COLUMNS} FROM gaia.xp_continuous ORDER BY source_id LIMIT {n}"
    with psycopg.connect(module_db_url) as conn:
        start = time.perf_counter()
        with conn.cursor().copy(f"COPY ({select}) TO STDOUT (FORMAT binary)") as copy:
            raw = b"".join(bytes(chunk) for chunk in copy)
        columns = _parse_xp_copy(raw, n)
        ceiling = n / (time.perf_counter() - start)
    assert columns["bp"].shape == (n, 55)

    outputs = [
        OutputColumn(name, ColumnInfo(name, arraysize=size))
        for name, size in (
            ("source_id", None),
            ("bp_n_parameters", None),
            ("bp_coefficients", "55"),
            ("bp_coefficient_errors", "55"),
            ("rp_coefficients", "55"),
            ("rp_coefficient_errors", "55"),
        )
    ]
    fetch_wall = 0.0
    with psycopg.connect(module_db_url) as conn, conn.transaction():
        cursor = conn.cursor("xp", binary=True)
        cursor.execute(select)
        fields = field_specs(cursor.description, outputs)
        batches = []
        while True:
            t = time.perf_counter()
            batch = cursor.fetchmany(FETCH_ROWS)
            fetch_wall += time.perf_counter() - t
            if not batch:
                break
            batches.append(batch)
    assert [f.arraysize for f in fields[2:]] == ["55"] * 4
    start, cpu = time.perf_counter(), time.process_time()
    size = sum(map(len, get_writer("votable").write(fields, batches, ResultStatus(), {})))
    writer, writer_cpu = n / (time.perf_counter() - start), n / (time.process_time() - cpu)

    sample = [row for batch in batches[:4] for row in batch]  # 20,000 rows for astropy
    table = Table(rows=sample, names=[f.name for f in fields])
    votable = from_table(table)
    start = time.perf_counter()
    votable.to_xml(io.BytesIO(), tabledata_format="binary2")
    astropy_rate = len(sample) / (time.perf_counter() - start)
    print(
        f"\nBINARY2, XP spectra ({n:,} rows, 4 x 55-element arrays, {size / 1e6:.0f} MB out), "
        f"rows/s; load average {os.getloadavg()[0]:.1f}: ceiling {ceiling:,.0f}, "
        f"fetch {n / fetch_wall:,.0f}, writer {writer:,.0f} (cpu {writer_cpu:,.0f}), "
        f"astropy {astropy_rate:,.0f}; writer/astropy {writer / astropy_rate:.1f}, "
        f"writer/ceiling {writer / ceiling:.2f}"
    )
    assert writer > 2 * astropy_rate


def _parse_xp_copy(raw: bytes, n: int) -> dict[str, np.ndarray]:
    """Binary COPY rows of (int8, int2, float8[55], float4[55], float8[55], float4[55])."""

    def array(kind: str) -> list[tuple]:
        # length, ndim, has-null flag, element oid, dim size, lower bound, then (len, value) pairs
        return [
            ("len", ">i4"),
            ("ndim", ">i4"),
            ("flags", ">i4"),
            ("oid", ">i4"),
            ("dim", ">i4"),
            ("lbound", ">i4"),
            ("items", np.dtype([("len", ">i4"), ("value", kind)]), (55,)),
        ]

    row = np.dtype(
        [
            ("count", ">i2"),
            ("id_len", ">i4"),
            ("source_id", ">i8"),
            ("np_len", ">i4"),
            ("n_parameters", ">i2"),
            ("bp", array(">f8")),
            ("bpe", array(">f4")),
            ("rp", array(">f8")),
            ("rpe", array(">f4")),
        ]
    )
    rows = np.frombuffer(raw, dtype=row, count=n, offset=19)
    return {
        name: rows[name]["items"]["value"].astype(np.float64) for name in ("bp", "bpe", "rp", "rpe")
    }
