"""Platt scaling: raw scores of class-weighted models become calibrated P(emitter).

Class weights (needed against the imbalance) distort a model's probabilities; a logistic fit
of the validation labels on the raw score restores them at the sample's real prevalence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Platt:
    slope: float = 1.0
    intercept: float = 0.0

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> Platt:
        from sklearn.linear_model import LogisticRegression

        finite = np.isfinite(scores)
        if len(np.unique(labels[finite])) < 2:
            return cls()
        model = LogisticRegression(C=1e4, max_iter=1000)
        model.fit(scores[finite, None], labels[finite])
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        z = np.clip(self.slope * np.asarray(scores, dtype=np.float64) + self.intercept, -50, 50)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
