"""An XP-native H-alpha equivalent width, measured on the calibrated XP spectrum.

The merged calibrated spectrum is linear in the coefficients, and so are a linear continuum
fitted to sidebands and the line-window flux. The EW and its first-order error therefore cost
a handful of matrix products per chunk, for any number of sources: the physics baseline the
trained models must beat.

Definition (docs/xp-line-injection.md §5): continuum = straight line fitted to 590-625 and
700-740 nm; EW = ∫ (F - C) / C dλ over 625-700 nm, in Angstrom, emission POSITIVE. The
instrument's line image rings, so the measured EW is ~1.2 × the true EW (see EW_GAIN); the
sidebands stay > 30 nm from the line. The blue sideband and BP's ringing need BP: a source
without BP (or RP) gets NaN. RP alone has no usable blue sideband (its calibrated basis is not
valid blue of ~618 nm, and that is inside the line's own wings).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ingest.xp_physics.calibration import merged_sampling

H_ALPHA_NM = 656.461
BLUE_SIDEBAND_NM = (590.0, 625.0)
RED_SIDEBAND_NM = (700.0, 740.0)
LINE_WINDOW_NM = (625.0, 700.0)
EW_GAIN = 1.2  # measured / injected EW through the LSF (tests/test_xp_halpha.py checks it)
NM_TO_ANGSTROM = 10.0


@dataclass(frozen=True)
class _Estimator:
    """Linear maps from (bp, rp) coefficients to window flux and window continuum."""

    step_nm: float
    window_bp: np.ndarray  # (55, k): window flux = bp @ window_bp + rp @ window_rp
    window_rp: np.ndarray
    continuum_bp: np.ndarray  # (55, k): continuum at the window pixels
    continuum_rp: np.ndarray
    at_line_bp: np.ndarray  # (55,): continuum at H-alpha
    at_line_rp: np.ndarray


def _between(wavelength: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    return (wavelength >= limits[0]) & (wavelength <= limits[1])


@lru_cache(maxsize=1)
def _estimator() -> _Estimator:
    sampling = merged_sampling()
    wavelength = sampling.wavelength_nm
    side = _between(wavelength, BLUE_SIDEBAND_NM) | _between(wavelength, RED_SIDEBAND_NM)
    window = (wavelength > LINE_WINDOW_NM[0]) & (wavelength < LINE_WINDOW_NM[1])
    # The least-squares straight line through the sideband pixels is a fixed linear map.
    design = np.stack([np.ones(side.sum()), wavelength[side] - H_ALPHA_NM], axis=1)
    fit = np.linalg.pinv(design)  # (2, n_side)
    at_window = np.stack([np.ones(window.sum()), wavelength[window] - H_ALPHA_NM], axis=1) @ fit
    return _Estimator(
        step_nm=float(np.median(np.diff(wavelength))),
        window_bp=sampling.bp[:, window],
        window_rp=sampling.rp[:, window],
        continuum_bp=sampling.bp[:, side] @ at_window.T,
        continuum_rp=sampling.rp[:, side] @ at_window.T,
        at_line_bp=sampling.bp[:, side] @ fit[0],
        at_line_rp=sampling.rp[:, side] @ fit[0],
    )


def _as_2d(array: np.ndarray | None) -> np.ndarray:
    return np.atleast_2d(np.asarray(array, dtype=float))


def continuum_at_halpha(bp_coefficients: np.ndarray, rp_coefficients: np.ndarray) -> np.ndarray:
    """The sideband continuum's flux density at H-alpha, W m⁻² nm⁻¹, shape (n,); NaN if a band
    is missing."""
    estimator = _estimator()
    return (
        _as_2d(bp_coefficients) @ estimator.at_line_bp
        + _as_2d(rp_coefficients) @ estimator.at_line_rp
    )


def halpha_ew(
    bp_coefficients: np.ndarray,
    rp_coefficients: np.ndarray,
    bp_errors: np.ndarray | None = None,
    rp_errors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """H-alpha EW (Angstrom, emission positive) and its 1σ error for (n, 55) coefficient arrays.

    A source with a missing (NaN) band or a non-positive continuum gets NaN. Errors propagate
    the quoted coefficient errors to first order (correlations ignored); without errors the
    error is NaN.
    """
    bp, rp = _as_2d(bp_coefficients), _as_2d(rp_coefficients)
    estimator = _estimator()
    flux = bp @ estimator.window_bp + rp @ estimator.window_rp
    continuum = bp @ estimator.continuum_bp + rp @ estimator.continuum_rp
    valid = np.isfinite(flux).all(axis=1) & (continuum > 0).all(axis=1)
    continuum = np.where(valid[:, None], continuum, 1.0)
    flux = np.where(valid[:, None], flux, 1.0)
    step = estimator.step_nm * NM_TO_ANGSTROM
    ew = np.where(valid, step * ((flux - continuum) / continuum).sum(axis=1), np.nan)
    if bp_errors is None or rp_errors is None:
        return ew, np.full_like(ew, np.nan)
    # d EW / d c = step Σ_j (D_j / C_j - F_j Dc_j / C_j²), per band
    inverse = step / continuum
    weighted = step * flux / continuum**2
    grad_bp = inverse @ estimator.window_bp.T - weighted @ estimator.continuum_bp.T
    grad_rp = inverse @ estimator.window_rp.T - weighted @ estimator.continuum_rp.T
    variance = ((grad_bp * _as_2d(bp_errors)) ** 2).sum(axis=1)
    variance += ((grad_rp * _as_2d(rp_errors)) ** 2).sum(axis=1)
    return ew, np.where(valid, np.sqrt(variance), np.nan)
