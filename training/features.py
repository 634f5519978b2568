"""Model inputs built from one batch: normalised coefficients, side features, the XP H-alpha EW.

Every model sees the same rows and the same normaliser; the physics feature is the XP-native
H-alpha EW (emission positive) and its signal-to-noise, from ``training.xp_halpha``.
"""

from __future__ import annotations

import numpy as np

from training.data import Batch
from training.normalise import Normaliser

FEATURE_SETS = ("coeffs", "coeffs+ew", "ew")


def xp_ew(batch: Batch) -> np.ndarray:
    """(n, 2) float32: XP H-alpha EW in Angstrom and EW / error; NaN without both bands."""
    from training.xp_halpha import halpha_ew

    ew, err = halpha_ew(batch["bp"], batch["rp"], batch["bp_err"], batch["rp_err"])
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(err > 0, ew / err, np.nan)
    return np.stack([ew, snr], axis=1).astype(np.float32)


def tabular(batch: Batch, normaliser: Normaliser, feature_set: str) -> np.ndarray:
    """The feature matrix of the tabular models (NaN kept: the trees route it themselves)."""
    parts = []
    if feature_set.startswith("coeffs"):
        x, _, side = normaliser.transform(batch)
        parts += [x, side]
    if feature_set.endswith("ew"):
        parts.append(xp_ew(batch))
    return np.concatenate(parts, axis=1)


def feature_names(feature_set: str) -> list[str]:
    names: list[str] = []
    if feature_set.startswith("coeffs"):
        names += [f"bp_{i}" for i in range(55)] + [f"rp_{i}" for i in range(55)]
        names += ["g_mag", "bp_rp"]
    if feature_set.endswith("ew"):
        names += ["xp_ew_halpha", "xp_ew_halpha_snr"]
    return names


def head_side(batch: Batch, side: np.ndarray, with_ew: bool) -> np.ndarray:
    """Side inputs of the DAE head: the normaliser's ``side`` (G mag, BP-RP), optionally with the
    XP EW and its S/N squashed by asinh (EWs span 0.1-1000 A; raw they would dominate)."""
    if not with_ew:
        return side
    ew = xp_ew(batch)
    squashed = np.nan_to_num(np.arcsinh(ew / np.array([10.0, 5.0], np.float32)))
    return np.concatenate([side, squashed.astype(np.float32)], axis=1)
