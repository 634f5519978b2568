"""Baselines: logistic regression, XGBoost (on Dask), LightGBM and two XP-native physics baselines.

Every model reads the same normalised features and handles the class imbalance explicitly
(balanced class weights or ``scale_pos_weight`` = negatives / positives); raw scores are
calibrated on the validation split by Platt scaling. Each saves itself into its model
directory and is reloaded by :func:`training.scorers.load_scorer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training import features, splits
from training.artifacts import NORMALISER
from training.calibration import Platt
from training.data import Batch, XPFeed, select
from training.labelled import LabelledSet, split_args
from training.line_excess import LineExcess
from training.normalise import Normaliser
from training.settings import TrainingSettings


@dataclass
class TabularScorer:
    """A model over the tabular features: ``raw`` gives a score, higher = more emitter-like."""

    kind: str
    feature_set: str
    normaliser: Normaliser
    calibrator: Platt
    latent_dim: int | None = None
    excess: LineExcess | None = None  # the H-alpha continuum regressor, for 'excess' features

    def features(self, batch: Batch) -> np.ndarray:
        return features.tabular(batch, self.normaliser, self.feature_set, self.excess)

    def score(self, batch: Batch) -> tuple[np.ndarray, None]:
        return self.raw(self.features(batch)).astype(np.float32), None

    def raw(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "feature_set": self.feature_set,
            "features": features.feature_names(self.feature_set),
            "calibration": {"slope": self.calibrator.slope, "intercept": self.calibrator.intercept},
        }

    def save(self, path: Path) -> None:
        self.normaliser.save(path / NORMALISER)
        if self.excess is not None:
            self.excess.save(path)


@dataclass
class LinearScorer(TabularScorer):
    weights: np.ndarray | None = None
    bias: float = 0.0

    def raw(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num(x) @ self.weights + self.bias

    def save(self, path: Path) -> None:
        super().save(path)
        np.savez(path / "linear.npz", weights=self.weights, bias=self.bias)

    def load_weights(self, path: Path) -> None:
        with np.load(path / "linear.npz") as data:
            self.weights, self.bias = data["weights"], float(data["bias"])


@dataclass
class BoosterScorer(TabularScorer):
    booster: Any = None

    def raw(self, x: np.ndarray) -> np.ndarray:
        if self.kind.startswith("xgboost"):
            import xgboost as xgb

            return self.booster.predict(xgb.DMatrix(x), output_margin=True)
        return self.booster.predict(x, raw_score=True)

    def save(self, path: Path) -> None:
        super().save(path)
        if self.kind.startswith("xgboost"):
            self.booster.save_model(path / "model.ubj")
        else:
            self.booster.save_model(str(path / "model.txt"))

    def load_weights(self, path: Path) -> None:
        if self.kind.startswith("xgboost"):
            import xgboost as xgb

            self.booster = xgb.Booster(model_file=str(path / "model.ubj"))
        else:
            import lightgbm as lgb

            self.booster = lgb.Booster(model_file=str(path / "model.txt"))


def _imbalance(y: np.ndarray) -> float:
    """Negatives per positive: the weight that balances the classes."""
    return float((1 - y).sum() / max(y.sum(), 1))


def _calibrated(scorer: TabularScorer, labelled: LabelledSet) -> TabularScorer:
    val = labelled.part(splits.VAL)
    scorer.calibrator = Platt.fit(scorer.score(val)[0], labelled.y(splits.VAL))
    return scorer


FEATURE_SETS = {
    "logreg": "coeffs",
    "xp_ew": "ew",
    "xp_excess": "excess",
    "lightgbm": "coeffs",
    "xgboost": "coeffs",
    "xgboost_ew": "coeffs+ew+excess",
}


def train_linear(
    labelled: LabelledSet, normaliser: Normaliser, kind: str, excess: LineExcess | None = None
) -> LinearScorer:
    """Logistic regression: logreg on the coefficients, xp_ew on the sideband EW and its S/N.
    xp_excess is the physics statistic itself, untrained: its score is the excess S/N (label
    noise or a handful of emitters cannot flip its sign); only the calibration is fitted."""
    from sklearn.linear_model import LogisticRegression

    feature_set = FEATURE_SETS[kind]
    scorer = LinearScorer(kind, feature_set, normaliser, Platt(), excess=excess)
    if kind == "xp_excess":
        scorer.weights, scorer.bias = np.array([0.0, 1.0]), 0.0  # (excess EW, excess S/N)
        return _calibrated(scorer, labelled)  # type: ignore[return-value]
    x = np.nan_to_num(scorer.features(labelled.part(splits.TRAIN)))
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=3000)
    model.fit(x, labelled.y(splits.TRAIN))
    scorer.weights, scorer.bias = model.coef_[0], float(model.intercept_[0])
    return _calibrated(scorer, labelled)  # type: ignore[return-value]


def train_lightgbm(
    labelled: LabelledSet, normaliser: Normaliser, settings: TrainingSettings
) -> BoosterScorer:
    import lightgbm as lgb

    scorer = BoosterScorer("lightgbm", FEATURE_SETS["lightgbm"], normaliser, Platt())
    y = labelled.y(splits.TRAIN)
    model = lgb.LGBMClassifier(
        n_estimators=settings.baseline_max_rounds,
        learning_rate=0.05,
        num_leaves=31,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        scale_pos_weight=_imbalance(y),
        metric="average_precision",  # the only metric: class-weighted logloss would stop it early
        random_state=settings.training_seed,
        verbose=-1,
    )
    model.fit(
        scorer.features(labelled.part(splits.TRAIN)),
        y,
        eval_X=scorer.features(labelled.part(splits.VAL)),
        eval_y=labelled.y(splits.VAL),
        callbacks=[lgb.early_stopping(40, first_metric_only=True, verbose=False)],
    )
    scorer.booster = model.booster_
    return _calibrated(scorer, labelled)  # type: ignore[return-value]


def _train_frame(
    batch: Batch, normaliser: Normaliser, feature_set: str, args: tuple, excess: Any = None
) -> Any:
    """The labelled training-split rows of one partition as a DataFrame (a Dask task)."""
    import pandas as pd

    rows = select(batch, batch["is_emitter"] >= 0)
    rows = select(rows, splits.assign(rows["source_id"], *args) == splits.TRAIN)
    x = features.tabular(rows, normaliser, feature_set, excess)
    frame = pd.DataFrame(x, columns=features.feature_names(feature_set))
    frame["label"] = (rows["is_emitter"] == 1).astype(np.float32)
    return frame


def train_xgboost(
    client: Any,
    feed: XPFeed,
    labelled: LabelledSet,
    normaliser: Normaliser,
    settings: TrainingSettings,
    with_ew: bool = False,
    excess: LineExcess | None = None,
) -> BoosterScorer:
    """XGBoost on the Dask collection of training rows (``xgboost.dask``), optionally with the
    XP line features (sideband EW and learned-continuum excess) as extra features; validation
    (in memory, small) drives early stopping."""
    import dask
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd
    import xgboost as xgb
    import xgboost.dask

    from training.data import read_partition

    kind = "xgboost_ew" if with_ew else "xgboost"
    feature_set = FEATURE_SETS[kind]
    scorer = BoosterScorer(kind, feature_set, normaliser, Platt(), excess=excess)
    names = features.feature_names(feature_set)
    meta = _train_frame(
        {k: v[:0] for k, v in labelled.batch.items()},
        normaliser,
        feature_set,
        split_args(settings),
        excess,
    )
    parts = [
        dask.delayed(_train_frame)(
            dask.delayed(read_partition)(feed.spec, p.lo, p.hi),
            normaliser,
            feature_set,
            split_args(settings),
            excess,
        )
        for p in feed.partitions
    ]
    frame = dd.from_delayed(parts, meta=meta, verify_meta=False)
    train = xgb.dask.DaskDMatrix(client, frame[names], frame["label"])
    val_x = scorer.features(labelled.part(splits.VAL))
    val = xgb.dask.DaskDMatrix(
        client,
        dd.from_pandas(pd.DataFrame(val_x, columns=names), npartitions=1),
        da.from_array(labelled.y(splits.VAL)),
    )
    params = {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "hist",
        "max_depth": 6,
        "eta": 0.05,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "scale_pos_weight": _imbalance(labelled.y(splits.TRAIN)),
        "seed": settings.training_seed,
    }
    result = xgb.dask.train(
        client,
        params,
        train,
        num_boost_round=settings.baseline_max_rounds,
        evals=[(val, "val")],
        early_stopping_rounds=40,
        verbose_eval=False,
    )
    booster = result["booster"]
    if booster.attr("best_iteration") is not None:
        booster = booster[: int(booster.attr("best_iteration")) + 1]
    booster.feature_names = None
    scorer.booster = booster
    return _calibrated(scorer, labelled)  # type: ignore[return-value]
