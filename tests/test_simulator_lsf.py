"""The LSF line model reproduces the numbers of docs/xp-line-injection.md (§2-§5)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ingest.simulator.continua import load_parents
from ingest.xp_physics.calibration import merged_sampling
from ingest.xp_physics.halpha_ew import continuum_at_halpha
from ingest.xp_physics.lsf import H_ALPHA_NM, LineInjector, band_model, hermite_functions

LINE_FLUX = 1e-15  # W m^-2


@pytest.mark.parametrize(
    ("band", "u", "response", "raw_area", "rate"),
    [("bp", 13.984, 0.4281, 9.305, 1029.5), ("rp", 15.606, 0.7171, 9.096, 1724.7)],
)
def test_documented_constants(band, u, response, raw_area, rate):
    model = band_model(band)
    assert model.pseudo_wavelength(H_ALPHA_NM) == pytest.approx(u, abs=1e-3)
    assert model.response(H_ALPHA_NM) == pytest.approx(response, abs=1e-4)
    x = (model.pseudo_wavelength(H_ALPHA_NM) - model.offset) / model.scale
    g = model.lsf @ hermite_functions(np.atleast_1d(x), 100)[:, 0]
    assert model.scale * g @ model.hermite_integrals == pytest.approx(raw_area, abs=2e-3)
    assert model.photon_rate(LINE_FLUX, H_ALPHA_NM) == pytest.approx(rate, abs=0.1)


def test_hermite_functions_are_orthonormal():
    x = np.linspace(-20, 20, 40001)
    phi = hermite_functions(x, 100)
    gram = phi @ phi.T * (x[1] - x[0])
    assert np.abs(gram - np.eye(100)).max() < 1e-8


@pytest.mark.parametrize("band", ["bp", "rp"])
def test_integrated_internal_spectrum_is_the_photon_rate(band):
    """§4: the line's internal spectrum integrates to E (within 1%, numerically over u)."""
    model = band_model(band)
    rate = model.photon_rate(LINE_FLUX, H_ALPHA_NM)
    delta_c = rate * model.unit_template(H_ALPHA_NM)[0]
    u = np.linspace(-40.0, 100.0, 28001)
    integral = np.trapezoid(model.internal_spectrum(delta_c, u), u)
    assert integral == pytest.approx(rate, rel=0.01)
    assert model.integrated_rate(delta_c) == pytest.approx(rate, rel=1e-9)


@pytest.mark.parametrize("band", ["bp", "rp"])
def test_hermite_sum_agrees_with_gaiaxpy_convert(band):
    """§4: c = T h and no √a factor - the pure Hermite sum equals gaiaxpy.convert."""
    import pandas as pd
    from gaiaxpy import convert

    model = band_model(band)
    delta_c = model.photon_rate(LINE_FLUX, H_ALPHA_NM) * model.unit_template(H_ALPHA_NM)[0]
    other = "rp" if band == "bp" else "bp"
    frame = pd.DataFrame({
        "source_id": [1],
        f"{band}_coefficients": [delta_c], f"{band}_coefficient_errors": [np.ones(55)],
        f"{band}_coefficient_correlations": [np.zeros(1485)], f"{band}_standard_deviation": [1.0],
        f"{band}_n_parameters": [55], f"{band}_basis_function_id": [56 if band == "bp" else 57],
        f"{other}_coefficients": [model.unit_template(H_ALPHA_NM)[0] * 0 + 1.0],
        f"{other}_coefficient_errors": [np.ones(55)],
        f"{other}_coefficient_correlations": [np.zeros(1485)], f"{other}_standard_deviation": [1.0],
        f"{other}_n_parameters": [55], f"{other}_basis_function_id": [57 if band == "bp" else 56],
    })  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spectra, positions = convert(frame, save_file=False)
    row = spectra[spectra["xp"] == band.upper()].iloc[0]
    ours = model.internal_spectrum(delta_c, np.asarray(positions, dtype=float))
    assert np.abs(ours - row["flux"]).max() <= 1e-12 * np.abs(ours).max()


@pytest.fixture(scope="module")
def stars():
    library = load_parents()
    rows = np.arange(200)
    return library.bp[rows], library.rp[rows], library.bp_err[rows], library.rp_err[rows]


def test_calibrated_image_peaks_at_halpha():
    """§5: the injected line's calibrated (merged, RP-dominated) image peaks within 2 nm."""
    model_flux = LineInjector().increments(np.array([LINE_FLUX]), np.array([0.7]))
    sampling = merged_sampling()
    image = sampling.flux(model_flux["bp"], model_flux["rp"])[0]
    window = (sampling.wavelength_nm > 620) & (sampling.wavelength_nm < 700)
    peak = sampling.wavelength_nm[window][np.argmax(image[window])]
    assert abs(peak - H_ALPHA_NM) <= 2.0


def test_high_orders_hold_under_one_percent_of_the_signal(stars):
    """§5: the line's Fisher information (Δc/σ)² in orders 40-54 is < 1% of the total."""
    bp, rp, bp_err, rp_err = stars
    flux = 0.1 * continuum_at_halpha(bp, rp)  # EW = 1 A
    delta = LineInjector().increments(flux, np.zeros(len(flux)))
    info_bp = (delta["bp"] / bp_err) ** 2
    info_rp = (delta["rp"] / rp_err) ** 2
    total = info_bp.sum(1) + info_rp.sum(1)
    high = (info_bp[:, 40:].sum(1) + info_rp[:, 40:].sum(1)) / total
    assert np.median(high) < 0.01
    bp_share = np.median(info_bp.sum(1) / total)
    assert 0.1 < bp_share < 0.3  # BP carries ~20% of the information
    assert np.median(np.abs(delta["rp"][:, 40:] / rp_err[:, 40:]).max(1)) < 0.05


def test_nearby_positions_change_the_template_smoothly():
    model = band_model("rp")
    base = model.unit_template(H_ALPHA_NM)[0]
    moved = model.unit_template(H_ALPHA_NM + 0.5)[0]
    change = np.linalg.norm(moved - base) / np.linalg.norm(base)
    assert 0.02 < change < 0.08  # docs: 4.9%


def test_shipped_sampling_equals_gaiaxpy():
    from ingest.xp_physics.calibration import gaiaxpy_sampling

    shipped, loaded = merged_sampling(), gaiaxpy_sampling()
    for name in ("wavelength_nm", "bp", "rp", "bp_unweighted", "rp_unweighted"):
        assert np.array_equal(getattr(shipped, name), getattr(loaded, name))


def test_sampling_reproduces_gaiaxpy_calibrate(real_data):
    """The linear map equals gaiaxpy.calibrate's recorded output (its own test truth)."""
    import pandas as pd
    from astropy.table import Table

    table = Table.read(real_data / "gaiaxpy_tests" / "XP_CONTINUOUS_RAW.fits")
    bp = np.stack([np.asarray(v, float) for v in table["bp_coefficients"]])
    rp = np.stack([np.asarray(v, float) for v in table["rp_coefficients"]])
    expected = pd.read_csv(real_data / "gaiaxpy_tests" / "calibrator_solution_default.csv")
    truth = np.array([[float(v) for v in s.strip("()[]").split(",")] for s in expected["flux"]])
    ours = merged_sampling().flux(bp, rp)
    assert np.abs(ours - truth).max() <= 1e-12 * np.abs(truth).max()
