"""The DR3 calibrated XP spectrum as one linear map of the coefficients.

gaiaxpy's default sampling (336-1020 nm, 2 nm) is flux = c_bp · D_bp w_bp + c_rp · D_rp w_rp in
W m⁻² nm⁻¹, with w the BP/RP merge weights. Holding the two weighted design matrices lets the
simulator and the H-alpha estimator calibrate millions of sources with matrix products instead
of per-source calls. The matrices ship in data/xp_sampling_v375wiv142r.npz (extracted from
gaiaxpy 2.1.5's XpFilter_v375wiv142r.xml).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ingest.samples import package_data


@dataclass(frozen=True)
class MergedSampling:
    """Weighted design matrices of the merged calibrated spectrum, each (55, 343)."""

    wavelength_nm: np.ndarray  # (343,)
    bp: np.ndarray
    rp: np.ndarray
    bp_unweighted: np.ndarray
    rp_unweighted: np.ndarray

    def flux(self, bp_coefficients: np.ndarray, rp_coefficients: np.ndarray) -> np.ndarray:
        """Merged calibrated flux (W m⁻² nm⁻¹), (n, 343); a missing (NaN) band gives NaN."""
        return bp_coefficients @ self.bp + rp_coefficients @ self.rp

    def band_flux(self, band: str, coefficients: np.ndarray) -> np.ndarray:
        """One band's own calibrated flux over the whole grid (valid only inside its range)."""
        design = self.bp_unweighted if band == "bp" else self.rp_unweighted
        return coefficients @ design


SAMPLING_FILE = package_data("ingest.xp_physics", "xp_sampling_v375wiv142r.npz")


@lru_cache(maxsize=1)
def merged_sampling() -> MergedSampling:
    """gaiaxpy's default XpSampling and XpMerge, from the shipped copy (no gaiaxpy import,
    which costs seconds; tests/test_simulator_lsf.py checks the copy against gaiaxpy)."""
    with np.load(SAMPLING_FILE) as stored:
        bp, rp = stored["bp"], stored["rp"]
        return MergedSampling(
            wavelength_nm=stored["wavelength_nm"],
            bp=bp * stored["merge_bp"][None, :],
            rp=rp * stored["merge_rp"][None, :],
            bp_unweighted=bp,
            rp_unweighted=rp,
        )


def gaiaxpy_sampling() -> MergedSampling:
    """The same matrices read through gaiaxpy's public loaders (to verify the shipped copy)."""
    from gaiaxpy.core.config import load_xpmerge_from_xml, load_xpsampling_from_xml

    design = load_xpsampling_from_xml(bp_model="v375wi")
    wavelength, weights = load_xpmerge_from_xml(bp_model="v375wi")
    bp = np.asarray(design["bp"], dtype=float)
    rp = np.asarray(design["rp"], dtype=float)
    return MergedSampling(
        wavelength_nm=np.asarray(wavelength, dtype=float),
        bp=bp * np.asarray(weights["bp"])[None, :],
        rp=rp * np.asarray(weights["rp"])[None, :],
        bp_unweighted=bp,
        rp_unweighted=rp,
    )
