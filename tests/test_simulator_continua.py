"""Real parents, flux scaling and perturbation: the statistics a simulated copy must have."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import least_squares

from ingest.simulator.continua import (
    ERROR_MODEL_G_MAG,
    ZERO_POINT,
    correlation_matrix,
    error_scale,
    g_flux_from_bp_rp,
    g_flux_of,
    load_parents,
    magnitude,
)
from ingest.simulator.generator import SimulationConfig, choose_parents, perturbed_copies, target_g
from ingest.xp_physics.lsf import band_model


@pytest.fixture(scope="module")
def library():
    return load_parents()


def test_library_holds_the_real_parents(library):
    assert len(library) == 2008  # 2000 chunk0 + 8 full archive records
    assert len(library.bp_correlations) == 7 and len(library.rp_correlations) == 8
    assert np.isnan(library.bp).all(axis=1).sum() == 1  # 5405570973190252288 has no BP
    assert library.source_id[np.isnan(library.bp).all(axis=1)][0] == 5405570973190252288


def test_g_from_xp_fluxes_matches_a_real_star(real_data):
    """18 Sco: G from the integrated XP fluxes and the Riello+2021 excess vs its DR3 G."""
    frame = pd.read_csv(real_data / "gaiaxpy_tests" / "18Sco-XP-spectra.csv")
    parse = lambda text: np.array([float(v) for v in text.strip("()[]").split(",")])  # noqa: E731
    bp_flux = band_model("bp").integrated_rate(parse(frame["bp_coefficients"][0]))
    rp_flux = band_model("rp").integrated_rate(parse(frame["rp_coefficients"][0]))
    g = magnitude(g_flux_from_bp_rp(bp_flux, rp_flux), "g")
    assert g == pytest.approx(frame["phot_g_mean_mag"][0], abs=0.03)


# BP fluxes that are no measurement: missing, zero, and the integrated BP of a faint
# copy that noise took below zero (held-out fold 3's sky, RP 1,850 e-/s: it had no G)
NO_BP_FLUX = [np.nan, 0.0, -6.06]


@pytest.mark.parametrize("bp_flux", NO_BP_FLUX)
def test_g_without_a_positive_bp_flux_comes_from_rp(bp_flux: float) -> None:
    rp_flux = np.array([1850.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: the cases are expected
        g_flux = g_flux_of(np.array([bp_flux]), rp_flux)
        colour = magnitude(np.array([bp_flux]), "bp") - magnitude(rp_flux, "rp")
    red_bp = rp_flux * 10 ** (-0.4 * (2.5 - ZERO_POINT["bp"] + ZERO_POINT["rp"]))
    assert g_flux == pytest.approx(g_flux_from_bp_rp(red_bp, rp_flux))
    assert 17 < magnitude(g_flux, "g")[0] < 18
    assert np.isnan(colour).all()


@pytest.mark.parametrize("bp_flux", [np.nan, 400.0])
@pytest.mark.parametrize("rp_flux", [0.0, -5.0])
def test_without_a_positive_rp_flux_there_is_no_g(bp_flux: float, rp_flux: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g_flux = g_flux_of(np.array([bp_flux]), np.array([rp_flux]))
        assert not np.isfinite(magnitude(g_flux, "g")).any()


def test_magnitudes_of_fluxes_that_are_not_positive_are_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mags = magnitude(np.array([1.0, 0.0, -1.0, np.nan, np.inf]), "g")
    assert mags[0] == ZERO_POINT["g"]
    assert np.isnan(mags[1:4]).all() and mags[4] == -np.inf


def test_correlation_matrix_layout_is_gaiaxpys(library):
    from gaiaxpy.core.generic_functions import array_to_symmetric_matrix

    values = np.arange(1485, dtype=float) / 1e4
    matrix = correlation_matrix(values)
    assert np.array_equal(matrix, array_to_symmetric_matrix(values, 55))
    assert matrix[1, 0] == values[0] and matrix[2, 0] == values[1] and matrix[2, 1] == values[2]
    for row, upper in library.rp_correlations.items():  # real matrices are positive definite
        assert np.linalg.eigvalsh(correlation_matrix(upper.astype(float))).min() > 0, row


@pytest.mark.parametrize("fainter_by", [0.0, 1.0, 3.0])
def test_copies_scatter_as_their_quoted_errors_say(library, fainter_by):
    """Residual (copy - scaled parent) / quoted error has std sqrt(max(1 - s²/k², 1/4))."""
    parent = np.full(4000, 100)
    g_new = np.full(4000, library.g_mag[100] + fainter_by)
    copies, errors, scale = perturbed_copies(library, parent, g_new, np.random.default_rng(0))
    residual = (copies["rp"] - scale[:, None] * library.rp[parent]) / errors["rp"]
    grow = error_scale(scale[:1], library.g_flux[parent[:1]], "rp")[0]
    expected = np.sqrt(max(1 - scale[0] ** 2 / grow**2, 0.25))
    assert np.std(residual, axis=0) == pytest.approx(np.full(55, expected), rel=0.08)


def test_copies_of_a_correlated_parent_carry_its_correlations(library):
    row = 2000
    parent = np.full(20000, row)
    g_new = np.full(20000, library.g_mag[row] + 2.0)
    copies, errors, scale = perturbed_copies(library, parent, g_new, np.random.default_rng(1))
    residual = (copies["bp"] - scale[:, None] * library.bp[parent]) / errors["bp"]
    empirical = np.corrcoef(residual, rowvar=False)
    expected = correlation_matrix(library.bp_correlations[row].astype(float))
    assert np.abs(empirical - expected).max() < 0.06


def test_errors_grow_with_magnitude(library):
    rng = np.random.default_rng(2)
    g_new = target_g(rng, 20000, SimulationConfig(n_sources=1))
    parent = choose_parents(library, g_new, rng)
    _, errors, scale = perturbed_copies(library, parent, g_new, rng)
    relative = np.nanmedian(
        errors["rp"][:, :3] / np.abs(scale[:, None] * library.rp[parent, :3]), 1
    )
    bins = np.digitize(g_new, [12, 14, 16])
    medians = [np.median(relative[bins == k]) for k in range(4)]
    assert np.all(np.diff(medians) > 0)
    assert np.all(library.g_mag[parent] <= g_new + 0.5 + 1e-9)


def _error_level(library, band: str) -> tuple[np.ndarray, np.ndarray]:
    """(G, median quoted error over the 55 coefficients) of the real stars with that band."""
    level = np.median(getattr(library, f"{band}_err"), axis=1)
    keep = np.isfinite(level) & (level > 0) & np.isfinite(library.g_flux)
    return library.g_mag[keep], level[keep]


@pytest.mark.parametrize("band", ["bp", "rp"])
def test_error_model_is_what_real_stars_show(library, band):
    """The noise model's two magnitudes, fitted again to the real stars' quoted errors
    (variance = floor + photon + background, a robust fit in log variance), and the model
    against every G bin of at least 50 stars: within 8% in error (0.15 in log variance)."""
    g, level = _error_level(library, band)
    flux = 10 ** (-0.4 * (g - ZERO_POINT["g"]))

    def log_variance(p: np.ndarray) -> np.ndarray:  # p: log of the floor, photon, background terms
        return np.log(np.exp(p[0]) * flux**2 + np.exp(p[1]) * flux + np.exp(p[2]))

    fit = least_squares(
        lambda p: log_variance(p) - np.log(level**2),
        np.log([1e-9, 1e-4, 0.1]),
        loss="soft_l1",
        f_scale=0.3,
    ).x
    floor_mag = ZERO_POINT["g"] - 2.5 * (fit[1] - fit[0]) / np.log(10)
    background_mag = ZERO_POINT["g"] - 2.5 * (fit[2] - fit[1]) / np.log(10)
    assert (floor_mag, background_mag) == pytest.approx(ERROR_MODEL_G_MAG[band], abs=0.25)

    unit = error_scale(flux / flux[0], np.full(len(g), flux[0]), band) ** 2  # ∝ model variance
    residual = np.log(level**2 / unit)
    residual -= np.median(residual)
    for low in range(8, 19):
        in_bin = (g >= low) & (g < low + 1)
        if in_bin.sum() >= 50:
            assert abs(np.median(residual[in_bin])) < 0.15, (band, low)


@pytest.mark.parametrize("band", ["bp", "rp"])
def test_faint_copies_of_bright_parents_have_the_errors_of_real_faint_stars(library, band):
    """Parents brighter than G 12 made G 16-17: their errors relative to the G flux are those
    of the real stars at G 16-17 (within 20%). Photon + background scaling without the
    calibration floor gave 2-4x."""
    rng = np.random.default_rng(3)
    bright = np.flatnonzero((library.g_mag < 12) & np.isfinite(getattr(library, band)).all(1))
    parent = rng.choice(bright, 4000)
    g_new = rng.uniform(16, 17, len(parent))
    _, errors, scale = perturbed_copies(library, parent, g_new, rng)
    copies = np.median(errors[band] / (scale * library.g_flux[parent])[:, None], axis=1)
    g, level = _error_level(library, band)
    faint = (g >= 16) & (g < 17)
    real = level[faint] / 10 ** (-0.4 * (g[faint] - ZERO_POINT["g"]))
    assert np.median(copies) == pytest.approx(np.median(real), rel=0.2)
