"""The XP-native H-alpha EW: linear in the injected EW with the documented gain, NaN-safe."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.simulator.continua import load_parents
from ingest.xp_physics.halpha_ew import EW_GAIN, continuum_at_halpha, halpha_ew
from ingest.xp_physics.lsf import LineInjector


@pytest.fixture(scope="module")
def stars():
    library = load_parents()
    rows = np.arange(200)
    return library.bp[rows], library.rp[rows], library.bp_err[rows], library.rp_err[rows]


@pytest.mark.parametrize(("ew", "sigma_nm"), [(2.0, 0.0), (10.0, 0.7), (50.0, 0.3), (-5.0, 1.0)])
def test_sideband_ew_is_linear_with_the_documented_gain(stars, ew, sigma_nm):
    bp, rp, _, _ = stars
    baseline, _ = halpha_ew(bp, rp)
    flux = ew / 10.0 * continuum_at_halpha(bp, rp)
    delta = LineInjector().increments(flux, np.full(len(flux), sigma_nm))
    measured, _ = halpha_ew(bp + delta["bp"], rp + delta["rp"])
    gain = (measured - baseline) / ew
    assert np.median(gain) == pytest.approx(EW_GAIN, abs=0.02)
    assert np.percentile(gain, 84) - np.percentile(gain, 16) < 0.02


def test_errors_follow_the_coefficient_errors(stars):
    bp, rp, bp_err, rp_err = stars
    _, err = halpha_ew(bp, rp, bp_err, rp_err)
    _, doubled = halpha_ew(bp, rp, 2 * bp_err, 2 * rp_err)
    assert np.all(err > 0)
    assert np.allclose(doubled, 2 * err)


def test_monte_carlo_scatter_matches_the_quoted_error(stars):
    bp, rp, bp_err, rp_err = (a[:1] for a in stars)
    rng = np.random.default_rng(1)
    draws = 4000
    ew, _ = halpha_ew(
        bp + rng.standard_normal((draws, 55)) * bp_err,
        rp + rng.standard_normal((draws, 55)) * rp_err,
    )
    _, quoted = halpha_ew(bp, rp, bp_err, rp_err)
    assert np.std(ew) == pytest.approx(quoted[0], rel=0.1)


def test_missing_bands_give_nan_not_errors(stars):
    bp, rp, bp_err, rp_err = (a[:3].copy() for a in stars)
    bp[1] = np.nan
    rp[2] = np.nan
    ew, err = halpha_ew(bp, rp, bp_err, rp_err)
    assert np.isfinite(ew[0]) and np.isfinite(err[0])
    assert np.isnan(ew[1:]).all() and np.isnan(err[1:]).all()
    ew_no_errors, err_none = halpha_ew(bp[:1], rp[:1])
    assert np.isfinite(ew_no_errors).all() and np.isnan(err_none).all()
