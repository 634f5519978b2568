"""The line's footprint in coefficient space and the line-blind view of a star.

Coefficients are linear in flux, so an H-alpha line of flux F adds F·t to the 110 coefficients
(t: the LSF image of a unit line in BP and RP). Dividing a star by a flux that the line cannot
change (the integrated BP+RP rate with t's direction removed) makes the normalised star u a
spectral shape in which the line is still exactly additive: u = u_continuum + a·t, a = F / f.
Splitting u into its component β along t (in a fixed metric) and the rest u⊥ gives inputs that
no line can touch (u⊥) and one number that a line shifts by exactly a (β).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

N_COEFF = 110
LINE_SIGMA_NM = 0.5  # the image changes by < 2% for sigma <= 1.5 nm (LSF ~ 15 nm wide)
ANGSTROM_PER_NM = 10.0
ZERO_POINT_G = 25.6874  # Gaia G (Riello et al. 2021): the line-blind magnitude's zero point


@lru_cache(maxsize=1)
def line_template(sigma_nm: float = LINE_SIGMA_NM) -> np.ndarray:
    """Coefficient increment (BP then RP, 110) of an H-alpha line of 1 W m^-2."""
    from ingest.xp_physics.lsf import LineInjector

    image = LineInjector().increments(np.array([1.0]), np.array([sigma_nm]))
    return np.concatenate([image["bp"][0], image["rp"][0]])


@lru_cache(maxsize=1)
def line_subspace() -> np.ndarray:
    """(110, 2): narrow and broad H-alpha images. Strong lines of any width lie in their span,
    where one template would leave a few per cent of a broad line's image behind."""
    return np.stack([line_template(0.1), line_template(1.2)], axis=1)


@lru_cache(maxsize=1)
def line_blind_flux_weights() -> np.ndarray:
    """Weights w with w·c = the integrated BP+RP photon rate less its line part: w·t = 0."""
    from ingest.xp_physics.lsf import band_model

    rate = np.concatenate([band_model("bp").rate_weights, band_model("rp").rate_weights])
    t = line_template()
    return rate - (rate @ t) / (t @ t) * t


def coefficients(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 110) coefficients and errors, BP then RP, float64."""
    y = np.concatenate([batch["bp"], batch["rp"]], axis=1).astype(np.float64)
    e = np.concatenate([batch["bp_err"], batch["rp_err"]], axis=1).astype(np.float64)
    return y, e


def normalise(y: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, err, f): coefficients and errors over the line-blind flux f; rows without both bands
    or with f <= 0 are NaN."""
    f = y @ line_blind_flux_weights()
    ok = np.isfinite(f) & (f > 0) & np.isfinite(e).all(axis=1) & (e > 0).all(axis=1)
    f = np.where(ok, f, np.nan)
    return y / f[:, None], e / f[:, None], f


def usable(batch: dict[str, np.ndarray]) -> np.ndarray:
    """Rows the statistic can measure: both bands, positive errors, positive line-blind flux."""
    y, e = coefficients(batch)
    return np.isfinite(normalise(y, e)[2])


def magnitude(f: np.ndarray) -> np.ndarray:
    """A line-blind XP magnitude from f (e-/s), for brightness-dependent settings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -2.5 * np.log10(f) + ZERO_POINT_G


@dataclass(frozen=True)
class Split:
    """β along the template and the line-blind rest, in the metric ``weights`` (diagonal)."""

    weights: np.ndarray  # (110,), fixed when the model is fitted

    @property
    def norm(self) -> float:
        t = line_template()
        return float((t * self.weights * t).sum())

    def beta(self, u: np.ndarray) -> np.ndarray:
        return (u * self.weights * line_template()).sum(axis=1) / self.norm

    def beta_noise(self, e: np.ndarray) -> np.ndarray:
        """1 sigma of β from the quoted (normalised) errors."""
        w = self.weights * line_template()
        return np.sqrt((w**2 * e**2).sum(axis=1)) / self.norm

    def perpendicular(self, u: np.ndarray, beta: np.ndarray | None = None) -> np.ndarray:
        beta = self.beta(u) if beta is None else beta
        return u - beta[:, None] * line_template()


def ew_from_amplitude(amplitude: np.ndarray, f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """EW in Angstrom (emission positive) of a normalised line amplitude a = F / f, with the
    star's sideband continuum at H-alpha (as the simulator sets line fluxes)."""
    from ingest.xp_physics.halpha_ew import continuum_at_halpha

    continuum = continuum_at_halpha(y[:, :55], y[:, 55:])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(continuum > 0, ANGSTROM_PER_NM * amplitude * f / continuum, np.nan)
