"""Benchmarks of the labels part (run with `make bench`; printed, never asserted on time).

1. H-alpha measurement rate (spectra/s, one core; West and broad windows, line-width fit), from
   files and in memory, next to the ceiling of just reading the files' bytes.
2. Crossmatch of 100k survey entries with 1M Gaia sources (proper motions applied, best match,
   candidate counts, written to xmatch.gaia_sdss) next to the raw q3c_join count on the same
   tables.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from labels_support import synthetic_spectrum

from ingest.crossmatch import crossmatch
from ingest.halpha import HalphaWindows, LabelRule, measure
from ingest.sdss import measure_rows
from ingest.sdss_spectra import read_spectrum

pytestmark = pytest.mark.benchmark


def test_bench_halpha_measurement(real_data: Path, tmp_path: Path) -> None:
    """CPU seconds (process_time) so that other work on a shared machine does not count."""
    source = real_data / "sdss_spectra" / "spec-0854-52373-0369.fits"
    n = 1024
    for i in range(n):
        shutil.copy(source, tmp_path / f"spec-0854-52373-{i:04d}.fits")
    files = sorted(tmp_path.glob("spec-*.fits"))
    total = 0
    t = time.process_time()
    for p in files:
        total += len(p.read_bytes())
    ceiling = n / (time.process_time() - t)
    t = time.process_time()
    for p in files:
        read_spectrum(p)
    parse_only = n / (time.process_time() - t)
    t, wall = time.process_time(), time.perf_counter()
    for k in range(0, n, 256):
        measure_rows(files[k : k + 256], HalphaWindows(), LabelRule())
    from_files = n / (time.process_time() - t)
    from_files_wall = n / (time.perf_counter() - wall)
    rng = np.random.default_rng(0)
    # half dMe-like narrow lines, half Be-like broad ones: both windows and the width fit run
    spectra = [synthetic_spectrum(3.0, 20, rng, sigma_a=1.5 if i % 2 else 10.0, fiber=i)
               for i in range(2048)]  # fmt: skip
    t = time.process_time()
    for k in range(0, len(spectra), 256):
        measure(spectra[k : k + 256])
    in_memory = len(spectra) / (time.process_time() - t)
    print(
        f"\nH-alpha, one core (CPU time): {from_files:,.0f} spectra/s from files "
        f"(read + sha256 + parse + measure + label; {from_files_wall:,.0f}/s wall), "
        f"{parse_only:,.0f}/s parsing only, {in_memory:,.0f}/s measuring in memory; "
        f"ceiling = reading the bytes ({total / n / 1e3:.0f} kB each): {ceiling:,.0f}/s; "
        f"ratio {from_files / ceiling:.2f}; target >= 500/s"
    )


def test_bench_crossmatch_100k_by_1m(db_url: str) -> None:
    rng = np.random.default_rng(1)
    n_gaia, n_survey = 1_000_000, 100_000
    ra = rng.uniform(100, 110, n_gaia)
    dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-5)), np.sin(np.radians(5)), n_gaia)))
    pm = rng.normal(0, 8, (n_gaia, 2))
    fast = rng.random(n_gaia) < 0.002  # ~0.2% above 100 mas/yr, as in Gaia's nearby stars
    pm[fast] *= rng.uniform(15, 300, (fast.sum(), 1))
    pick = rng.choice(n_gaia, n_survey, replace=False)
    s_ra = ra[pick] + rng.normal(0, 0.3, n_survey) / 3600
    s_dec = dec[pick] + rng.normal(0, 0.3, n_survey) / 3600
    with psycopg.connect(db_url) as conn:
        t = time.perf_counter()
        with conn.cursor().copy(
            "COPY gaia.source (source_id, ra, dec, pmra, pmdec) FROM STDIN"
        ) as cp:
            for i in range(n_gaia):
                cp.write_row((i + 1, ra[i], dec[i], pm[i, 0], pm[i, 1]))
        with conn.cursor().copy(
            "COPY labels.sdss_spectra (spec_id, plate, mjd, fiber, ra, dec, status) FROM STDIN"
        ) as cp:
            for i in range(n_survey):
                cp.write_row((f"{i:06d}", 1, 52000 + i % 3000, 1, s_ra[i], s_dec[i], "measured"))
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE gaia.source")
        conn.execute("ANALYZE labels.sdss_spectra")
        load = time.perf_counter() - t
        t = time.perf_counter()
        raw = conn.execute(
            "SELECT count(*) FROM labels.sdss_spectra s JOIN gaia.source g"
            " ON q3c_join(s.ra, s.dec, g.ra, g.dec, 1.0 / 3600)"
        ).fetchone()[0]
        raw_s = time.perf_counter() - t
    t = time.perf_counter()
    report = crossmatch("sdss", 1.0, db_url)
    ours_s = time.perf_counter() - t
    print(
        f"\ncrossmatch {n_survey:,} x {n_gaia:,} (load {load:.1f} s): raw q3c_join count "
        f"{raw_s:.2f} s ({raw:,} pairs, no proper motion); xpha crossmatch {ours_s:.2f} s "
        f"({report.matched:,} matched, {report.ambiguous:,} ambiguous, proper motions, best "
        f"match written); ratio {ours_s / raw_s:.1f}x"
    )
