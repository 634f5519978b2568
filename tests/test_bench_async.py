"""Benchmark: async small-job latency, submit to result in hand, against its ceiling.

The ceiling of an async job is the same query through /sync on the same server (one request,
no job bookkeeping); the floor below both is the bare SQL. Printed: medians, p95, the ratio
async/sync, and the issue's target (< 100 ms; GAVO DaCHS measured ~1,050 ms on this machine).
"""

from __future__ import annotations

import statistics
import time

import httpx
import psycopg
import pytest
from uws_support import LiveServer

QUERY = "SELECT TOP 10 table_name, description FROM tap_schema.tables ORDER BY table_name"
SQL = "SELECT table_name, description FROM tap_schema.tables ORDER BY table_name LIMIT 11"
RUNS = 60


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def async_job(client: httpx.Client, base: str) -> bytes:
    """What a client does: create+run, block until final, fetch the result."""
    response = client.post(f"{base}/async", data={"LANG": "ADQL", "QUERY": QUERY,
                                                   "PHASE": "RUN"}, follow_redirects=False)
    job_url = response.headers["location"]
    while True:
        job = client.get(job_url, params={"WAIT": "-1"}).text
        if "<uws:phase>COMPLETED</uws:phase>" in job:
            break
        assert "<uws:phase>ERROR" not in job and "ABORTED" not in job, job
    return client.get(f"{job_url}/results/result").content


@pytest.mark.benchmark
def test_async_small_job_latency(db_url, tmp_path) -> None:
    server = LiveServer(db_url, tmp_path / "var").start()
    try:
        with httpx.Client(timeout=60) as client:
            sync = lambda: client.post(f"{server.base}/sync",  # noqa: E731
                                       data={"LANG": "ADQL", "QUERY": QUERY}).content
            for _ in range(5):  # warm up both paths (catalogue, pools)
                async_job(client, server.base)
                sync()
            timings: dict[str, list[float]] = {"async": [], "sync": [], "sql": []}
            with psycopg.connect(db_url) as conn:
                for _ in range(RUNS):
                    t0 = time.perf_counter()
                    body = async_job(client, server.base)
                    timings["async"].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    sync()
                    timings["sync"].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    conn.execute(SQL).fetchall()
                    timings["sql"].append(time.perf_counter() - t0)
    finally:
        server.stop()
    assert b'QUERY_STATUS" value="OK"' in body
    median = {k: statistics.median(v) * 1000 for k, v in timings.items()}
    p95 = {k: percentile(v, 0.95) * 1000 for k, v in timings.items()}
    print(f"\nasync small job, submit -> result, {RUNS} runs: median {median['async']:.1f} ms, "
          f"p95 {p95['async']:.1f} ms ({1000 / median['async']:.1f} jobs/s sequential)")
    print(f"ceiling, same query via /sync: median {median['sync']:.1f} ms, "
          f"p95 {p95['sync']:.1f} ms; bare SQL {median['sql']:.2f} ms")
    print(f"ratio async/sync {median['async'] / median['sync']:.2f}; "
          f"target < 100 ms: {'met' if median['async'] < 100 else 'MISSED'}; "
          f"vs DaCHS ~1,050 ms: {1050 / median['async']:.0f}x faster")
