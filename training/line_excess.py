"""H-alpha excess over a learned continuum: a label-free line measurement on XP coefficients.

An H-alpha line adds one fixed vector to the 110 coefficients: its image through the instrument's
line-spread function (Weiler et al. 2023), whatever the star. So the coefficients split into the
component along that vector and everything orthogonal to it. For a star without a line, the
orthogonal part (its spectral shape) predicts the component along the line; a regressor learns
that map on unlabelled training-split stars, where emitters are a few per cent. What the
prediction misses is line flux: an EW in Angstrom and a significance, for every source.

Why not the sideband EW on the calibrated spectrum (``ingest.xp_physics.halpha_ew``): at XP resolution the
line window spans the star's own continuum structure (TiO bands, Balmer wings), which a
straight-line continuum cannot model; a continuum learned from the catalogue can. The regressor
is LightGBM with a Huber loss, so the few emitters among the unlabelled stars do not pull it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sql.errors import XphaError
from training import splits
from training.data import FeedBatch, XPFeed
from training.normalise import Normaliser, star_flux
from training.settings import TrainingSettings

LINE_SIGMA_NM = 0.5  # the image barely depends on width below the ~15 nm LSF
MODEL_FILE = "line_excess.txt"
FEATURES = ("xp_halpha_excess_ew", "xp_halpha_excess_snr")
MIN_FIT_ROWS = 100
MEASURED = "xp_halpha_excess"  # batch column holding a measurement made once (see ``attach``)


def signature(normaliser: Normaliser) -> tuple[np.ndarray, float]:
    """Unit direction of an H-alpha line in the normaliser's standardised space, and the length
    of a unit-flux line there (per unit of the per-star normalising flux)."""
    from ingest.xp_physics.lsf import LineInjector

    image = LineInjector().increments(np.array([1.0]), np.array([LINE_SIGMA_NM]))
    vector = np.concatenate([image["bp"][0], image["rp"][0]]) / normaliser.scale
    length = float(np.linalg.norm(vector))
    return vector / length, length


def decompose(batch: FeedBatch, normaliser: Normaliser, direction: np.ndarray):
    """(regressor inputs, component along the line, its 1σ noise) for every row."""
    x, err, side = normaliser.transform(batch)
    along = x.astype(np.float64) @ direction
    noise = np.sqrt((err.astype(np.float64) ** 2) @ direction**2)
    orthogonal = x - (along[:, None] * direction).astype(np.float32)
    return np.concatenate([orthogonal, side], axis=1), along, noise


@dataclass
class LineExcess:
    """The fitted continuum regressor and the line geometry it was fitted in."""

    normaliser: Normaliser
    booster: Any  # lightgbm.Booster

    def attach(self, batch: FeedBatch) -> FeedBatch:
        """Measure once and keep it in the batch, so every model of a run that reads the excess
        (and every selection of the batch) reuses it instead of running the regressor again.
        Only for batches that this regressor alone will score."""
        batch[MEASURED] = self.measure(batch)
        return batch

    def measure(self, batch: FeedBatch) -> np.ndarray:
        """(n, 2) float32: excess EW in Angstrom (emission positive) and excess / noise;
        NaN where a band or the flux is missing."""
        from ingest.xp_physics.halpha_ew import continuum_at_halpha

        if MEASURED in batch:
            return batch[MEASURED]

        direction, length = signature(self.normaliser)
        inputs, along, noise = decompose(batch, self.normaliser, direction)
        excess = along - self.booster.predict(inputs)
        flux = star_flux(batch, self.normaliser.mode)
        continuum = continuum_at_halpha(batch["bp"], batch["rp"])
        with np.errstate(divide="ignore", invalid="ignore"):
            line_flux = excess * flux / length
            ew = np.where(continuum > 0, 10.0 * line_flux / continuum, np.nan)
            snr = np.where(noise > 0, excess / noise, np.nan)
        return np.stack([ew, snr], axis=1).astype(np.float32)

    def save(self, path: Path) -> None:
        self.booster.save_model(str(path / MODEL_FILE))

    @classmethod
    def load(cls, path: Path, normaliser: Normaliser) -> LineExcess:
        import lightgbm as lgb

        file = Path(path) / MODEL_FILE
        if not file.exists():
            raise XphaError(f"{file} is missing: the model needs its H-alpha continuum regressor")
        return cls(normaliser, lgb.Booster(model_file=str(file)))


def _fit_rows(
    batch: FeedBatch, normaliser: Normaliser, rule: splits.SplitRule, keep: float, seed: int
):
    """Unlabelled training-split rows of one partition, subsampled (a Dask task)."""
    direction, _ = signature(normaliser)
    inputs, along, _ = decompose(batch, normaliser, direction)
    rows = (rule.codes(batch) == splits.TRAIN) & (batch["is_emitter"] < 0)
    rows &= np.isfinite(along)
    first = int(batch["source_id"][0]) if len(batch["source_id"]) else 0
    rows &= np.random.default_rng([seed, first & 0xFFFFFFFF]).random(len(rows)) < keep
    return inputs[rows], along[rows]


def fit(
    feed: XPFeed,
    client: Any,
    normaliser: Normaliser,
    settings: TrainingSettings,
    n_train_rows: int,
    rule: splits.SplitRule,
) -> LineExcess:
    """Learn the continuum along the line from (a sample of) unlabelled training-split stars."""
    import lightgbm as lgb

    keep = min(1.0, settings.line_excess_fit_rows / max(n_train_rows, 1))
    args = (normaliser, rule, keep, settings.training_seed)
    parts = list(feed.map(client, _fit_rows, *args, in_flight=4, desc="line continuum"))
    inputs = np.concatenate([p[0] for p in parts])
    target = np.concatenate([p[1] for p in parts])
    if len(target) < MIN_FIT_ROWS:
        raise XphaError(
            f"only {len(target)} unlabelled training-split sources to learn the H-alpha continuum "
            "from; ingest more XP sources"
        )
    params = {
        "objective": "huber",
        "alpha": 1.0,
        "learning_rate": 0.05,
        "num_leaves": 63,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "feature_fraction": 0.5,
        "seed": settings.training_seed,
        "num_threads": settings.dask_local_workers,
        "verbose": -1,
    }
    booster = lgb.train(params, lgb.Dataset(inputs, target), settings.line_excess_rounds)
    return LineExcess(normaliser, booster)
