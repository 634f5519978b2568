"""The scale benchmark (``make bench-scale``): a synthetic 50-million-source sky served end to end.

It builds, in its own throwaway PostgreSQL cluster, ``gaia.source`` and one model's scores for
``XPHA_BENCH_SCALE_ROWS`` sources (default 50,000,000) with the Galactic-disc density of the
simulator, by binary COPY; rebuilds the indexes; builds the serving table with the code
``xpha score`` runs; and measures over HTTP, against a real server process, the queries of
issue 16: cone 0.5 deg, COUNT in a 5 deg cone, upload crossmatches of 1,000 and 100,000
positions at 1 arcsec (pyvo), TOP 1000 by probability, an async small job, and 1,000,000-row
downloads (BINARY2 with all 12 columns of the candidates table, CSV with 6) against the
COPY -> numpy ceiling of the same rows. It records load and index times and bytes on disk per
source, and projects them to 220 million sources and to the XP table with correlations
(measured on a sample of full-size XP rows). The results table is printed and written to
``var/bench/``; the cluster is deleted at the end, whatever happened.

Fits 40 GB of disk and an hour on 2 cores at 50M rows (it checks the free disk first).
Develop with a small size: ``XPHA_BENCH_SCALE_ROWS=200000 make bench-scale``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
from sky_support import bulk_load_sky
from tap_support import columnar_ceiling
from uws_support import LiveServer

from sql import serving
from sql.binary_copy import CopyColumn, pack
from sql.cluster import LocalCluster, free_port
from sql.database import migrate
from sql.settings import Settings

pytestmark = pytest.mark.benchmark

ROWS = int(os.environ.get("XPHA_BENCH_SCALE_ROWS", "50000000"))
WHERE = os.environ.get("XPHA_BENCH_SCALE_DIR")  # default: the system's temporary directory
FULL_SKY = 220_000_000
BYTES_PER_SOURCE_BUDGET = 800  # what the check of free disk assumes (measured: ~600)
XP_SAMPLE = 20_000
DOWNLOAD_ROWS = min(1_000_000, ROWS)
TARGETS = {  # issue 16, at 50M rows on this 2-core machine
    "cone 0.5 deg": "<= 10 ms",
    "upload 1,000 x 1 arcsec": "<= 100 ms",
    "TOP 1000 by probability": "<= 20 ms",
    "async small job": "<= 100 ms",
    "BINARY2, all 12 columns": ">= 500k rows/s",
    "CSV, 6 columns": ">= 370k rows/s",
}
CONE = (
    "SELECT {columns} FROM xpha.emitter_candidates WHERE 1 = CONTAINS(POINT('ICRS', ra, dec),"
    " CIRCLE('ICRS', {ra}, {dec}, {r}))"
)
SIX = "source_id, ra, dec, phot_g_mean_mag, bp_rp, probability"
XMATCH = (
    "SELECT m.ra AS up_ra, m.dec AS up_dec, c.source_id, c.probability,"
    " DISTANCE(POINT('ICRS', m.ra, m.dec), POINT('ICRS', c.ra, c.dec)) * 3600 AS sep"
    " FROM tap_upload.mine AS m JOIN xpha.emitter_candidates AS c"
    " ON 1 = CONTAINS(POINT('ICRS', c.ra, c.dec), CIRCLE('ICRS', m.ra, m.dec, 1.0 / 3600))"
)


class Report:
    """The results table: measured values with their targets, and the notes under it."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []
        self.notes: list[str] = []

    def add(self, what: str, value: str) -> None:
        self.rows.append((what, value, TARGETS.get(what, "")))
        print(f"  {what}: {value}", flush=True)

    def markdown(self) -> str:
        lines = ["| measured | value | target |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in self.rows]
        return "\n".join(lines + [""] + [f"- {n}" for n in self.notes]) + "\n"


def ms(seconds: list[float]) -> str:
    return (
        f"{statistics.median(seconds) * 1000:.1f} ms median"
        f" (p90 {np.percentile(seconds, 90) * 1000:.1f}, n={len(seconds)})"
    )


@pytest.mark.timeout(2 * 3600)  # an hour at 50M on this machine; the default is 15 minutes
def test_bench_scale() -> None:
    report = Report()
    base = Path(tempfile.mkdtemp(prefix="xpha-bench-scale-", dir=WHERE))
    os.chmod(base, 0o755)
    needed = ROWS * BYTES_PER_SOURCE_BUDGET + 6 * 2**30  # + WAL and sort space
    free = shutil.disk_usage(base).free
    if free < needed:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(
            f"{ROWS:,} sources need ~{needed / 2**30:.0f} GiB free in {base.parent},"
            f" {free / 2**30:.0f} GiB are (set XPHA_BENCH_SCALE_DIR or _ROWS)"
        )
    cluster = LocalCluster(data_dir=base / "data", port=free_port())
    started = time.perf_counter()
    try:
        cluster.start()
        url = cluster.ensure_database("xpha")
        migrate(url, Settings(database_url=None, _env_file=None))  # type: ignore[call-arg]
        print(
            f"\nscale benchmark: {ROWS:,} sources in {base} (load average"
            f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start)",
            flush=True,
        )
        positions = build_sky(url, report)
        measure_sizes(url, report)
        measure_queries(url, base, positions, report)
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    report.notes.append(
        f"{ROWS:,} sources; whole run {time.perf_counter() - started:.0f} s;"
        f" load average {os.getloadavg()[0]:.1f} at the end"
        f" ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
    )
    out = Path("var/bench") / f"scale-{ROWS}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.markdown(), encoding="utf-8")
    print("\n" + report.markdown() + f"written to {out}")


# --- building the sky --------------------------------------------------------------------------
def build_sky(url: str, report: Report) -> np.ndarray:
    """Load, index and serve the sky; returns some source positions (ra, dec) to query at."""
    with psycopg.connect(url, autocommit=True) as conn:
        model = conn.execute(
            "INSERT INTO ml.models (kind, version, is_current) VALUES"
            " ('xgboost', '2026-12-01T00:00:00Z', true)"
            " RETURNING model_id"
        ).fetchone()[0]  # type: ignore[index]
        indexes = dropped_indexes(conn, ("gaia.source", "ml.emitter_scores"))
    loaded = bulk_load_sky(url, ROWS, model)
    rate = loaded.rows / loaded.seconds
    report.add(
        "load: gaia.source + scores by binary COPY",
        f"{loaded.seconds:.0f} s ({rate / 1e3:.0f}k sources/s; 220M: "
        f"{FULL_SKY / rate / 3600:.1f} h)",
    )
    t = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for statement in indexes:
            conn.execute(statement)
        index_s = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("ANALYZE gaia.source")
        conn.execute("ANALYZE ml.emitter_scores")
        analyse_s = time.perf_counter() - t
        sample = conn.execute(
            "SELECT ra, dec FROM gaia.source TABLESAMPLE SYSTEM (1) REPEATABLE (5) LIMIT 200000"
        ).fetchall()
    report.add(
        "indexes of gaia.source and scores (PK, Q3C, G, high-PM; PK, 2)",
        f"{index_s:.0f} s; ANALYZE {analyse_s:.0f} s",
    )
    build = serving.publish(url)
    assert build is not None and build.rows == ROWS
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in build.seconds.items())
    report.add(
        "serving table build (xpha score's last step)",
        f"{sum(build.seconds.values()):.0f} s ({steps})",
    )
    return np.array(sample, dtype=np.float64)


def dropped_indexes(conn: psycopg.Connection, relations: tuple[str, ...]) -> list[str]:
    """Drop the indexes and primary keys of ``relations`` (a bulk load builds them after);
    returns the statements that make them again."""
    again: list[str] = []
    for relation in relations:
        for name, definition, constraint in conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),"
            " c.conname FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid ="
            " i.indexrelid AND c.contype = 'p' WHERE i.indrelid = %s::regclass",
            (relation,),
        ).fetchall():
            if constraint:
                conn.execute(f"ALTER TABLE {relation} DROP CONSTRAINT {constraint}")
                again.append(
                    f"ALTER TABLE {relation} ADD CONSTRAINT {constraint} PRIMARY KEY"
                    f" ({definition.split('(', 1)[1].rstrip(')')})"
                )
            else:
                conn.execute(f"DROP INDEX {name}")
                again.append(definition)
    return again


def measure_sizes(url: str, report: Report) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        sizes = dict(
            conn.execute(
                "SELECT r, sum(pg_total_relation_size(t.relid)) FROM unnest(ARRAY['gaia.source',"
                " 'ml.emitter_scores', 'serving.emitter_candidates']) AS r,"
                " LATERAL (SELECT r::regclass AS relid UNION"
                " SELECT relid FROM pg_partition_tree(r::regclass)) t GROUP BY r"
            ).fetchall()
        )
        xp = xp_bytes_per_source(conn)
    per = {k: int(v) / ROWS for k, v in sizes.items()}
    total = sum(per.values())
    report.add(
        "bytes on disk per source (tables + indexes)",
        ", ".join(f"{k} {v:.0f}" for k, v in per.items()) + f"; total {total:.0f}",
    )
    report.add(
        "projection to 220M sources",
        f"{total * FULL_SKY / 1e9:.0f} GB without XP; XP with correlations"
        f" {xp:.0f} B/source -> {xp * FULL_SKY / 1e12:.2f} TB",
    )


def xp_bytes_per_source(conn: psycopg.Connection) -> float:
    """Bytes per row of gaia.xp_continuous with every array filled (correlations included),
    from a sample of random rows (random floats do not compress, nor do real ones much)."""
    rng = np.random.default_rng(9)
    n = XP_SAMPLE
    arrays: dict[str, np.ndarray] = {"source_id": np.arange(n, dtype=np.int64) + 1}
    columns = [CopyColumn("source_id", "int8")]
    for band in ("bp", "rp"):
        arrays[f"{band}_coefficients"] = rng.normal(0, 100, (n, 55))
        arrays[f"{band}_coefficient_errors"] = rng.uniform(0.1, 2, (n, 55)).astype(np.float32)
        arrays[f"{band}_coefficient_correlations"] = rng.uniform(-0.5, 0.5, (n, 1485)).astype(
            np.float32
        )
        columns += [
            CopyColumn(f"{band}_coefficients", "float8", 55),
            CopyColumn(f"{band}_coefficient_errors", "float4", 55),
            CopyColumn(f"{band}_coefficient_correlations", "float4", 1485),
        ]
    names = ", ".join(c.name for c in columns)
    with conn.cursor().copy(
        f"COPY gaia.xp_continuous ({names}) FROM STDIN (FORMAT binary)"
    ) as copy:
        copy.write(pack(arrays, columns))
    size = conn.execute(
        "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('gaia.xp_continuous')"
    ).fetchone()[0]  # type: ignore[index]
    conn.execute("TRUNCATE gaia.xp_continuous")
    return int(size) / n


# --- queries over HTTP ---------------------------------------------------------------------------
def measure_queries(url: str, base: Path, positions: np.ndarray, report: Report) -> None:
    server = LiveServer(
        url,
        base / "var",
        tap_maxrec_default=DOWNLOAD_ROWS,
        tap_hard_limit=max(DOWNLOAD_ROWS, 2_000_000),
        tap_upload_max_rows=200_000,
        tap_upload_max_bytes=60_000_000,
        tap_sync_timeout_s=600,
    ).start()
    rng = np.random.default_rng(11)
    try:
        with httpx.Client(base_url=server.base, timeout=900) as client:

            def sync(query: str, **params: str) -> httpx.Response:
                response = client.post("/sync", data={"LANG": "ADQL", "QUERY": query, **params})
                assert response.status_code == 200, response.text[:500]
                assert b'value="ERROR"' not in response.content[-2000:]
                return response

            centres = positions[rng.choice(len(positions), 60, replace=False)]
            cold, warm = [], []
            for ra, dec in centres[:30]:
                query = CONE.format(columns=SIX, ra=ra, dec=dec, r=0.5)
                t = time.perf_counter()
                sync(query)
                cold.append(time.perf_counter() - t)
                t = time.perf_counter()
                sync(query)
                warm.append(time.perf_counter() - t)
            rows = [cone_rows(sync, ra, dec, 0.5) for ra, dec in centres[:30]]
            report.add(
                "cone 0.5 deg",
                f"{ms(warm)}; first visit {ms(cold)}; {statistics.median(rows):,.0f} rows median",
            )
            small, small_rows = [], []
            for ra, dec in centres[:30]:  # as few rows as a 0.5 deg cone over a uniform 1M sky
                query = CONE.format(columns=SIX, ra=ra, dec=dec, r=0.05)
                sync(query)
                t = time.perf_counter()
                sync(query)
                small.append(time.perf_counter() - t)
                small_rows.append(cone_rows(sync, ra, dec, 0.05))
            report.add(
                "cone 0.05 deg",
                f"{ms(small)}; {statistics.median(small_rows):,.0f} rows median",
            )
            counts, numbers = [], []
            for ra, dec in centres[30:40]:
                t = time.perf_counter()
                body = sync(
                    CONE.format(columns="COUNT(*) AS n", ra=ra, dec=dec, r=5), RESPONSEFORMAT="csv"
                ).text
                counts.append(time.perf_counter() - t)
                numbers.append(int(body.split()[1]))
            report.add(
                "COUNT in a 5 deg cone",
                f"{ms(counts)}; {statistics.median(numbers):,.0f} sources median",
            )
            top = []
            for _ in range(20):
                t = time.perf_counter()
                sync(
                    "SELECT TOP 1000 source_id, ra, dec, probability FROM"
                    " xpha.emitter_candidates ORDER BY probability DESC"
                )
                top.append(time.perf_counter() - t)
            report.add("TOP 1000 by probability", ms(top))
            report.add(
                "TOP 1000 by probability, G < 15 and BP-RP > 1.5",
                ms(
                    timed(
                        lambda: sync(
                            "SELECT TOP 1000 source_id, ra, dec, phot_g_mean_mag, bp_rp, probability FROM"
                            " xpha.emitter_candidates WHERE phot_g_mean_mag < 15 AND bp_rp > 1.5"
                            " ORDER BY probability DESC"
                        ),
                        10,
                    )
                ),
            )
            report.add("async small job", ms(timed(lambda: async_job(client), 20)))
            crossmatches(server.base, positions, rng, report)
            downloads(url, client, report)
    finally:
        server.stop()


def cone_rows(sync, ra: float, dec: float, r: float) -> int:
    """How many rows the cone returns (counted apart, untimed)."""
    body = sync(CONE.format(columns="COUNT(*) AS n", ra=ra, dec=dec, r=r), RESPONSEFORMAT="csv")
    return int(body.text.split()[1])


def timed(call, times: int) -> list[float]:
    out = []
    for _ in range(times):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def async_job(client: httpx.Client) -> None:
    """Create and run, block until final, fetch the result: what a client does."""
    response = client.post(
        "/async",
        data={
            "LANG": "ADQL",
            "PHASE": "RUN",
            "QUERY": "SELECT TOP 10 source_id, probability FROM xpha.emitter_candidates"
            " ORDER BY probability DESC",
        },
        follow_redirects=False,
    )
    job = response.headers["location"]
    while "<uws:phase>COMPLETED</uws:phase>" not in (
        text := client.get(job, params={"WAIT": "-1"}).text
    ):
        assert "ERROR" not in text and "ABORTED" not in text, text
    assert client.get(f"{job}/results/result").status_code == 200


def crossmatches(
    base: str, positions: np.ndarray, rng: np.random.Generator, report: Report
) -> None:
    """Upload positions of catalogue sources (moved by up to 0.3 arcsec) and match at 1 arcsec,
    through pyvo as an astronomer would."""
    import pyvo
    from astropy.table import Table

    service = pyvo.dal.TAPService(base)
    for n, repeats in ((1000, 10), (min(100_000, len(positions)), 2)):
        picked = positions[rng.choice(len(positions), n, replace=False)]
        jitter = rng.normal(0, 0.15 / 3600, picked.shape)
        upload = Table(
            {
                "ra": picked[:, 0] + jitter[:, 0] / np.cos(np.radians(picked[:, 1])),
                "dec": picked[:, 1] + jitter[:, 1],
            }
        )
        times, matched = [], 0
        for _ in range(repeats):
            t = time.perf_counter()
            result = service.run_sync(XMATCH, uploads={"mine": upload}, maxrec=2 * n)
            times.append(time.perf_counter() - t)
            matched = len(result)
        report.add(f"upload {n:,} x 1 arcsec", f"{ms(times)}; {matched:,} matches (pyvo)")


def downloads(url: str, client: httpx.Client, report: Report) -> None:
    n = DOWNLOAD_ROWS
    for label, columns, fmt in (
        ("BINARY2, all 12 columns", "*", "votable"),
        ("CSV, 6 columns", SIX, "csv"),
    ):
        rates = []
        for _ in range(2):
            t = time.perf_counter()
            size = 0
            with client.stream(
                "POST",
                "/sync",
                data={
                    "LANG": "ADQL",
                    "RESPONSEFORMAT": fmt,
                    "MAXREC": str(n),
                    "QUERY": f"SELECT TOP {n} {columns} FROM xpha.emitter_candidates",
                },
            ) as r:
                assert r.status_code == 200
                for chunk in r.iter_bytes():
                    size += len(chunk)
            rates.append(n / (time.perf_counter() - t))
        sql = f"SELECT {columns} FROM xpha.emitter_candidates LIMIT {n}"
        ceiling = n / min(columnar_ceiling(url, sql, n) for _ in range(2))
        report.add(
            label,
            f"{max(rates) / 1e3:.0f}k rows/s ({size / 1e6:.0f} MB); COPY -> numpy"
            f" ceiling {ceiling / 1e3:.0f}k rows/s, ratio {max(rates) / ceiling:.2f}",
        )
