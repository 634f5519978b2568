"""A small synthetic sky for the training tests, built from REAL Gaia XP continua.

The 2000 real DR3 sources of ``xp_continuous_combined_chunk0.fits`` are the continua; each
synthetic star takes one, rescales it to a drawn G magnitude (errors scale as photon noise),
adds fresh noise from its quoted errors, and emitters get an H-alpha line of a drawn EW pushed
through the Weiler et al. LSF (``ingest.xp_physics.lsf.LineInjector``), flux = EW x continuum.
Source ids fall in random level-12 HEALPix cells so sky-grouped splits have many cells to use.
Rows go into the test database by binary COPY.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sql.binary_copy import CopyColumn, pack
from sql.database import transaction

CHUNK0 = (
    Path(__file__).resolve().parent.parent
    / "ingest/data/real/xp_spectral_lines/xp_continuous_combined_chunk0.fits"
)
LABELS_TABLE = "labels.xpha_test_labels"
TRUTH_TABLE = "labels.xpha_test_truth"
G_ZERO_POINT = 25.6873668671


@lru_cache(maxsize=1)
def real_continua() -> dict[str, np.ndarray]:
    """The real chunk-0 coefficients and errors (rows with both bands), and a G-flux proxy."""
    from astropy.table import Table

    from ingest.xp_physics.lsf import band_model

    table = Table.read(CHUNK0)
    out = {}
    for band in ("bp", "rp"):
        out[band] = np.stack([np.asarray(table[f"{band}_coeff_{i}"], float) for i in range(55)], 1)
        out[f"{band}_err"] = np.stack(
            [np.asarray(table[f"e_{band}_coeff_{i}"], float) for i in range(55)], 1
        )
    good = np.all([np.isfinite(v).all(axis=1) for v in out.values()], axis=0)
    out = {k: v[good] for k, v in out.items()}
    rate_bp = band_model("bp").integrated_rate(out["bp"])
    rate_rp = band_model("rp").integrated_rate(out["rp"])
    keep = (rate_bp > 0) & (rate_rp > 0)
    out = {k: v[keep] for k, v in out.items()}
    out["g_flux"] = (rate_bp + rate_rp)[keep]
    out["bp_rp"] = -2.5 * np.log10(rate_bp[keep] / rate_rp[keep])
    return out


@dataclass
class Sky:
    source_id: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    bp: np.ndarray
    bp_err: np.ndarray
    rp: np.ndarray
    rp_err: np.ndarray
    g_flux: np.ndarray
    g_mag: np.ndarray
    bp_rp: np.ndarray
    ew_true: np.ndarray  # Angstrom, 0 for non-emitters
    labelled: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.source_id)


def make_sky(
    n: int,
    seed: int = 0,
    emitter_fraction: float = 0.1,
    labelled_fraction: float = 0.6,
    ew_range: tuple[float, float] = (3.0, 100.0),
    g_range: tuple[float, float] = (12.0, 17.5),
) -> Sky:
    """``n`` synthetic stars on real continua; emitters carry a LSF-injected H-alpha line."""
    from astropy_healpix import HEALPix

    from ingest.xp_physics.halpha_ew import continuum_at_halpha
    from ingest.xp_physics.lsf import LineInjector

    rng = np.random.default_rng(seed)
    real = real_continua()
    pick = rng.integers(0, len(real["g_flux"]), n)
    g_mag = rng.uniform(*g_range, n)
    g_flux = 10 ** ((G_ZERO_POINT - g_mag) / 2.5)
    scale = (g_flux / real["g_flux"][pick])[:, None]
    bands = {}
    for band in ("bp", "rp"):
        bands[band] = real[band][pick] * scale
        bands[f"{band}_err"] = real[f"{band}_err"][pick] * np.sqrt(scale)
    emitter = rng.random(n) < emitter_fraction
    ew = np.where(emitter, np.exp(rng.uniform(*np.log(ew_range), n)), 0.0)
    continuum = continuum_at_halpha(bands["bp"], bands["rp"])
    line_flux = ew / 10.0 * np.clip(continuum, 0, None)  # EW in nm x W m^-2 nm^-1
    increments = LineInjector().increments(line_flux, rng.uniform(0.15, 0.5, n))
    for band in ("bp", "rp"):
        noise = rng.standard_normal(bands[band].shape) * bands[f"{band}_err"]
        bands[band] = bands[band] + increments[band] + noise
    cells = np.sort(rng.choice(12 * 4**12, n, replace=False))
    source_id = (cells.astype(np.int64) << 35) + rng.integers(0, 2**35, n)
    healpix = HEALPix(nside=2**12, order="nested")
    lon, lat = healpix.healpix_to_lonlat(cells)
    return Sky(
        source_id=source_id,
        ra=lon.deg,
        dec=lat.deg,
        g_flux=g_flux,
        g_mag=g_mag,
        bp_rp=real["bp_rp"][pick],
        ew_true=ew,
        labelled=rng.random(n) < labelled_fraction,
        **bands,
    )


def load_sky(url: str, sky: Sky, labels: bool = True) -> None:
    """COPY the sky into gaia.source / gaia.xp_continuous, labels and truth tables."""
    n = len(sky)
    source_cols = [
        CopyColumn("source_id", "int8"),
        CopyColumn("ra", "float8"),
        CopyColumn("dec", "float8"),
        CopyColumn("phot_g_mean_flux", "float8"),
        CopyColumn("phot_g_mean_mag", "float4"),
        CopyColumn("bp_rp", "float4"),
    ]
    xp_cols = [
        CopyColumn("source_id", "int8"),
        CopyColumn("bp_coefficients", "float8", 55),
        CopyColumn("bp_coefficient_errors", "float4", 55),
        CopyColumn("rp_coefficients", "float8", 55),
        CopyColumn("rp_coefficient_errors", "float4", 55),
    ]
    with transaction(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY gaia.source (source_id, ra, dec, phot_g_mean_flux, phot_g_mean_mag,"
            " bp_rp) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(
                pack(
                    {
                        "source_id": sky.source_id,
                        "ra": sky.ra,
                        "dec": sky.dec,
                        "phot_g_mean_flux": sky.g_flux,
                        "phot_g_mean_mag": sky.g_mag,
                        "bp_rp": sky.bp_rp,
                    },
                    source_cols,
                )
            )
        with cur.copy(
            "COPY gaia.xp_continuous (source_id, bp_coefficients, bp_coefficient_errors,"
            " rp_coefficients, rp_coefficient_errors) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(
                pack(
                    {
                        "source_id": sky.source_id,
                        "bp_coefficients": sky.bp,
                        "bp_coefficient_errors": sky.bp_err,
                        "rp_coefficients": sky.rp,
                        "rp_coefficient_errors": sky.rp_err,
                    },
                    xp_cols,
                )
            )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {TRUTH_TABLE} (source_id bigint PRIMARY KEY,"
            " ew_halpha_true real)"
        )
        with cur.copy(f"COPY {TRUTH_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(
                pack(
                    {"source_id": sky.source_id, "ew_halpha_true": sky.ew_true},
                    [CopyColumn("source_id", "int8"), CopyColumn("ew_halpha_true", "float4")],
                )
            )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {LABELS_TABLE} (source_id bigint,"
            " is_emitter boolean, ew_halpha real, conflict boolean)"
        )
        if labels:
            m = sky.labelled
            with cur.copy(
                f"COPY {LABELS_TABLE} (source_id, is_emitter, ew_halpha, conflict)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(
                    pack(
                        {
                            "source_id": sky.source_id[m],
                            "is_emitter": sky.ew_true[m] > 0,
                            "ew_halpha": sky.ew_true[m],
                            "conflict": np.zeros(m.sum(), bool),
                        },
                        [
                            CopyColumn("source_id", "int8"),
                            CopyColumn("is_emitter", "bool"),
                            CopyColumn("ew_halpha", "float4"),
                            CopyColumn("conflict", "bool"),
                        ],
                    )
                )
        cur.execute("ANALYZE gaia.source; ANALYZE gaia.xp_continuous")
    assert n == len(sky)


def training_settings(var_dir: Path, **overrides):
    """Settings for a tiny, fast run against the test tables."""
    from training.settings import TrainingSettings

    values = dict(
        database_url=None,
        var_dir=var_dir,
        training_labels_relation=LABELS_TABLE,
        training_truth_relation=TRUTH_TABLE,
        feed_partition_rows=600,
        feed_healpix_level=3,
        split_healpix_level=3,
        dae_epochs=4,
        dae_batch_size=256,
        dae_hidden=128,
        head_epochs=15,
        baseline_max_rounds=150,
        bootstrap_samples=30,
        dask_local_workers=2,
        continuum_epochs=2,
        continuum_rows_per_epoch=20_000,
        continuum_hidden=64,
    )
    values.update(overrides)
    return TrainingSettings(**values)  # type: ignore[arg-type]
