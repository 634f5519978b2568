"""What a model kind is: how it trains within a run, how it loads, what its trained model does.

A :class:`ModelKind` trains from a :class:`TrainingRun` (the feed, the labelled set, the fitted
normaliser and H-alpha excess that every kind of one run shares) and returns a :class:`Scorer`,
adding what the report shows of its training (curves, latent spaces) to the run.
``training/kinds.py`` lists the kinds; the pipeline, the CLI, the scorer loader and the report
read only that list.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from training.artifacts import NORMALISER
from training.calibration import Platt
from training.data import FeedBatch, XPFeed
from training.labelled import LabelledSet
from training.line_excess import LineExcess
from training.normalise import Normaliser
from training.settings import TrainingSettings
from training.splits import SplitRule


class Scorer(Protocol):
    """A trained model: ``score(batch) -> (raw score, latent or None)``, higher = emitter;
    the calibrated probability is ``calibrator(score)``."""

    kind: str
    normaliser: Normaliser
    calibrator: Platt
    excess: LineExcess | None

    @property
    def latent_dim(self) -> int | None: ...  # None: no latents

    def score(self, batch: FeedBatch) -> tuple[np.ndarray, np.ndarray | None]: ...

    def config(self) -> dict[str, Any]: ...

    def save(self, path: Path) -> None: ...


@dataclass(frozen=True)
class LatentSpace:
    """A latent space measured on the labelled test split (the representation-collapse check).

    ``source`` is the kind that produced it, or :data:`PHASE1` for the shared DAE encoder
    before any head; ``points`` (latents, BP-RP, label) are kept when the report plots them."""

    source: str
    pc1_fraction: float
    effective_rank: float
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def title(self) -> str:
        return (
            "dae phase 1 (encoder)" if self.source == PHASE1 else f"{self.source} (after phase 2)"
        )

    @property
    def geometry(self) -> dict[str, float]:
        return {"pc1_fraction": self.pc1_fraction, "effective_rank": self.effective_rank}


PHASE1 = "dae_phase1"


@dataclass
class TrainingRun:
    """What every kind of one run trains from, and what the run collects from them."""

    url: str
    settings: TrainingSettings
    feed: XPFeed
    client: Any  # the Dask client
    labelled: LabelledSet
    normaliser: Normaliser
    n_train_rows: int
    excess: LineExcess | None
    split: SplitRule  # train/val/test by parent star (sky cell where there is none)
    version: str
    phase1_dir: Path | None = None
    history: list[dict] = field(default_factory=list)  # training curves, for the report
    latent_spaces: dict[str, LatentSpace] = field(default_factory=dict)  # by source
    timings: dict[str, float] = field(default_factory=dict)
    _shared: dict[str, Any] = field(default_factory=dict)

    def shared(self, name: str, build: Callable[[], Any]) -> Any:
        """Work several kinds need once per run (e.g. DAE phase 1): built on first use, and
        timed on its own (``<name>_s``), not as part of the kind that happened to need it first."""
        if name not in self._shared:
            start = time.perf_counter()
            self._shared[name] = build()
            self.timings[f"{name}_s"] = time.perf_counter() - start
        return self._shared[name]


class ModelKind(Protocol):
    """One kind of model: its name (the registry's ``kind``), a line for the CLI and the report,
    whether its scores come with latents, whether it reads the learned H-alpha excess, how it
    trains and how a saved one loads."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def produces_latents(self) -> bool: ...

    def needs_excess(self, settings: TrainingSettings) -> bool: ...

    def train(self, run: TrainingRun) -> Scorer: ...

    def load(self, path: Path, config: dict[str, Any]) -> Scorer: ...


def saved_normaliser_and_calibrator(path: Path, config: dict[str, Any]) -> tuple[Normaliser, Platt]:
    """What every saved model holds besides its weights."""
    return Normaliser.load(path / NORMALISER), Platt(**config["calibration"])
