"""Real XP continua: the parent library every simulated source is drawn from.

2000 real DR3 sources (chunk0: coefficients and errors, no correlations) and the handful of full
archive records with correlations (and one with a missing BP band) shipped under
``ingest/data/real``. A simulated star is a parent scaled in flux to a new G magnitude and
perturbed within errors that grow with magnitude as real ones do.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ingest.samples import real_sample
from ingest.xp_physics.lsf import band_model

REAL_DATA = real_sample()
CHUNK0 = REAL_DATA / "xp_spectral_lines" / "xp_continuous_combined_chunk0.fits"
WEILER_EXAMPLES = REAL_DATA / "xp_spectral_lines" / "xp_continuous_combined_weiler2023_examples.vot"
FULL_RECORDS = (REAL_DATA / "gaiaxpy_tests" / "XP_CONTINUOUS_RAW.fits", WEILER_EXAMPLES)
GAIAXPY_LINE_STAR = 5853498713190525696  # GaiaXPy's line finder: H-alpha, significance 29
ARCHIVE_ZIP = (
    REAL_DATA / "astroquery_gaia" / "gaia_dr3_source_id_5937083312263887616_dl_products_fits.zip"
)
MISSING_BP_CSV = REAL_DATA / "gaiaxpy_tests" / "XP_CONTINUOUS_RAW_with_missing_BP.csv"

# Gaia DR3 photometric zero points (Vega), Riello et al. 2021.
ZERO_POINT = {"g": 25.6874, "bp": 25.3385, "rp": 24.7479}
N = 55
N_CORRELATIONS = N * (N - 1) // 2
#: The noise of a star's XP coefficients, per band: variance = floor + photon + background,
#: σ² ∝ F²/F_floor + F + F_bg. The two magnitudes (G where the calibration floor equals the
#: photon noise, G where the background does) are fitted to the quoted errors of the 2,008 real
#: library stars (median error over the 55 coefficients, G 8-19); tests/test_simulator_continua.py
#: fits them again and checks the model against every G bin. Without the floor (photon +
#: background only), the errors of stars brighter than G ~13 are 2-9x the model's, so a G 10
#: parent made G 16 got 2-4x the errors of real G 16 stars.
ERROR_MODEL_G_MAG = {"bp": (13.62, 16.76), "rp": (12.04, 16.75)}  # (floor, background)


def g_flux_from_bp_rp(bp_flux: np.ndarray, rp_flux: np.ndarray) -> np.ndarray:
    """G flux from BP and RP fluxes via the expected excess factor C(BP-RP) of Riello+2021
    (Table 2): C = (BP + RP) / G for a normal star."""
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = -2.5 * np.log10(bp_flux / rp_flux) + ZERO_POINT["bp"] - ZERO_POINT["rp"]
    colour = np.where(np.isfinite(colour), colour, np.nan)  # no positive RP: no colour, no G
    excess = np.where(
        colour < 0.5,
        1.154360 + 0.033772 * colour + 0.032277 * colour**2,
        np.where(
            colour < 4.0,
            1.162004 + 0.011464 * colour + 0.049255 * colour**2 - 0.005879 * colour**3,
            1.057572 + 0.140537 * colour,
        ),
    )
    return (bp_flux + rp_flux) / excess


def g_flux_of(bp_flux: np.ndarray, rp_flux: np.ndarray) -> np.ndarray:
    """G flux from the integrated XP fluxes; without a positive BP flux, from RP with the
    colour of a typical red star (BP-RP = 2.5), since XP spectra lack BP mostly for faint red
    sources, and noise can take the integrated BP of a faint copy below zero (held-out fold 3's
    sky: 1 copy in 100,000, of a G 7.9 parent made G 17.5, had no G until this)."""
    typical_bp = rp_flux * 10 ** (-0.4 * (2.5 - ZERO_POINT["bp"] + ZERO_POINT["rp"]))
    measured = np.isfinite(bp_flux) & (bp_flux > 0)
    return g_flux_from_bp_rp(np.where(measured, bp_flux, typical_bp), rp_flux)


def magnitude(flux: np.ndarray, band: str) -> np.ndarray:
    """Vega magnitude; NaN, without a warning, where the flux is not positive."""
    flux = np.asarray(flux, dtype=float)
    positive = flux > 0
    return (
        np.where(positive, -2.5 * np.log10(np.where(positive, flux, 1.0)), np.nan)
        + ZERO_POINT[band]
    )


@dataclass(frozen=True)
class ParentLibrary:
    """Arrays of real parents; rows with a missing BP band hold NaN there."""

    source_id: np.ndarray  # (m,) int64
    bp: np.ndarray  # (m, 55) float64
    rp: np.ndarray
    bp_err: np.ndarray  # (m, 55) float64
    rp_err: np.ndarray
    bp_n_relevant_bases: np.ndarray  # (m,) int16
    rp_n_relevant_bases: np.ndarray
    bp_correlations: dict[int, np.ndarray]  # parent row -> (1485,) float32, where known
    rp_correlations: dict[int, np.ndarray]
    g_flux: np.ndarray  # (m,) e-/s, derived (NaN when BP is missing: G from RP alone then)
    bp_rp: np.ndarray

    def __len__(self) -> int:
        return len(self.source_id)

    @property
    def g_mag(self) -> np.ndarray:
        return magnitude(self.g_flux, "g")

    def correlation_factor(self, band: str, row: int) -> np.ndarray | None:
        """Cholesky factor of a parent's coefficient correlation matrix, if it has one."""
        return _cholesky(self, band, row)


def correlation_matrix(upper: np.ndarray) -> np.ndarray:
    """The 55x55 matrix from the archive's 1485 off-diagonal values: the strictly lower
    triangle row by row (= upper triangle column-major), as gaiaxpy's
    array_to_symmetric_matrix reads them."""
    matrix = np.eye(N)
    rows, cols = np.tril_indices(N, k=-1)
    matrix[rows, cols] = upper
    matrix[cols, rows] = upper
    return matrix


_CHOLESKY_CACHE: dict[tuple[int, str, int], np.ndarray] = {}


def _cholesky(library: ParentLibrary, band: str, row: int) -> np.ndarray | None:
    table = library.bp_correlations if band == "bp" else library.rp_correlations
    if row not in table:
        return None
    key = (id(library), band, row)
    if key not in _CHOLESKY_CACHE:
        matrix = correlation_matrix(table[row].astype(float))
        values, vectors = np.linalg.eigh(matrix)  # robust to float32 round-off
        matrix = (vectors * np.clip(values, 1e-10, None)) @ vectors.T
        _CHOLESKY_CACHE[key] = np.linalg.cholesky(matrix)
    return _CHOLESKY_CACHE[key]


def _array(value: object, length: int) -> np.ndarray:
    """An archive array cell as float64; empty / masked cells become NaN."""
    data: np.ndarray = np.ma.filled(np.ma.asarray(value, dtype=float), np.nan).ravel()
    return data if data.size == length else np.full(length, np.nan)


def _full_records() -> list[dict]:
    from astropy.table import Table

    tables = [Table.read(path) for path in FULL_RECORDS]
    with zipfile.ZipFile(ARCHIVE_ZIP) as archive:
        for name in archive.namelist():
            if name.startswith("XP_CONTINUOUS"):
                tables.append(Table.read(io.BytesIO(archive.read(name)), format="fits"))
    records = [{name: row[name] for name in table.colnames} for table in tables for row in table]
    records += _missing_bp_records()
    unique: dict[int, dict] = {}
    for record in records:
        unique.setdefault(int(record["source_id"]), record)
    return list(unique.values())


def _missing_bp_records() -> list[dict]:
    """The archive CSV rows whose BP band is empty (arrays written as '(v, v, ...)')."""
    import pandas as pd

    frame = pd.read_csv(MISSING_BP_CSV)
    frame = frame[frame["bp_coefficients"].isna()]
    arrays = [name for name in frame.columns if name.endswith(("coefficients", "errors", "ions"))]
    parse = lambda text: (  # noqa: E731
        np.array([float(v) for v in text.strip("()[]").split(",")])
        if isinstance(text, str)
        else np.array([])
    )
    return [
        {name: parse(value) if name in arrays else value for name, value in row.items()}
        for row in frame.to_dict("records")
    ]


def _relevant(value: object) -> int:
    number = float(np.ma.filled(np.ma.asarray(value, dtype=float), 0))
    return int(number) if np.isfinite(number) else 0


@lru_cache(maxsize=1)
def load_parents() -> ParentLibrary:
    """The parent library (read once per process; ~0.5 s)."""
    from astropy.table import Table

    chunk = Table.read(CHUNK0)
    stack = lambda prefix: np.stack(  # noqa: E731
        [np.asarray(chunk[f"{prefix}{i}"], dtype=float) for i in range(N)], axis=1
    )
    source_id = [np.asarray(chunk["source_id"], dtype=np.int64)]
    bp, rp = [stack("bp_coeff_")], [stack("rp_coeff_")]
    bp_err, rp_err = [stack("e_bp_coeff_")], [stack("e_rp_coeff_")]
    bp_rel = [np.ma.filled(chunk["bp_n_relevant_bases"], 0).astype(np.int16)]
    rp_rel = [np.ma.filled(chunk["rp_n_relevant_bases"], 0).astype(np.int16)]
    bp_corr: dict[int, np.ndarray] = {}
    rp_corr: dict[int, np.ndarray] = {}
    row = len(chunk)
    for record in _full_records():
        source_id.append(np.array([int(record["source_id"])]))
        for band, coeffs, errors, relevant, corr in (
            ("bp", bp, bp_err, bp_rel, bp_corr),
            ("rp", rp, rp_err, rp_rel, rp_corr),
        ):
            coeffs.append(_array(record[f"{band}_coefficients"], N)[None, :])
            errors.append(_array(record[f"{band}_coefficient_errors"], N)[None, :])
            relevant.append(np.array([_relevant(record[f"{band}_n_relevant_bases"])], np.int16))
            correlations = _array(record[f"{band}_coefficient_correlations"], N_CORRELATIONS)
            if np.isfinite(correlations).all():
                corr[row] = correlations.astype(np.float32)
        row += 1
    bp_all, rp_all = np.concatenate(bp), np.concatenate(rp)
    bp_flux = band_model("bp").integrated_rate(bp_all)
    rp_flux = band_model("rp").integrated_rate(rp_all)
    return ParentLibrary(
        source_id=np.concatenate(source_id),
        bp=bp_all,
        rp=rp_all,
        bp_err=np.concatenate(bp_err),
        rp_err=np.concatenate(rp_err),
        bp_n_relevant_bases=np.concatenate(bp_rel),
        rp_n_relevant_bases=np.concatenate(rp_rel),
        bp_correlations=bp_corr,
        rp_correlations=rp_corr,
        g_flux=g_flux_of(bp_flux, rp_flux),
        bp_rp=magnitude(bp_flux, "bp") - magnitude(rp_flux, "rp"),
    )


def error_scale(flux_ratio: np.ndarray, parent_g_flux: np.ndarray, band: str) -> np.ndarray:
    """Factor on a parent's ``band`` coefficient errors when its flux is scaled by flux_ratio.

    Variance = calibration floor (∝ F²) + photon noise (∝ F) + background (constant), as real
    XP errors grow (``ERROR_MODEL_G_MAG``): a bright parent's errors are mostly floor, which
    shrinks with the flux it is scaled by, a faint one's photon and background noise.
    """
    floor_mag, background_mag = ERROR_MODEL_G_MAG[band]
    floor = 10 ** (-0.4 * (floor_mag - ZERO_POINT["g"]))
    background = 10 ** (-0.4 * (background_mag - ZERO_POINT["g"]))

    def variance(flux: np.ndarray) -> np.ndarray:
        return flux * flux / floor + flux + background

    return np.sqrt(variance(flux_ratio * parent_g_flux) / variance(parent_g_flux))


@lru_cache(maxsize=1)
def line_stars() -> np.ndarray:
    """Real stars shipped for their spectral lines, not as continua: every example of Weiler et
    al. (2023) and the source GaiaXPy's line finder marks with H-alpha. They stay in the library
    (their full records carry correlations) but are never copied: a "line-free" copy of one
    carries its line (426306363477869696 measures an excess EW of 131 A), so it would be an
    emitter labelled line-free in the truth, and in a held-out fold its ~500 copies set the
    FPR 1e-3 threshold of the whole fold."""
    from astropy.io.votable import parse_single_table

    table = parse_single_table(str(WEILER_EXAMPLES), columns=["source_id"]).to_table()
    ids = {GAIAXPY_LINE_STAR, *(int(i) for i in table["source_id"])}
    return np.array(sorted(ids), np.int64)
