"""Benchmark: sources simulated per second (FITS, no SDSS) and peak memory for 1,000,000."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

RUN = """
import resource, sys, time, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from ingest.simulator.generator import SimulationConfig
from ingest.simulator.pipeline import simulate
n = int(sys.argv[1])
start = time.perf_counter()
simulate(SimulationConfig(n_sources=n, seed=1), Path(sys.argv[2]), "fits", progress=False)
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


ONE_CORE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _simulate(n: int, out) -> tuple[float, float]:
    """Run in a fresh single-threaded process: its peak RSS is the simulator's alone."""
    done = subprocess.run([sys.executable, "-c", RUN, str(n), str(out)], check=True,
                          capture_output=True, text=True, env={**os.environ, **ONE_CORE})  # fmt: skip
    elapsed, peak_mb = map(float, done.stdout.split())
    return elapsed, peak_mb


def _ceiling(n: int, out) -> float:
    """The irreducible work per source: its 2 x 55 noise draws and writing its bytes."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for chunk in range(0, n, 50_000):
        block = rng.standard_normal((min(50_000, n - chunk), 110))
        (out / "ceiling.bin").write_bytes(np.concatenate([block, block[:, :55]], 1).tobytes())
    return n / (time.perf_counter() - start)


@pytest.mark.benchmark
def test_simulation_rate_and_memory(tmp_path):
    n_rate, n_memory = 200_000, 1_000_000
    elapsed, peak_small = _simulate(n_rate, tmp_path / "rate")
    rate = n_rate / elapsed
    ceiling = _ceiling(n_rate, tmp_path)
    elapsed_m, peak_mb = _simulate(n_memory, tmp_path / "million")
    size = sum(p.stat().st_size for p in (tmp_path / "million").rglob("*") if p.is_file())
    print(
        f"\nsimulate (FITS, no SDSS, one thread, start-up included): {rate:,.0f} sources/s; ceiling (noise draws + bytes "
        f"written) {ceiling:,.0f}/s; ratio {rate / ceiling:.2f}; target >= 20,000/s"
    )
    print(
        f"1,000,000 sources: {elapsed_m:.1f} s ({n_memory / elapsed_m:,.0f}/s), peak RSS "
        f"{peak_mb:,.0f} MB ({peak_small:,.0f} MB at {n_rate:,}: flat), {size / 1e9:.2f} GB written"
    )
    assert rate > 0 and peak_mb < 1.5 * peak_small
