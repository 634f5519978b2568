"""The DAE kinds: one phase 1 per run, shared (the encoder learns from every training-split
source), then a phase-2 head per kind: ``dae_head`` (MLP on the frozen encoder), ``dae_linear``
(a linear probe) and ``dae_unfreeze`` (MLP with the last encoder layers at a low LR)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training import artifacts, features, splits
from training.artifacts import NORMALISER
from training.calibration import Platt
from training.data import FeedBatch, select
from training.evaluate import latent_geometry
from training.line_excess import MODEL_FILE as EXCESS_FILE
from training.line_excess import LineExcess
from training.model_kind import PHASE1, LatentSpace, TrainingRun, saved_normaliser_and_calibrator
from training.normalise import Normaliser
from training.settings import TrainingSettings

VAL_ROWS_PHASE1 = 20_000  # phase-1 validation loss: a fixed sample of validation-split sources
WEIGHTS = "weights.pt"
LabelledArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x, err, side, y


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

    def score(self, batch: FeedBatch) -> tuple[np.ndarray, np.ndarray]:
        from training.autoencoder.model import N_SIDE
        from training.autoencoder.train import predict_logits

        x, err, side = self.normaliser.transform(batch)
        side = features.head_side(batch, side, self.classifier.config.n_side > N_SIDE, self.excess)
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


def phase1_chunk(batch: FeedBatch, normaliser: Normaliser, rule: splits.SplitRule, code: int):
    """Normalised (x, err) of one split's rows of a partition (a Dask task)."""
    rows = select(batch, rule.codes(batch) == code)
    x, err, _ = normaliser.transform(rows)
    usable = np.isfinite(x).any(axis=1)
    return x[usable], err[usable]


def labelled_arrays(
    batch: FeedBatch,
    normaliser: Normaliser,
    with_ew: bool = False,
    excess: LineExcess | None = None,
) -> LabelledArrays:
    """(x, err, head side inputs, y) of labelled rows, as phase 2 trains on them."""
    x, err, side = normaliser.transform(batch)
    side = features.head_side(batch, side, with_ew, excess)
    return x, err, side, (batch["is_emitter"] == 1).astype(np.float32)


@dataclass
class Phase1:
    """The run's phase-1 autoencoder and the labelled arrays every head trains on."""

    dae: Any  # DenoisingAutoencoder
    train: LabelledArrays
    val: LabelledArrays
    excess: LineExcess | None  # what the heads read (None unless XPHA_HEAD_XP_EW)


def train_phase1(run: TrainingRun) -> Phase1:
    """Phase 1 over every training-split source (streamed, resumable from its checkpoint)."""
    from training.autoencoder import train as dae_train
    from training.autoencoder.model import DAEConfig

    settings, feed, normaliser = run.settings, run.feed, run.normaliser
    args = run.split
    val_chunks, rows = [], 0
    for chunk in feed.map(run.client, phase1_chunk, normaliser, args, splits.VAL):
        val_chunks.append(chunk)
        rows += len(chunk[0])
        if rows >= VAL_ROWS_PHASE1:
            break
    val = (
        np.concatenate([c[0] for c in val_chunks])[:VAL_ROWS_PHASE1],
        np.concatenate([c[1] for c in val_chunks])[:VAL_ROWS_PHASE1],
    )
    order_rng = np.random.default_rng(settings.training_seed)
    orders = [order_rng.permutation(len(feed.partitions)) for _ in range(settings.dae_epochs)]

    def epoch_chunks(epoch: int):
        parts = [feed.partitions[i] for i in orders[epoch]]
        return feed.map(run.client, phase1_chunk, normaliser, args, splits.TRAIN, partitions=parts,
                        in_flight=settings.feed_prefetch)  # fmt: skip

    directory = run.phase1_dir or artifacts.new_model_dir(settings, PHASE1, run.version)
    resume = (directory / dae_train.CHECKPOINT).exists()
    shape = DAEConfig(hidden=settings.dae_hidden, latent=settings.dae_latent_dim)
    dae, history = dae_train.train_phase1(
        epoch_chunks, run.n_train_rows, val, shape, settings, directory, resume=resume
    )
    normaliser.save(directory / artifacts.NORMALISER)
    run.history += history
    excess = run.excess if settings.head_xp_ew else None
    test = run.labelled.part(splits.TEST)
    test_x = labelled_arrays(test, normaliser)
    before = dae.encode(*_encode_inputs(test_x[0])).detach().numpy()
    run.latent_spaces[PHASE1] = LatentSpace(
        PHASE1, **latent_geometry(before), points=(before, test["bp_rp"], test_x[3])
    )
    return Phase1(
        dae,
        labelled_arrays(run.labelled.part(splits.TRAIN), normaliser, settings.head_xp_ew, excess),
        labelled_arrays(run.labelled.part(splits.VAL), normaliser, settings.head_xp_ew, excess),
        excess,
    )


def _encode_inputs(x: np.ndarray):
    import torch

    t = torch.from_numpy(x)
    missing = torch.isnan(t)
    return torch.nan_to_num(t), missing


@dataclass(frozen=True)
class DAEKind:
    """A phase-2 head (``mode``) on the run's shared phase-1 autoencoder."""

    name: str
    mode: str  # frozen, linear or unfreeze (training.autoencoder.train.PHASE2_MODES)
    description: str
    produces_latents: bool = True

    def needs_excess(self, settings: TrainingSettings) -> bool:
        return settings.head_xp_ew

    def train(self, run: TrainingRun) -> DAEScorer:
        from training.autoencoder import train as dae_train

        phase1 = run.shared(PHASE1, lambda: train_phase1(run))
        classifier, history = dae_train.train_phase2(
            phase1.dae, phase1.train, phase1.val, run.settings, self.mode, corruption=run.settings
        )
        run.history += [{**h, "mode": self.mode} for h in history]
        scorer = DAEScorer(self.name, run.normaliser, classifier, Platt(), self.mode, phase1.excess)
        val = run.labelled.part(splits.VAL)
        scorer.calibrator = Platt.fit(scorer.score(val)[0], run.labelled.y(splits.VAL))
        if self.mode == "unfreeze":  # a frozen encoder's latents are phase 1's by construction
            test = run.labelled.part(splits.TEST)
            after = scorer.score(test)[1]
            plotted = (after, test["bp_rp"], run.labelled.y(splits.TEST))
            run.latent_spaces[self.name] = LatentSpace(
                self.name, **latent_geometry(after), points=plotted
            )
        return scorer

    def load(self, path: Path, config: dict[str, Any]) -> DAEScorer:
        import torch

        from training.autoencoder.model import (
            DAEConfig,
            DenoisingAutoencoder,
            EmitterClassifier,
            HeadConfig,
        )

        normaliser, calibrator = saved_normaliser_and_calibrator(path, config)
        classifier = EmitterClassifier(
            DenoisingAutoencoder(DAEConfig(**config["model_args"])), HeadConfig(**config["head"])
        )
        classifier.load_state_dict(torch.load(path / WEIGHTS, map_location="cpu"))
        excess = LineExcess.load(path, normaliser) if (path / EXCESS_FILE).exists() else None
        return DAEScorer(
            self.name, normaliser, classifier.eval(), calibrator, config["phase2_mode"], excess
        )
