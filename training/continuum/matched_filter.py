"""The published baseline: a PCA continuum fitted jointly with the LSF line template.

The continuum of a star is the library mean plus K principal components (of error-scaled
library continua); the line is the template t. Weighted least squares with the quoted errors
gives the line amplitude and its 1 sigma for every star; the S/N is their ratio. No learned
scatter: what the K components cannot fit is taken for line or noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.continuum.geometry import line_template


@dataclass
class MatchedFilter:
    mean: np.ndarray  # (110,)
    basis: np.ndarray  # (110, K)

    @classmethod
    def fit(cls, u: np.ndarray, e: np.ndarray, components: int = 10) -> MatchedFilter:
        scale = 1.0 / np.median(e, axis=0)
        mean = u.mean(axis=0)
        _, _, vt = np.linalg.svd((u - mean) * scale, full_matrices=False)
        return cls(mean, vt[:components].T / scale[:, None])

    def snr(self, u: np.ndarray, e: np.ndarray, chunk_rows: int = 20_000):
        """(S/N, gain = 1 / sigma of the amplitude) of the line for every row."""
        design = np.concatenate([self.basis, line_template()[:, None]], axis=1)  # (110, K+1)
        snr, gain = np.full(len(u), np.nan), np.full(len(u), np.nan)
        for lo in range(0, len(u), chunk_rows):
            rows = slice(lo, lo + chunk_rows)
            w = 1.0 / e[rows] ** 2
            normal = np.einsum("ik,ni,il->nkl", design, w, design)
            rhs = np.einsum("ik,ni->nk", design, w * (u[rows] - self.mean))
            cov = np.linalg.inv(normal)
            amplitude = np.einsum("nk,nk->n", cov[:, -1, :], rhs)
            sigma = np.sqrt(cov[:, -1, -1])
            snr[rows], gain[rows] = amplitude / sigma, 1.0 / sigma
        return snr, gain
