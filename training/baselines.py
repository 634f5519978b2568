"""Baselines: logistic regression, XGBoost (on Dask), LightGBM and two XP-native physics baselines.

Every model reads the same normalised features and handles the class imbalance explicitly
(balanced class weights or ``scale_pos_weight`` = negatives / positives); raw scores are
calibrated on the validation split by Platt scaling. Each saves itself into its model
directory and is reloaded by :func:`training.scorers.load_scorer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from training import features, splits
from training.artifacts import NORMALISER
from training.calibration import Platt
from training.data import FeedBatch, XPFeed, select
from training.labelled import LabelledSet
from training.line_excess import LineExcess
from training.model_kind import TrainingRun, saved_normaliser_and_calibrator
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

    def features(self, batch: FeedBatch) -> np.ndarray:
        return features.tabular(batch, self.normaliser, self.feature_set, self.excess)

    def score(self, batch: FeedBatch) -> tuple[np.ndarray, None]:
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
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
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


AnyTabular = TypeVar("AnyTabular", bound=TabularScorer)


def _imbalance(y: np.ndarray) -> float:
    """Negatives per positive: the weight that balances the classes."""
    return float((1 - y).sum() / max(y.sum(), 1))


def _calibrated(scorer: AnyTabular, labelled: LabelledSet) -> AnyTabular:
    val = labelled.part(splits.VAL)
    scorer.calibrator = Platt.fit(scorer.score(val)[0], labelled.y(splits.VAL))
    return scorer


def train_logistic(
    labelled: LabelledSet,
    normaliser: Normaliser,
    kind: str,
    feature_set: str,
    excess: LineExcess | None = None,
) -> LinearScorer:
    """Logistic regression with balanced class weights on a feature set."""
    from sklearn.linear_model import LogisticRegression

    scorer = LinearScorer(kind, feature_set, normaliser, Platt(), excess=excess)
    x = np.nan_to_num(scorer.features(labelled.part(splits.TRAIN)))
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=3000)
    model.fit(x, labelled.y(splits.TRAIN))
    scorer.weights, scorer.bias = model.coef_[0], float(model.intercept_[0])
    return _calibrated(scorer, labelled)


def excess_statistic(
    labelled: LabelledSet, normaliser: Normaliser, kind: str, excess: LineExcess | None
) -> LinearScorer:
    """The physics statistic itself, untrained: the score is the excess S/N (label noise or a
    handful of emitters cannot flip its sign); only the calibration is fitted."""
    scorer = LinearScorer(kind, "excess", normaliser, Platt(), excess=excess)
    scorer.weights, scorer.bias = np.array([0.0, 1.0]), 0.0  # (excess EW, excess S/N)
    return _calibrated(scorer, labelled)


def train_lightgbm(
    labelled: LabelledSet,
    normaliser: Normaliser,
    settings: TrainingSettings,
    kind: str = "lightgbm",
    feature_set: str = "coeffs",
    excess: LineExcess | None = None,
) -> BoosterScorer:
    import lightgbm as lgb

    scorer = BoosterScorer(kind, feature_set, normaliser, Platt(), excess=excess)
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
    return _calibrated(scorer, labelled)


def _train_frame(
    batch: FeedBatch,
    normaliser: Normaliser,
    feature_set: str,
    rule: splits.SplitRule,
    excess: Any = None,
) -> Any:
    """The labelled training-split rows of one partition as a DataFrame (a Dask task)."""
    import pandas as pd

    rows = select(batch, batch["is_emitter"] >= 0)
    rows = select(rows, rule.codes(rows) == splits.TRAIN)
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
    rule: splits.SplitRule,
    kind: str = "xgboost",
    feature_set: str = "coeffs",
    excess: LineExcess | None = None,
) -> BoosterScorer:
    """XGBoost on the Dask collection of training rows (``xgboost.dask``) over a feature set
    (the XP line features, sideband EW and learned-continuum excess, may join the coefficients);
    validation (in memory, small) drives early stopping."""
    import dask
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd
    import xgboost as xgb
    import xgboost.dask

    from training.data import read_partition

    scorer = BoosterScorer(kind, feature_set, normaliser, Platt(), excess=excess)
    names = features.feature_names(feature_set)
    meta = _train_frame(
        {k: v[:0] for k, v in labelled.batch.items()},
        normaliser,
        feature_set,
        rule,
        excess,
    )
    parts = [
        dask.delayed(_train_frame)(
            dask.delayed(read_partition)(feed.spec, p.lo, p.hi),
            normaliser,
            feature_set,
            rule,
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
    return _calibrated(scorer, labelled)


# --- the kinds --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TabularKind:
    """A baseline over one feature set; saved as its normaliser, calibration and weights."""

    name: str
    feature_set: str
    description: str
    scorer_class: type[LinearScorer] | type[BoosterScorer] = LinearScorer
    produces_latents: bool = False

    def needs_excess(self, settings: TrainingSettings) -> bool:
        return "excess" in features.blocks(self.feature_set)

    def load(self, path: Path, config: dict[str, Any]) -> TabularScorer:
        normaliser, calibrator = saved_normaliser_and_calibrator(path, config)
        feature_set = config["feature_set"]
        excess = (
            LineExcess.load(path, normaliser) if "excess" in features.blocks(feature_set) else None
        )
        scorer = self.scorer_class(self.name, feature_set, normaliser, calibrator, excess=excess)
        scorer.load_weights(path)
        return scorer


@dataclass(frozen=True)
class LogisticKind(TabularKind):
    def train(self, run: TrainingRun) -> LinearScorer:
        return train_logistic(run.labelled, run.normaliser, self.name, self.feature_set, run.excess)


@dataclass(frozen=True)
class ExcessStatisticKind(TabularKind):
    def train(self, run: TrainingRun) -> LinearScorer:
        return excess_statistic(run.labelled, run.normaliser, self.name, run.excess)


@dataclass(frozen=True)
class LightGBMKind(TabularKind):
    scorer_class: type[LinearScorer] | type[BoosterScorer] = BoosterScorer

    def train(self, run: TrainingRun) -> BoosterScorer:
        return train_lightgbm(run.labelled, run.normaliser, run.settings, self.name,
                              self.feature_set, run.excess)  # fmt: skip


@dataclass(frozen=True)
class XGBoostKind(TabularKind):
    scorer_class: type[LinearScorer] | type[BoosterScorer] = BoosterScorer

    def train(self, run: TrainingRun) -> BoosterScorer:
        return train_xgboost(run.client, run.feed, run.labelled, run.normaliser, run.settings,
                             run.split, self.name, self.feature_set, run.excess)  # fmt: skip
