"""Train/validation/test splits grouped by parent star, else by sky cell: nothing leaks across.

A simulated sky is built from a few thousand real parent spectra: every source is a noisy copy
of one, so a split that ignores parents tests stars the models have already learnt. Every copy
of a parent (and the parent's own real row, when it is ingested too) therefore goes wholly to
one split, chosen by a seeded hash of the parent's source_id. Sources with no parent (a real
sky) are grouped by HEALPix cell at ``split_healpix_level`` instead: neighbouring stars share
extinction, crowding and scanning law. Either way the code is stable across runs, machines and
partitionings and computable per partition from the rule alone. A held-out list (source_ids
of parents or sources, ``XPHA_TRAINING_HOLDOUT_FILE``) always goes to the test split, so a set
of stars can be kept out of everything the models learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sql.errors import XphaError
from training.data import cell_shift
from training.feed_spec import FeedBatch
from training.settings import TrainingSettings

TRAIN, VAL, TEST = 0, 1, 2
NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}
_PARENT_SALT = np.uint64(0x5DEECE66D)  # parents and cells draw from unrelated hash streams


def _splitmix64(values: np.ndarray) -> np.ndarray:
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _check(val_fraction: float, test_fraction: float) -> None:
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise XphaError(
            f"split fractions val={val_fraction}, test={test_fraction} must be >= 0 and sum below 1"
        )


def _codes(keys: np.ndarray, seed: int, val_fraction: float, test_fraction: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = _splitmix64(keys.astype(np.uint64) ^ _splitmix64(np.array([seed]))[0])
    u = (mixed >> np.uint64(11)).astype(np.float64) / float(2**53)
    codes = np.full(len(keys), TRAIN, dtype=np.int8)
    codes[u < test_fraction + val_fraction] = VAL
    codes[u < test_fraction] = TEST
    return codes


def assign(
    source_id: np.ndarray, level: int, seed: int, val_fraction: float, test_fraction: float
) -> np.ndarray:
    """Split code (TRAIN, VAL, TEST) of each source by its sky cell alone."""
    _check(val_fraction, test_fraction)
    cells = np.asarray(source_id, dtype=np.int64) >> cell_shift(level)
    return _codes(cells, seed, val_fraction, test_fraction)


def parent_codes(
    parent_id: np.ndarray, seed: int, val_fraction: float, test_fraction: float
) -> np.ndarray:
    """Split code of each parent star (by its source_id): every copy of it shares this code."""
    _check(val_fraction, test_fraction)
    keys = np.asarray(parent_id, dtype=np.int64).astype(np.uint64) ^ _PARENT_SALT
    return _codes(keys, seed, val_fraction, test_fraction)


@dataclass(frozen=True)
class SplitRule:
    """Everything a split code depends on; small enough to send with every Dask task."""

    level: int
    seed: int
    val_fraction: float
    test_fraction: float
    parents: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # sorted
    held_out: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # sorted

    def with_groups(self, parents: np.ndarray, held_out: np.ndarray) -> SplitRule:
        return replace(self, parents=np.unique(np.asarray(parents, np.int64)),
                       held_out=np.unique(np.asarray(held_out, np.int64)))  # fmt: skip

    def parent_of(self, batch: FeedBatch) -> np.ndarray:
        """Each source's parent: its simulation parent, itself if it is a known parent, else -1."""
        source_id = np.asarray(batch["source_id"], np.int64)
        parent = np.asarray(batch.get("parent_id", np.full(len(source_id), -1)), np.int64)
        own = _member(source_id, self.parents)
        return np.where(parent >= 0, parent, np.where(own, source_id, -1))

    def codes(self, batch: FeedBatch) -> np.ndarray:
        """Split code of every row of a batch."""
        source_id = np.asarray(batch["source_id"], np.int64)
        parent = self.parent_of(batch)
        codes = assign(source_id, self.level, self.seed, self.val_fraction, self.test_fraction)
        has = parent >= 0
        codes[has] = parent_codes(parent[has], self.seed, self.val_fraction, self.test_fraction)
        if len(self.held_out):
            codes[_member(parent, self.held_out) | _member(source_id, self.held_out)] = TEST
        return codes


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if not len(sorted_set):
        return np.zeros(len(values), bool)
    where = np.clip(np.searchsorted(sorted_set, values), 0, len(sorted_set) - 1)
    return sorted_set[where] == values


def rule_of(settings: TrainingSettings) -> SplitRule:
    """The rule of the settings' level, seed and fractions (no parents known yet)."""
    return SplitRule(
        settings.split_healpix_level,
        settings.training_seed,
        settings.split_val_fraction,
        settings.split_test_fraction,
    )


def assign_with(settings: TrainingSettings, source_id: np.ndarray) -> np.ndarray:
    """Cell codes with the levels, seed and fractions from settings (no parents)."""
    return rule_of(settings).codes({"source_id": source_id})
