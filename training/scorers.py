"""Load any saved model as a scorer: ``score(batch) -> (raw score, latent or None)``.

Scoring, evaluation and the registry treat every kind alike through this one interface; the
calibrated probability is ``scorer.calibrator(score)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sql.errors import XphaError
from training.artifacts import NORMALISER, read_config
from training.baselines import BoosterScorer, LinearScorer, TabularScorer
from training.calibration import Platt
from training.data import Batch
from training.features import blocks
from training.line_excess import MODEL_FILE as EXCESS_FILE
from training.line_excess import LineExcess
from training.normalise import Normaliser

DAE_KINDS = ("dae_head", "dae_linear", "dae_unfreeze")
LINEAR_KINDS = ("logreg", "xp_ew", "xp_excess")
BOOSTER_KINDS = ("xgboost", "xgboost_ew", "lightgbm")
WEIGHTS = "weights.pt"


@dataclass
class DAEScorer:
    """The phase-2 classifier (encoder + head) with its normaliser and calibration."""

    kind: str
    normaliser: Normaliser
    classifier: Any  # EmitterClassifier
    calibrator: Platt
    mode: str = "frozen"
    excess: LineExcess | None = None  # the H-alpha continuum regressor, when the head uses it

    @property
    def latent_dim(self) -> int:
        return int(self.classifier.dae.config.latent)

    def score(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        from training.autoencoder.model import N_SIDE
        from training.autoencoder.train import predict_logits
        from training.features import head_side

        x, err, side = self.normaliser.transform(batch)
        side = head_side(batch, side, self.classifier.config.n_side > N_SIDE, self.excess)
        return predict_logits(self.classifier, x, err, side)

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "phase2_mode": self.mode,
            "model_args": self.classifier.dae.config.to_dict(),
            "head": self.classifier.config.to_dict(),
            "calibration": {"slope": self.calibrator.slope, "intercept": self.calibrator.intercept},
        }

    def save(self, path: Path) -> None:
        import torch

        self.normaliser.save(path / NORMALISER)
        torch.save(self.classifier.state_dict(), path / WEIGHTS)
        if self.excess is not None:
            self.excess.save(path)


def load_scorer(path: Path) -> TabularScorer | DAEScorer:
    """Rebuild a scorer from its model directory (config.json + normaliser + weights)."""
    path = Path(path)
    config = read_config(path)
    kind = config["kind"]
    normaliser = Normaliser.load(path / NORMALISER)
    calibrator = Platt(**config["calibration"])
    if kind in DAE_KINDS:
        import torch

        from training.autoencoder.model import (
            DAEConfig,
            DenoisingAutoencoder,
            EmitterClassifier,
            HeadConfig,
        )

        classifier = EmitterClassifier(
            DenoisingAutoencoder(DAEConfig(**config["model_args"])), HeadConfig(**config["head"])
        )
        classifier.load_state_dict(torch.load(path / WEIGHTS, map_location="cpu"))
        excess = LineExcess.load(path, normaliser) if (path / EXCESS_FILE).exists() else None
        return DAEScorer(
            kind, normaliser, classifier.eval(), calibrator, config["phase2_mode"], excess
        )
    feature_set = config.get("feature_set", "")
    excess = LineExcess.load(path, normaliser) if "excess" in blocks(feature_set) else None
    if kind in LINEAR_KINDS:
        scorer: TabularScorer = LinearScorer(
            kind, feature_set, normaliser, calibrator, excess=excess
        )
    elif kind in BOOSTER_KINDS:
        scorer = BoosterScorer(kind, feature_set, normaliser, calibrator, excess=excess)
    else:
        raise XphaError(f"{path}: unknown model kind {kind!r}")
    scorer.load_weights(path)  # type: ignore[attr-defined]
    return scorer
