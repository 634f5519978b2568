"""Load any saved model as a scorer: ``score(batch) -> (raw score, latent or None)``.

Scoring, evaluation and the registry treat every kind alike through this one interface; the
calibrated probability is ``scorer.calibrator(score)``. Each kind loads its own (``KINDS``).
"""

from __future__ import annotations

from pathlib import Path

from training.artifacts import read_config
from training.kinds import kind_of
from training.model_kind import Scorer


def load_scorer(path: Path) -> Scorer:
    """Rebuild a scorer from its model directory (config.json + normaliser + weights)."""
    path = Path(path)
    config = read_config(path)
    return kind_of(config["kind"], path).load(path, config)
