"""Benchmark (not a timed test): run with `make bench`; prints rates and ratios.

The Parquet snapshot feed vs the PostgreSQL binary-COPY feed on the same sources, in one run:
read throughput in one process (``feed.read`` per partition) and through the Dask feed
(``feed.map``, prefetch as in training), plus the export rate and the snapshot's size.
"""

from __future__ import annotations

import time

import pytest
from training_support import load_sky, make_sky, training_settings

from training import snapshot
from training.data import XPFeed, dask_client

N_SOURCES = 60_000


@pytest.fixture(scope="module")
def bench_db(module_db_url, tmp_path_factory):
    for k in range(N_SOURCES // 20_000):
        load_sky(module_db_url, make_sky(20_000, seed=70 + k))
    base = tmp_path_factory.mktemp("bench-snapshot")
    settings = training_settings(base, feed_partition_rows=10_000, feed_healpix_level=6)
    return module_db_url, settings, base / "snap"


def _rows(batch) -> int:
    return len(batch["source_id"])


@pytest.mark.benchmark
def test_bench_snapshot_vs_copy_feed(bench_db):
    url, settings, directory = bench_db
    start = time.perf_counter()
    result = snapshot.export(url, settings, directory, progress=False)
    export_s = time.perf_counter() - start
    assert result.rows == N_SOURCES
    feeds = {"COPY": XPFeed.plan(url, settings), "Parquet": XPFeed.from_snapshot(directory)}
    local = {name: 0.0 for name in feeds}
    dask = {name: 0.0 for name in feeds}
    with dask_client(settings) as client:
        # warm-up, then interleaved repeats, best of each: the machine is shared, load varies
        for name in ("COPY", "Parquet", "COPY", "Parquet", "COPY", "Parquet"):
            feed = feeds[name]
            start = time.perf_counter()
            rows = sum(_rows(feed.read(p)) for p in feed.partitions)
            local[name] = max(local[name], rows / (time.perf_counter() - start))
            start = time.perf_counter()
            rows = sum(feed.map(client, _rows, in_flight=settings.feed_prefetch))
            dask[name] = max(dask[name], rows / (time.perf_counter() - start))
            assert rows == N_SOURCES
    again = snapshot.export(url, settings, directory, progress=False)
    assert again.written == 0
    print(
        f"\nfeed snapshot, {N_SOURCES} sources in {result.files} partitions:"
        f" export {N_SOURCES / export_s:,.0f} src/s ({result.bytes / 2**20 / export_s:.1f} MiB/s"
        f" written, {result.bytes / 2**20:.1f} MiB, {result.bytes / N_SOURCES:.0f} B/source);"
        f" re-export (no-op, hashes checked) {again.seconds:.2f} s"
        f"\n  read in one process: COPY {local['COPY']:,.0f} src/s, Parquet"
        f" {local['Parquet']:,.0f} src/s; ratio Parquet/COPY {local['Parquet'] / local['COPY']:.2f}"
        f"\n  Dask feed (2 workers, prefetch {settings.feed_prefetch}): COPY {dask['COPY']:,.0f}"
        f" src/s, Parquet {dask['Parquet']:,.0f} src/s; ratio Parquet/COPY"
        f" {dask['Parquet'] / dask['COPY']:.2f}"
    )
    assert local["Parquet"] > 0 and dask["Parquet"] > 0
