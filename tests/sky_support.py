"""A synthetic Gaia sky of any size, cheap to make: gaia.source rows and scores by binary COPY.

The scale benchmark and the plan tests need millions of sources with the density and ids of
the real catalogue, not XP spectra. Sources are drawn cell by cell (HEALPix level 5, in nested
order, which is source_id order): the number in each cell follows the Galactic disc density of
the simulator (sin b Laplace-distributed, scale 0.12), positions are uniform inside it, and
source_ids carry the level-12 pixel in their top bits as Gaia's do. A chunk is sorted by
source_id and held in memory alone, so the sky streams at any size.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import psycopg

from ingest.simulator.sky import SOURCE_ID_CELL, galactic_to_icrs
from sql.binary_copy import CopyColumn, pack
from training.scoring import SCORE_COLUMNS  # the layout xpha score COPYs

CELL_LEVEL = 5
SUBPIXELS = 4 ** (12 - CELL_LEVEL)  # level-12 pixels per cell
DISC_SCALE = 0.12

SOURCE_COLUMNS = [
    CopyColumn("source_id", "int8"),
    CopyColumn("ra", "float8"),
    CopyColumn("dec", "float8"),
    CopyColumn("ra_error", "float4"),
    CopyColumn("dec_error", "float4"),
    CopyColumn("parallax", "float8"),
    CopyColumn("parallax_error", "float4"),
    CopyColumn("pmra", "float8"),
    CopyColumn("pmra_error", "float4"),
    CopyColumn("pmdec", "float8"),
    CopyColumn("pmdec_error", "float4"),
    CopyColumn("ruwe", "float4"),
    CopyColumn("phot_g_mean_flux", "float8"),
    CopyColumn("phot_g_mean_flux_error", "float4"),
    CopyColumn("phot_g_mean_mag", "float4"),
    CopyColumn("phot_bp_mean_flux", "float8"),
    CopyColumn("phot_bp_mean_mag", "float4"),
    CopyColumn("phot_rp_mean_flux", "float8"),
    CopyColumn("phot_rp_mean_mag", "float4"),
    CopyColumn("bp_rp", "float4"),
    CopyColumn("phot_bp_rp_excess_factor", "float4"),
    CopyColumn("radial_velocity", "float4", nan_is_null=True),
    CopyColumn("l", "float8"),
    CopyColumn("b", "float8"),
    CopyColumn("has_xp_continuous", "bool"),
]


def cell_counts(n: int, seed: int) -> np.ndarray:
    """Sources per level-5 cell: a multinomial draw from the Galactic disc density."""
    from astropy_healpix import healpix_to_lonlat

    cells = np.arange(12 * 4**CELL_LEVEL)
    lon, lat = healpix_to_lonlat(cells, 2**CELL_LEVEL, order="nested")
    vectors = np.stack(
        [np.cos(lat.rad) * np.cos(lon.rad), np.cos(lat.rad) * np.sin(lon.rad), np.sin(lat.rad)]
    )
    sin_b = (galactic_to_icrs().T @ vectors)[2]  # equal-area cells: weight = density
    weight = np.exp(-np.abs(sin_b) / DISC_SCALE)
    return np.random.default_rng(seed).multinomial(n, weight / weight.sum())


def sky_chunks(
    n: int, seed: int = 1, chunk_rows: int = 1_000_000
) -> Iterator[dict[str, np.ndarray]]:
    """The ``n`` sources in source_id order, about ``chunk_rows`` at a time."""
    counts = cell_counts(n, seed)
    rng = np.random.default_rng(seed + 1)
    ends = np.cumsum(counts)
    first_cell, running = 0, 0
    while first_cell < len(counts):
        last_cell = int(np.searchsorted(ends, ends[first_cell] - counts[first_cell] + chunk_rows))
        last_cell = min(max(last_cell, first_cell + 1), len(counts))
        cells = np.repeat(np.arange(first_cell, last_cell), counts[first_cell:last_cell])
        size = len(cells)
        if size:
            chunk = _sources(rng, cells, running)
            running += size
            yield chunk
        first_cell = last_cell


def _sources(rng: np.random.Generator, cells: np.ndarray, running: int) -> dict[str, np.ndarray]:
    from astropy_healpix import healpix_to_lonlat

    n = len(cells)
    pixels = np.sort(cells.astype(np.int64) * SUBPIXELS + rng.integers(0, SUBPIXELS, n))
    lon, lat = healpix_to_lonlat(pixels, 2**12, dx=rng.random(n), dy=rng.random(n), order="nested")
    ra, dec = lon.deg, lat.deg
    vectors = np.stack(
        [np.cos(lat.rad) * np.cos(lon.rad), np.cos(lat.rad) * np.sin(lon.rad), np.sin(lat.rad)]
    )
    galactic = galactic_to_icrs().T @ vectors
    g = np.clip(17.65 - rng.exponential(1.6, n), 8.0, 17.65)  # counts rise to the XP limit
    bp_rp = rng.normal(1.1, 0.45, n)
    g_flux = 10 ** (-0.4 * (g - 25.69))
    f32 = np.float32
    return {
        "source_id": pixels * SOURCE_ID_CELL + running + np.arange(n),
        "ra": ra,
        "dec": dec,
        "ra_error": rng.gamma(2, 0.02, n).astype(f32),
        "dec_error": rng.gamma(2, 0.02, n).astype(f32),
        "parallax": rng.lognormal(np.log(0.8), 0.8, n),
        "parallax_error": rng.gamma(2, 0.03, n).astype(f32),
        "pmra": rng.normal(0, 6, n),
        "pmra_error": rng.gamma(2, 0.03, n).astype(f32),
        "pmdec": rng.normal(-3, 6, n),
        "pmdec_error": rng.gamma(2, 0.03, n).astype(f32),
        "ruwe": (0.9 + rng.gamma(2, 0.08, n)).astype(f32),
        "phot_g_mean_flux": g_flux,
        "phot_g_mean_flux_error": (g_flux * 1e-3).astype(f32),
        "phot_g_mean_mag": g.astype(f32),
        "phot_bp_mean_flux": g_flux * 0.6,
        "phot_bp_mean_mag": (g + 0.4 * bp_rp).astype(f32),
        "phot_rp_mean_flux": g_flux * 0.7,
        "phot_rp_mean_mag": (g - 0.6 * bp_rp).astype(f32),
        "bp_rp": bp_rp.astype(f32),
        "phot_bp_rp_excess_factor": rng.normal(1.2, 0.02, n).astype(f32),
        "radial_velocity": np.where(rng.random(n) < 0.03, rng.normal(0, 40, n), np.nan).astype(f32),
        "l": np.degrees(np.arctan2(galactic[1], galactic[0])) % 360.0,
        "b": np.degrees(np.arcsin(np.clip(galactic[2], -1, 1))),
        "has_xp_continuous": np.ones(n, dtype=bool),
    }


def scores(rng: np.random.Generator, model_id: int, source_id: np.ndarray) -> dict[str, np.ndarray]:
    """A model's scores: mostly unlikely emitters, a tail of likely ones, some unmeasured lines."""
    n = len(source_id)
    score = rng.normal(-4.0, 1.5, n).astype(np.float32)
    unmeasured = rng.random(n) < 0.05
    return {
        "model_id": np.full(n, model_id, np.int32),
        "source_id": source_id,
        "score": score,
        "probability": (1 / (1 + np.exp(-score))).astype(np.float32),
        "halpha_excess_ew": np.where(unmeasured, np.nan, rng.normal(0, 2, n)).astype(np.float32),
        "halpha_excess_snr": np.where(unmeasured, np.nan, rng.normal(0, 1.5, n)).astype(np.float32),
    }


@dataclass
class Loaded:
    rows: int
    seconds: float


def load_sky(
    url: str, n: int, model_ids: list[int], seed: int = 1, chunk_rows: int = 1_000_000
) -> Loaded:
    """COPY ``n`` sources into gaia.source and a score per source for each model."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed + 2)
    rows = 0
    with psycopg.connect(url, autocommit=True) as conn:
        source_copy = "COPY gaia.source ({}) FROM STDIN (FORMAT binary)".format(
            ", ".join(c.name for c in SOURCE_COLUMNS)
        )
        score_copy = "COPY ml.emitter_scores ({}) FROM STDIN (FORMAT binary)".format(
            ", ".join(c.name for c in SCORE_COLUMNS)
        )
        for chunk in sky_chunks(n, seed, chunk_rows):
            with conn.transaction():
                with conn.cursor().copy(source_copy) as copy:
                    copy.write(pack(chunk, SOURCE_COLUMNS))
                for model_id in model_ids:
                    with conn.cursor().copy(score_copy) as copy:
                        copy.write(pack(scores(rng, model_id, chunk["source_id"]), SCORE_COLUMNS))
            rows += len(chunk["source_id"])
    return Loaded(rows, time.perf_counter() - started)


def bulk_load_sky(
    url: str, n: int, model_id: int, seed: int = 1, chunk_rows: int = 500_000
) -> Loaded:
    """The fastest honest load of an empty sky: each gaia.source partition and the scores
    truncated and COPYed with FREEZE in one transaction (so no WAL with wal_level=minimal and
    no later VACUUM to freeze). Three threads overlap: one draws the sky, one packs and COPYs
    the sources, one the scores (two server processes work at once). The scores skip their
    foreign-key trigger (the model is known to exist), as a bulk load may."""
    started = time.perf_counter()
    for_sources: queue.Queue = queue.Queue(maxsize=2)
    for_scores: queue.Queue = queue.Queue(maxsize=2)
    failed: list[BaseException] = []

    def guarded(work, *args) -> threading.Thread:
        def run() -> None:
            try:
                work(*args)
            except BaseException as exc:
                failed.append(exc)
                for waiting in (for_sources, for_scores):  # a consumer may wait for more
                    with contextlib.suppress(queue.Full):
                        waiting.put_nowait(None)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def offer(out: queue.Queue, item: object) -> bool:
        while not failed:
            with contextlib.suppress(queue.Full):
                out.put(item, timeout=0.5)
                return True
        return False

    def generate() -> None:
        for chunk in sky_chunks(n, seed, chunk_rows):
            if not (offer(for_sources, chunk) and offer(for_scores, chunk["source_id"])):
                return
        offer(for_sources, None)
        offer(for_scores, None)

    threads = [
        guarded(generate),
        guarded(_copy_sources, url, for_sources),
        guarded(_copy_scores, url, for_scores, model_id, seed),
    ]
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return Loaded(n, time.perf_counter() - started)


def _copy_sources(url: str, chunks: queue.Queue) -> None:
    """Each partition emptied and filled in one transaction, rows COPYed with FREEZE."""
    names = ", ".join(c.name for c in SOURCE_COLUMNS)
    with psycopg.connect(url) as conn:
        leaves = conn.execute(  # each partition's lower source_id bound, in order
            "SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid),"
            " 'FROM \\(''?(-?\\d+)'))[1]::numeric::bigint AS lo, c.oid::regclass::text"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'gaia.source'::regclass ORDER BY 1"
        ).fetchall()
        bounds = np.array([lo for lo, _ in leaves], dtype=np.int64)
        current: str | None = None
        while (chunk := chunks.get()) is not None:
            leaf = np.searchsorted(bounds, chunk["source_id"], side="right") - 1
            for index in np.unique(leaf):
                rows = leaf == index
                name = leaves[int(index)][1]
                if name != current:  # a new partition: emptied in the transaction that fills it
                    conn.commit()
                    conn.execute(f"TRUNCATE {name}")
                    current = name
                with conn.cursor().copy(
                    f"COPY {name} ({names}) FROM STDIN (FORMAT binary, FREEZE)"
                ) as copy:
                    copy.write(pack({k: v[rows] for k, v in chunk.items()}, SOURCE_COLUMNS))
        conn.commit()


def _copy_scores(url: str, chunks: queue.Queue, model_id: int, seed: int) -> None:
    rng = np.random.default_rng(seed + 2)
    names = ", ".join(c.name for c in SCORE_COLUMNS)
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("TRUNCATE ml.emitter_scores")
        while (source_id := chunks.get()) is not None:
            with conn.cursor().copy(
                f"COPY ml.emitter_scores ({names}) FROM STDIN (FORMAT binary, FREEZE)"
            ) as copy:
                copy.write(pack(scores(rng, model_id, source_id), SCORE_COLUMNS))
        conn.commit()
