"""Model kinds of the continuum detector: ``line_snr`` (library + network, calibrated S/N) and
``matched_filter`` (the published PCA + LSF baseline on the same library).

Both learn from unlabelled training-split sources only (labels just set the Platt calibration
from S/N to probability): the brightest ``continuum_library_sources`` build the library, a
sample of validation-split sources calibrates the S/N. The library is built once per run and
shared by both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training import splits
from training.artifacts import NORMALISER
from training.calibration import Platt
from training.continuum.detector import (
    DetectorSettings,
    LineDetector,
    Stars,
)
from training.continuum.library import LibrarySettings, ReferenceLibrary
from training.continuum.local import LocalSettings
from training.continuum.matched_filter import MatchedFilter
from training.continuum.network import NetworkSettings
from training.data import FeedBatch
from training.line_excess import LineExcess
from training.model_kind import TrainingRun, saved_normaliser_and_calibrator
from training.normalise import Normaliser
from training.settings import TrainingSettings

UNMEASURED = -100.0  # score of a source without both bands: below any S/N a line reaches
DETECTOR_DIR = "continuum"
MF_FILE = "matched_filter.npz"
SHARED = "continuum_stars"
MEASURED = "line_snr_measurement"  # batch key of a measurement made once


def detector_settings(settings: TrainingSettings) -> DetectorSettings:
    return DetectorSettings(
        library=LibrarySettings(max_candidates=settings.continuum_library_sources),
        local=LocalSettings(
            neighbours=settings.continuum_neighbours,
            scatter_weight=settings.continuum_scatter_weight,
        ),
        network=NetworkSettings(
            hidden=settings.continuum_hidden,
            epochs=settings.continuum_epochs,
            rows_per_epoch=settings.continuum_rows_per_epoch,
            seed=settings.training_seed,
            threads=settings.continuum_threads,
        ),
        misfit_quantile=settings.continuum_misfit_quantile,
    )


def _split_stars(batch: FeedBatch, rule: splits.SplitRule, code: int, quota: float, seed: int):
    """Usable rows of one split in a partition (a Dask task): the brightest ``quota`` share as
    (u, e, mag) float32, plus a random sample of magnitudes of them all."""
    rows = np.flatnonzero(rule.codes(batch) == code)
    stars = Stars.of({k: batch[k][rows] for k in ("bp", "rp", "bp_err", "rp_err")})
    stars = stars.take(stars.usable)
    keep = int(np.ceil(quota * len(stars.f)))
    brightest = np.argsort(stars.mag, kind="stable")[:keep]
    first = int(batch["source_id"][0]) if len(batch["source_id"]) else 0
    rng = np.random.default_rng([seed, first & 0xFFFFFFFF])
    sample = stars.mag[rng.random(len(stars.mag)) < min(1.0, 4 * quota)]
    return (stars.u[brightest].astype(np.float32), stars.e[brightest].astype(np.float32),
            stars.mag[brightest].astype(np.float32), sample.astype(np.float32))  # fmt: skip


@dataclass
class GatheredStars:
    train: Stars
    validation: Stars
    train_mags: np.ndarray  # a sample of every training source's magnitude


def gather(run: TrainingRun) -> GatheredStars:
    """The library candidates and a calibration sample, in one streamed pass per split."""
    settings = run.settings
    n = max(run.n_train_rows, 1)
    train_quota = min(1.0, 1.5 * settings.continuum_library_sources / n)
    val_quota = min(1.0, settings.continuum_validation_sources / max(0.2 * n, 1))
    out = []
    for code, quota, desc in ((splits.TRAIN, train_quota, "continuum library"),
                              (splits.VAL, val_quota, "continuum calibration")):  # fmt: skip
        parts = list(run.feed.map(run.client, _split_stars, run.split, code, quota,
                                  settings.training_seed, in_flight=4, desc=desc))  # fmt: skip
        u, e, mag, sample = (np.concatenate([p[i] for p in parts]).astype(np.float64)
                             for i in range(4))  # fmt: skip
        out.append((Stars.arrays(u, e, mag), sample))
    (train, mags), (validation, _) = out
    return GatheredStars(train, validation, mags)


def shared_library(run: TrainingRun) -> tuple[GatheredStars, ReferenceLibrary]:
    """The run's gathered stars and reference library, built once for every kind."""
    from training.continuum.library import build

    stars = run.shared(SHARED, lambda: gather(run))
    det = detector_settings(run.settings)
    library = run.shared(
        "continuum_library",
        lambda: build(stars.train.u, stars.train.e, stars.train.mag, det.library, det.local),
    )
    return stars, library


@dataclass
class LineScorer:
    """The calibrated line S/N as the score; its EW and S/N as the published measurement."""

    kind: str
    normaliser: Normaliser
    calibrator: Platt
    detector: LineDetector
    excess: LineExcess | None = None
    latent_dim: int | None = None

    def score(self, batch: FeedBatch) -> tuple[np.ndarray, None]:
        snr = self.measure_line(batch)[:, 1]
        return np.where(np.isfinite(snr), snr, UNMEASURED).astype(np.float32), None

    def measure_line(self, batch: FeedBatch) -> np.ndarray:
        """(n, 2) float32: EW in Angstrom (emission positive) and S/N; NaN where unmeasurable.
        Kept in the batch, so that scoring and publishing the same rows measure them once."""
        if MEASURED not in batch:
            measured = self.detector.measure(batch)
            batch[MEASURED] = np.stack([measured["ew"], measured["snr"]], axis=1).astype(np.float32)
        return batch[MEASURED]

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detector": self.detector.settings.to_dict(),
            "library_entries": len(self.detector.library),
            "calibration": {"slope": self.calibrator.slope, "intercept": self.calibrator.intercept},
        }

    def save(self, path: Path) -> None:
        self.normaliser.save(path / NORMALISER)
        self.detector.save(path / DETECTOR_DIR)


def _calibrated(scorer, run: TrainingRun):
    val = run.labelled.part(splits.VAL)
    scorer.calibrator = Platt.fit(scorer.score(val)[0], run.labelled.y(splits.VAL))
    return scorer


@dataclass(frozen=True)
class LineSnrKind:
    name: str = "line_snr"
    description: str = ("H-alpha S/N over a continuum predicted for unseen stars (nearest library "
                        "stars + network, learned scatter, calibrated on validation parents)")  # fmt: skip
    produces_latents: bool = False

    def needs_excess(self, settings: TrainingSettings) -> bool:
        return False

    def train(self, run: TrainingRun) -> LineScorer:
        stars, library = shared_library(run)
        detector, history = LineDetector.fit(stars.train, stars.validation,
                                             detector_settings(run.settings), stars.train_mags,
                                             library)  # fmt: skip
        run.history += [{**h, "mode": self.name} for h in history]
        return _calibrated(LineScorer(self.name, run.normaliser, Platt(), detector), run)

    def load(self, path: Path, config: dict[str, Any]) -> LineScorer:
        normaliser, calibrator = saved_normaliser_and_calibrator(path, config)
        return LineScorer(self.name, normaliser, calibrator, LineDetector.load(path / DETECTOR_DIR))


@dataclass
class MatchedFilterScorer:
    """The PCA-continuum + LSF matched-filter S/N (no learned scatter)."""

    kind: str
    normaliser: Normaliser
    calibrator: Platt
    mf: MatchedFilter
    excess: LineExcess | None = None
    latent_dim: int | None = None

    def score(self, batch: FeedBatch) -> tuple[np.ndarray, None]:
        stars = Stars.of(batch)
        out = np.full(len(stars.f), UNMEASURED)
        rows = np.flatnonzero(stars.usable)
        if rows.size:
            snr, _ = self.mf.snr(stars.u[rows], stars.e[rows])
            out[rows] = np.where(np.isfinite(snr), snr, UNMEASURED)
        return out.astype(np.float32), None

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "components": int(self.mf.basis.shape[1]),
                "calibration": {"slope": self.calibrator.slope,
                                "intercept": self.calibrator.intercept}}  # fmt: skip

    def save(self, path: Path) -> None:
        self.normaliser.save(path / NORMALISER)
        np.savez(path / MF_FILE, mean=self.mf.mean, basis=self.mf.basis)


@dataclass(frozen=True)
class MatchedFilterKind:
    name: str = "matched_filter"
    description: str = ("baseline: PCA continuum (library stars) + LSF line template, weighted "
                        "least squares with the quoted errors, no learned scatter")  # fmt: skip
    produces_latents: bool = False
    components: int = 10

    def needs_excess(self, settings: TrainingSettings) -> bool:
        return False

    def train(self, run: TrainingRun) -> MatchedFilterScorer:
        _, library = shared_library(run)
        mf = MatchedFilter.fit(library.u, library.e, self.components)
        return _calibrated(MatchedFilterScorer(self.name, run.normaliser, Platt(), mf), run)

    def load(self, path: Path, config: dict[str, Any]) -> MatchedFilterScorer:
        normaliser, calibrator = saved_normaliser_and_calibrator(path, config)
        with np.load(path / MF_FILE) as data:
            mf = MatchedFilter(data["mean"], data["basis"])
        return MatchedFilterScorer(self.name, normaliser, calibrator, mf)
