"""Every model kind xpha trains, in one mapping: the pipeline trains them, the CLI lists them,
saved models load through them and the report describes them, all from ``KINDS``.

To add a kind: write a module with a class that satisfies :class:`training.model_kind.ModelKind`
(``training/baselines.py`` has small ones; ``training/autoencoder/kind.py`` shares work between
kinds through ``TrainingRun.shared``), and add one entry here. Nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sql.errors import XphaError
from training.autoencoder.kind import DAEKind
from training.baselines import (
    ExcessStatisticKind,
    LightGBMKind,
    LogisticKind,
    XGBoostKind,
)
from training.continuum.kind import LineSnrKind, MatchedFilterKind
from training.model_kind import ModelKind

KINDS: dict[str, ModelKind] = {
    kind.name: kind
    for kind in (
        LogisticKind("logreg", "coeffs", "logistic regression on the normalised coefficients"),
        LightGBMKind("lightgbm", "coeffs", "LightGBM on the normalised coefficients"),
        XGBoostKind("xgboost", "coeffs", "XGBoost (xgboost.dask) on the normalised coefficients"),
        XGBoostKind("xgboost_ew", "coeffs+ew+excess",
                    "XGBoost on the coefficients plus the XP H-alpha line features"),
        LogisticKind("xp_ew", "ew", "logistic regression on the sideband XP H-alpha EW and its S/N"),
        ExcessStatisticKind("xp_excess", "excess",
                            "the H-alpha excess S/N over a learned continuum, untrained"),
        DAEKind("dae_head", "frozen", "MLP head on the frozen denoising-autoencoder encoder"),
        DAEKind("dae_linear", "linear", "linear probe of the frozen autoencoder's latent space"),
        DAEKind("dae_unfreeze", "unfreeze",
                "MLP head with the encoder's last layers fine-tuned at a low learning rate"),
        MatchedFilterKind(),
        LineSnrKind(),
    )
}  # fmt: skip


def resolve(names: Iterable[str]) -> tuple[ModelKind, ...]:
    """The kinds of these names, in the order given; an unknown name is a clear error."""
    names = tuple(names)
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        raise XphaError(f"unknown model kind(s) {unknown}; known: {', '.join(KINDS)}")
    return tuple(KINDS[name] for name in names)


def kind_of(name: str, where: object) -> ModelKind:
    """The kind a saved model names (``where`` says which model, for the error)."""
    if name not in KINDS:
        raise XphaError(f"{where}: unknown model kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[name]
