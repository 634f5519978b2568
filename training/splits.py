"""Train/validation/test splits grouped by sky cell, so that no patch of sky leaks across.

Neighbouring stars share extinction, crowding and scanning law; a random row split would put
near-identical stars on both sides. Each HEALPix cell at ``split_healpix_level`` goes wholly to
one split, chosen by a seeded hash of the cell index: stable across runs, machines and
partitionings, and computable per partition without any global state.
"""

from __future__ import annotations

import numpy as np

from sql.errors import XphaError
from training.data import cell_shift
from training.settings import TrainingSettings

TRAIN, VAL, TEST = 0, 1, 2
NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}


def _splitmix64(values: np.ndarray) -> np.ndarray:
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def assign(
    source_id: np.ndarray, level: int, seed: int, val_fraction: float, test_fraction: float
) -> np.ndarray:
    """Split code (TRAIN, VAL, TEST) of each source, a function of its sky cell and the seed."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise XphaError(
            f"split fractions val={val_fraction}, test={test_fraction} must be >= 0 and sum below 1"
        )
    cells = np.asarray(source_id, dtype=np.int64) >> cell_shift(level)
    with np.errstate(over="ignore"):
        mixed = _splitmix64(cells.astype(np.uint64) ^ _splitmix64(np.array([seed]))[0])
    u = (mixed >> np.uint64(11)).astype(np.float64) / float(2**53)
    codes = np.full(len(cells), TRAIN, dtype=np.int8)
    codes[u < test_fraction + val_fraction] = VAL
    codes[u < test_fraction] = TEST
    return codes


def split_args(settings: TrainingSettings) -> tuple[int, int, float, float]:
    """The arguments of ``assign`` after the source_ids: level, seed, val and test fractions."""
    return (
        settings.split_healpix_level,
        settings.training_seed,
        settings.split_val_fraction,
        settings.split_test_fraction,
    )


def assign_with(settings: TrainingSettings, source_id: np.ndarray) -> np.ndarray:
    """``assign`` with the levels, seed and fractions from settings."""
    return assign(source_id, *split_args(settings))
