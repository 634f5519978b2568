"""Model inputs built from one batch: normalised coefficients, side features, XP line features.

A feature set is a '+'-joined list of blocks, the same names everywhere (configs, reports):

- ``coeffs``: the 110 normalised coefficients plus G mag and BP-RP;
- ``ew``: the sideband H-alpha EW on the calibrated XP spectrum and its S/N (``ingest.xp_physics.halpha_ew``);
- ``excess``: the H-alpha excess over a learned continuum, as an EW and an S/N (``line_excess``).
"""

from __future__ import annotations

import numpy as np

from sql.errors import XphaError
from training.data import FeedBatch
from training.line_excess import FEATURES as EXCESS_FEATURES
from training.line_excess import LineExcess
from training.normalise import Normaliser

BLOCKS = ("coeffs", "ew", "excess")
EW_FEATURES = ("xp_ew_halpha", "xp_ew_halpha_snr")


def blocks(feature_set: str) -> list[str]:
    names = feature_set.split("+")
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        raise XphaError(f"unknown feature block(s) {unknown} in {feature_set!r}; known: {BLOCKS}")
    return names


def xp_ew(batch: FeedBatch) -> np.ndarray:
    """(n, 2) float32: XP H-alpha EW in Angstrom and EW / error; NaN without both bands."""
    from ingest.xp_physics.halpha_ew import halpha_ew

    ew, err = halpha_ew(batch["bp"], batch["rp"], batch["bp_err"], batch["rp_err"])
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(err > 0, ew / err, np.nan)
    return np.stack([ew, snr], axis=1).astype(np.float32)


def _excess(batch: FeedBatch, excess: LineExcess | None) -> np.ndarray:
    if excess is None:
        raise XphaError("the 'excess' features need the fitted H-alpha continuum regressor")
    return excess.measure(batch)


def tabular(
    batch: FeedBatch, normaliser: Normaliser, feature_set: str, excess: LineExcess | None = None
) -> np.ndarray:
    """The feature matrix of the tabular models (NaN kept: the trees route it themselves)."""
    parts = []
    for block in blocks(feature_set):
        if block == "coeffs":
            x, _, side = normaliser.transform(batch)
            parts += [x, side]
        elif block == "ew":
            parts.append(xp_ew(batch))
        else:
            parts.append(_excess(batch, excess))
    return np.concatenate(parts, axis=1)


def feature_names(feature_set: str) -> list[str]:
    names: list[str] = []
    for block in blocks(feature_set):
        if block == "coeffs":
            names += [f"bp_{i}" for i in range(55)] + [f"rp_{i}" for i in range(55)]
            names += ["g_mag", "bp_rp"]
        else:
            names += list(EW_FEATURES if block == "ew" else EXCESS_FEATURES)
    return names


def head_side(
    batch: FeedBatch, side: np.ndarray, with_ew: bool, excess: LineExcess | None = None
) -> np.ndarray:
    """Side inputs of the DAE head: the normaliser's ``side`` (G mag, BP-RP), optionally with the
    XP line features (EW and S/N; with ``excess`` also the learned-continuum excess EW and S/N),
    squashed by asinh (EWs span 0.1-1000 A; raw they would dominate)."""
    if not with_ew:
        return side
    line = (
        xp_ew(batch) if excess is None else np.concatenate([xp_ew(batch), excess.measure(batch)], 1)
    )
    scale = np.array([10.0, 5.0] * (line.shape[1] // 2), np.float32)
    squashed = np.nan_to_num(np.arcsinh(line / scale))
    return np.concatenate([side, squashed.astype(np.float32)], axis=1)
