"""A spectral line's footprint in Gaia DR3 XP coefficients, through the instrument's LSF.

The Weiler et al. (2023) line-spread function, developed in Hermite functions of both the
observed and the line position, turns a line of energy flux F at wavelength λ into a
coefficient increment Δc = E · T ĝ(u(λ)), E = F A R(λ) λ / hc photo-electrons per second.
This is a forward model: no inversion, so the orders the optics cannot excite stay at ~0
(a least-squares projection would fill them with artefacts; see docs/xp-line-injection.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from ingest.samples import package_data, real_sample

LSF_CONFIGURATION = real_sample("xp_spectral_lines/ConfigurationData")

H_ALPHA_NM = 656.461  # vacuum
PUPIL_AREA_M2 = 0.7278
PLANCK_J_S = 6.62607004e-34
LIGHT_M_S = 2.99792458e8
HC_J_NM = 1e9 * PLANCK_J_S * LIGHT_M_S
N_COEFFICIENTS = 55
N_LINE_ORDERS = 100

# DR3 maps the pseudo-wavelength range [0, 59] linearly onto these Hermite-axis ranges
# (gaiaxpy's OptimisedCalibratedBases normalizedRange); x = (u - b) / a.
NORMALISED_RANGE = {"bp": (-9.800, 9.467), "rp": (-9.933, 9.600)}
HERMITE_AXIS = {
    band: (59.0 / (hi - lo), -lo * 59.0 / (hi - lo)) for band, (lo, hi) in NORMALISED_RANGE.items()
}
CALIBRATION_FILES = {"bp": "bpC03_v375wi", "rp": "rpC03_v142r"}


def hermite_functions(x: np.ndarray, n_orders: int) -> np.ndarray:
    """Orthonormal Hermite functions φ_0..φ_{n-1} at x, shape (n_orders, *x.shape).

    The three-term recursion stays stable at n ~ 100 where the explicit polynomials overflow.
    """
    x = np.asarray(x, dtype=float)
    phi = np.empty((n_orders, *x.shape))
    phi[0] = np.pi**-0.25 * np.exp(-0.5 * x**2)
    if n_orders > 1:
        phi[1] = np.sqrt(2.0) * x * phi[0]
    for n in range(2, n_orders):
        phi[n] = np.sqrt(2.0 / n) * x * phi[n - 1] - np.sqrt((n - 1) / n) * phi[n - 2]
    return phi


def _spline(path: Path) -> CubicSpline:
    wavelength, value = np.loadtxt(path, delimiter=",")
    return CubicSpline(wavelength, value)


@dataclass(frozen=True)
class BandModel:
    """One photometer's instrument model: LSF, basis transformation, dispersion, response."""

    band: str
    lsf: np.ndarray  # (55, 100): L[n, m], order n in observed u, order m in line position
    transformation: np.ndarray  # (55, 55): DR3 coefficients c = T h (Hermite h)
    hermite_integrals: np.ndarray  # (55,): ∫ φ_n(x) dx
    scale: float  # a in x = (u - b) / a
    offset: float  # b
    dispersion: CubicSpline  # wavelength nm -> pseudo-wavelength u
    response: CubicSpline  # wavelength nm -> dimensionless response R

    def pseudo_wavelength(self, wavelength_nm: np.ndarray | float) -> np.ndarray:
        """u(λ) from the C03 dispersion model (the calibration's own)."""
        return self.dispersion(wavelength_nm)

    def lsf_hermite(self, wavelength_nm: np.ndarray | float, u_shift: float = 0.0) -> np.ndarray:
        """Unit-area LSF at each wavelength in pure-Hermite coefficients, shape (n, 55).

        Normalised per wavelength: the tabulated L has an area of ~a² in u, not 1.
        """
        u = np.atleast_1d(self.pseudo_wavelength(wavelength_nm)) + u_shift
        x = (u - self.offset) / self.scale
        g = (self.lsf @ hermite_functions(x, N_LINE_ORDERS)).T  # (n, 55)
        area = self.scale * (g @ self.hermite_integrals)
        return g / area[:, None]

    def unit_template(self, wavelength_nm: np.ndarray | float, u_shift: float = 0.0) -> np.ndarray:
        """Δc per photo-electron per second of a delta line, DR3 basis, shape (n, 55)."""
        return self.lsf_hermite(wavelength_nm, u_shift) @ self.transformation.T

    def photon_rate(self, flux_w_m2: np.ndarray | float, wavelength_nm: np.ndarray | float):
        """E = F A R(λ) λ / hc: photo-electrons per second from a line of flux F (W m⁻²)."""
        wavelength_nm = np.asarray(wavelength_nm, dtype=float)
        return (
            np.asarray(flux_w_m2)
            * PUPIL_AREA_M2
            * self.response(wavelength_nm)
            * wavelength_nm
            / HC_J_NM
        )

    def flux_template(self, wavelength_nm: np.ndarray | float, u_shift: float = 0.0) -> np.ndarray:
        """Δc per W m⁻² of line flux at each wavelength, shape (n, 55)."""
        rate = self.photon_rate(1.0, np.atleast_1d(wavelength_nm))
        return rate[:, None] * self.unit_template(wavelength_nm, u_shift)

    def internal_spectrum(self, coefficients: np.ndarray, u: np.ndarray) -> np.ndarray:
        """f(u) = Σ h_k φ_k(x(u)) with h = Tᵀ c: e⁻/s per sample (no √a factor, as in DR3)."""
        hermite = np.asarray(coefficients) @ self.transformation
        return hermite @ hermite_functions((u - self.offset) / self.scale, N_COEFFICIENTS)

    def integrated_rate(self, coefficients: np.ndarray) -> np.ndarray:
        """∫ f(u) du in e⁻/s, exactly, from the Hermite integrals: a Σ h_k I_k."""
        return np.asarray(coefficients) @ self.rate_weights

    @property
    def rate_weights(self) -> np.ndarray:
        """∫ f du = c · (a T I): one dot product per source."""
        return self.scale * (self.transformation @ self.hermite_integrals)


def _csv_matrix(name: str) -> np.ndarray:
    return np.loadtxt(LSF_CONFIGURATION / name, delimiter=",")


@lru_cache(maxsize=2)
def band_model(band: str) -> BandModel:
    """The instrument model of 'bp' or 'rp', loaded once from the shipped configuration."""
    upper = band.upper()
    scale, offset = HERMITE_AXIS[band]
    prefix = CALIBRATION_FILES[band]
    return BandModel(
        band=band,
        lsf=_csv_matrix(f"LSFModel_{upper}.csv"),
        transformation=_csv_matrix(f"BasisTransformationMatrix_{upper}.csv"),
        hermite_integrals=np.loadtxt(LSF_CONFIGURATION / "HermiteIntegrals.csv")[:N_COEFFICIENTS],
        scale=scale,
        offset=offset,
        dispersion=_spline(package_data("ingest.xp_physics", f"{prefix}_dispersion.csv")),
        response=_spline(package_data("ingest.xp_physics", f"{prefix}_response.csv")),
    )


@dataclass(frozen=True)
class LineInjector:
    """Adds Gaussian lines of given flux and width to both bands, vectorised over sources.

    Templates are precomputed on a fine wavelength grid around the line; a source's profile
    becomes weights over that grid, so a chunk of n sources costs two (n, k) @ (k, 55) products.
    """

    center_nm: float = H_ALPHA_NM
    half_width_nm: float = 6.0
    step_nm: float = 0.1
    u_shift: float = 0.0

    @property
    def grid(self) -> np.ndarray:
        return _grid(self.center_nm, self.half_width_nm, self.step_nm)

    @property
    def templates(self) -> dict[str, np.ndarray]:
        return _templates(self.center_nm, self.half_width_nm, self.step_nm, self.u_shift)

    def profile_weights(self, sigma_nm: np.ndarray) -> np.ndarray:
        """Normalised Gaussian weights over the grid, (n, k); σ = 0 is a delta line."""
        sigma = np.maximum(np.asarray(sigma_nm, dtype=float), 1e-6)[:, None]
        z = (self.grid[None, :] - self.center_nm) / sigma
        weights = np.exp(-0.5 * z * z)
        return weights / weights.sum(axis=1, keepdims=True)

    def increments(self, line_flux_w_m2: np.ndarray, sigma_nm: np.ndarray) -> dict[str, np.ndarray]:
        """Δc for BP and RP, each (n, 55), for lines of flux F (emission > 0) and width σ."""
        weights = self.profile_weights(sigma_nm) * np.asarray(line_flux_w_m2, dtype=float)[:, None]
        return {band: weights @ template for band, template in self.templates.items()}

    def photon_rates(self, line_flux_w_m2: np.ndarray) -> dict[str, np.ndarray]:
        """Photo-electron rate of each line in each band (at the line centre), e⁻/s."""
        return {
            band: band_model(band).photon_rate(line_flux_w_m2, self.center_nm)
            for band in ("bp", "rp")
        }


def _grid(center: float, half_width: float, step: float) -> np.ndarray:
    n = round(half_width / step)
    return center + step * np.arange(-n, n + 1)


@lru_cache(maxsize=8)
def _templates(center: float, half_width: float, step: float, u_shift: float):
    grid = _grid(center, half_width, step)
    return {band: band_model(band).flux_template(grid, u_shift) for band in ("bp", "rp")}
