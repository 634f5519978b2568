"""Per-star flux normalisation, then per-coefficient standardisation fitted on training data.

XP coefficients scale with the star's brightness; dividing by a flux makes them a spectral
shape (G flux as in every published XP model, or the RP flux so that H-alpha becomes a
line-relative feature). The per-coefficient mean and scale come from the training split only,
and the quoted errors are scaled by exactly the same factors so that error weights stay valid.
The fitted normaliser is saved next to each model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sql.errors import XphaError
from training.data import FeedBatch

MODES = ("g", "rp")
SIDE = ("g_mag", "bp_rp")


def per_star(batch: FeedBatch, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and errors (n, 110) divided by each star's flux; NaN where unusable."""
    if mode not in MODES:
        raise XphaError(f"normalise mode must be one of {MODES}, not {mode!r}")
    coeffs = np.concatenate([batch["bp"], batch["rp"]], axis=1)
    errors = np.concatenate([batch["bp_err"], batch["rp_err"]], axis=1).astype(np.float64)
    flux = star_flux(batch, mode)[:, None]
    return coeffs / flux, errors / flux


def star_flux(batch: FeedBatch, mode: str) -> np.ndarray:
    """The flux each star is divided by (G flux, or the first RP coefficient); NaN if unusable."""
    flux = batch["g_flux"] if mode == "g" else batch["rp"][:, 0]
    return np.where(np.isfinite(flux) & (flux > 0), flux, np.nan)


@dataclass
class Moments:
    """Streaming sums for a per-column mean and standard deviation (NaN ignored)."""

    n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    total: np.ndarray = field(default_factory=lambda: np.zeros(0))
    squares: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        finite = np.isfinite(values)
        clean = np.where(finite, values, 0.0)
        return cls(finite.sum(0).astype(np.float64), clean.sum(0), (clean**2).sum(0))

    def __add__(self, other: Moments) -> Moments:
        if not len(self.n):
            return other
        if not len(other.n):
            return self
        return Moments(self.n + other.n, self.total + other.total, self.squares + other.squares)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        n = np.maximum(self.n, 1)
        mean = self.total / n
        std = np.sqrt(np.maximum(self.squares / n - mean**2, 0))
        return mean, np.where(std > 0, std, 1.0)


def partial_moments(batch: FeedBatch, mode: str, rows: np.ndarray) -> tuple[Moments, Moments]:
    """Moments of the flux-normalised coefficients and side features of the selected rows."""
    coeffs, _ = per_star(batch, mode)
    side = np.stack([batch[name].astype(np.float64) for name in SIDE], axis=1)
    return Moments.of(coeffs[rows]), Moments.of(side[rows])


@dataclass
class Normaliser:
    """Flux mode plus per-coefficient (110) and side-feature (G mag, BP-RP) mean and scale."""

    mode: str
    mean: np.ndarray
    scale: np.ndarray
    side_mean: np.ndarray
    side_scale: np.ndarray

    @classmethod
    def from_moments(cls, mode: str, coeffs: Moments, side: Moments) -> Normaliser:
        if not len(coeffs.n) or coeffs.n.max() == 0:
            raise XphaError(
                "cannot fit the normaliser: no training-split source has usable XP data"
            )
        mean, scale = coeffs.mean_std()
        side_mean, side_scale = side.mean_std()
        return cls(mode, mean, scale, side_mean, side_scale)

    def transform(self, batch: FeedBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, err, side) as float32: standardised coefficients (NaN where missing), their
        errors in the same units, and standardised G mag and BP-RP (0 where unknown)."""
        coeffs, errors = per_star(batch, self.mode)
        x = ((coeffs - self.mean) / self.scale).astype(np.float32)
        err = (errors / self.scale).astype(np.float32)
        side = np.stack([batch[name].astype(np.float64) for name in SIDE], axis=1)
        side = np.nan_to_num((side - self.side_mean) / self.side_scale).astype(np.float32)
        return x, err, side

    def save(self, path: Path) -> None:
        np.savez(
            path,
            mode=np.array(self.mode),
            mean=self.mean,
            scale=self.scale,
            side_mean=self.side_mean,
            side_scale=self.side_scale,
        )

    @classmethod
    def load(cls, path: Path) -> Normaliser:
        with np.load(path) as data:
            return cls(
                str(data["mode"]),
                data["mean"],
                data["scale"],
                data["side_mean"],
                data["side_scale"],
            )
