"""The local continuum: the nearest reference stars along everything a line cannot change.

For a star u with errors e, the distance to reference r is the chi-square of u - r after the
best-fitting line is removed (so a line of any strength leaves the neighbours unchanged). The K
nearest references give a local mean and covariance S of the continuum; with the star's noise
C = diag(e^2), the generalised least-squares line amplitude is a = t'Σ⁻¹(u - μ) / t'Σ⁻¹t with
Σ = w·S + C, and its S/N a / (t'Σ⁻¹t)^-1/2. S is the local scatter of real stars: directions in
which similar stars differ count as uncertainty, not as line. A 40-star covariance in 110
dimensions overstates its leading directions, which then swallow part of a line: weighting it
by w = 0.5 brought the local continuum 4-11% closer to the physical limit at G 12-17 on unseen
parents, with lighter null tails (docs/results/heldout-scatter-weight-20261204).

The misfit, (u - μ)'Σ⁻¹(u - μ) less the line's share S/N², per degree of freedom, says how well
the neighbours fit the star at all: near 1 for a star like its neighbours, large for a
continuum the library does not know.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.continuum.geometry import line_template

PREFILTER_FACTOR = 5  # the cheap first pass pays off only for libraries this many times larger


@dataclass(frozen=True)
class LocalSettings:
    neighbours: int = 40
    shrink: float = 0.3  # weight of the diagonal of S: a 40-star covariance in 110 dimensions
    scatter_weight: float = 0.5  # w in Σ = C + w·S (1.0 before 2026-12-04)
    prefilter_dims: int = 24  # PCA dimensions of the first, cheap neighbour search
    prefilter_keep: int = 200  # candidates kept for the exact line-blind chi-square
    chunk_rows: int = 500


@dataclass
class LocalResult:
    snr: np.ndarray  # line S/N
    gain: np.ndarray  # S/N per unit of normalised line amplitude: 1 / sigma(a)
    misfit: np.ndarray  # chi-square per degree of freedom of u - mu once the line is removed


def nearest(u, e, refs, projection, settings: LocalSettings, exclude=None) -> np.ndarray:
    """Indices (n, K) of the K references nearest to each row in the line-blind chi-square."""
    out = np.empty((len(u), settings.neighbours), np.int64)
    for lo in range(0, len(u), settings.chunk_rows):
        rows = slice(lo, lo + settings.chunk_rows)
        out[rows] = _nearest(u[rows], 1.0 / e[rows] ** 2, refs, projection, settings,
                             None if exclude is None else exclude[rows])  # fmt: skip
    return out


def _nearest(u, w, refs, projection, settings: LocalSettings, exclude=None) -> np.ndarray:
    t = line_template()
    k = settings.neighbours
    n_refs = len(refs)
    if projection is not None and PREFILTER_FACTOR * settings.prefilter_keep < n_refs:
        # cheap first pass: Euclidean distance in the references' leading components of u⊥
        p_u, p_r = u @ projection, refs @ projection
        d = (p_u**2).sum(1)[:, None] - 2 * p_u @ p_r.T + (p_r**2).sum(1)[None]
        if exclude is not None:
            d[np.arange(len(u)), exclude] = np.inf
        cand = np.argpartition(d, settings.prefilter_keep, axis=1)[:, : settings.prefilter_keep]
        diff = u[:, None, :] - refs[cand]  # (m, c, 110)
        wd = diff * w[:, None, :]
        chi = (wd * diff).sum(2) - (wd @ t) ** 2 / (w @ (t * t))[:, None]
        if exclude is not None:
            chi[cand == exclude[:, None]] = np.inf
        best = np.argpartition(chi, k, axis=1)[:, :k]
        return np.take_along_axis(cand, best, axis=1)
    wt = w * t
    chi = (w * u**2).sum(1)[:, None] - 2 * (w * u) @ refs.T + w @ (refs**2).T
    along = (wt * u).sum(1)[:, None] - wt @ refs.T
    chi -= along**2 / (wt * t).sum(1)[:, None]
    if exclude is not None:
        chi[np.arange(len(u)), exclude] = np.inf
    return np.argpartition(chi, k, axis=1)[:, :k]


def local_snr(
    u: np.ndarray,
    e: np.ndarray,
    refs: np.ndarray,
    projection: np.ndarray | None,
    settings: LocalSettings,
    exclude: np.ndarray | None = None,
    select: np.ndarray | None = None,
) -> LocalResult:
    """Line S/N of every row of (u, e) against the reference continua ``refs`` (normalised).

    ``exclude`` (row -> reference index) leaves a star's own entry out (the library's
    self-test). ``select`` (default u) are the shapes the neighbours are chosen by: a
    diagnosis can choose them by a copy's noise-free parent and measure the noisy copy.
    Σ = C + w·(shrink·diag(S) + (1 - shrink)·S) is inverted by Woodbury through the K x K
    system, so a row costs O(K² · 110)."""
    t = line_template()
    n, k = len(u), settings.neighbours
    snr, gain, misfit = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for lo in range(0, n, settings.chunk_rows):
        rows = slice(lo, lo + settings.chunk_rows)
        ui, ei = u[rows], e[rows]
        w = 1.0 / ei**2
        near = _nearest(ui if select is None else select[rows], w, refs, projection, settings,
                        None if exclude is None else exclude[rows])  # fmt: skip
        members = refs[near]  # (m, K, 110)
        mu = members.mean(1)
        dev = members - mu[:, None, :]
        diag = (dev**2).sum(1) / (k - 1)
        w_s = settings.scatter_weight
        a_inv = 1.0 / (ei**2 + w_s * settings.shrink * diag)  # A = diagonal part of Σ
        b = dev * np.sqrt(w_s * (1 - settings.shrink) / (k - 1))  # Σ = A + bᵀb
        r = ui - mu
        # Σ⁻¹x = A⁻¹x - A⁻¹bᵀ (I + b A⁻¹ bᵀ)⁻¹ b A⁻¹x, with b scaled by A^-1/2 (batched BLAS)
        root = np.sqrt(a_inv)
        bs = b * root[:, None, :]
        bab = bs @ bs.transpose(0, 2, 1)
        bab[:, np.arange(k), np.arange(k)] += 1.0
        rhs = bs @ np.stack([root * t, root * r], axis=2)  # (m, K, 2): b A⁻¹ t, b A⁻¹ r
        bat = rhs[..., 0]
        sol = np.linalg.solve(bab, rhs)  # (m, K, 2)
        t_t = (t * a_inv * t).sum(1) - (bat * sol[..., 0]).sum(1)
        t_r = (t * a_inv * r).sum(1) - (bat * sol[..., 1]).sum(1)
        r_r = (r * a_inv * r).sum(1) - (rhs[..., 1] * sol[..., 1]).sum(1)
        gain[rows] = np.sqrt(np.maximum(t_t, 1e-300))
        snr[rows] = t_r / gain[rows]
        misfit[rows] = (r_r - snr[rows] ** 2) / (u.shape[1] - 1)
    return LocalResult(snr, gain, misfit)
