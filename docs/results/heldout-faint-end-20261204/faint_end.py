"""Where does the faint end lose to the physical limit on unseen parents?

The setup of `../heldout-5fold-3seeds-noise-20261204/library_size.py`: fold 2 of seed 0's deal,
a library from every copy of the other four folds' parents, line-free and injected copies of
the fold's unseen test parents in seven G bins; EW50 at FPR 1e-2 over the known-continuum limit,
threshold, centre and scale from each bin's own null.

1. The local continuum with its neighbours chosen as it ships (by the noisy copy) and by the
   copy's parent, which is nearly noise-free (an oracle no detector has): if the faint end
   lost to noisy neighbour choice, the oracle would close the gap.
2. The continuum network alone, as it ships (8 epochs of 150,000 augmented stars, 256 wide)
   and with more training: how far is it from what its architecture can learn?

Run from the repository root: `.venv/bin/python docs/results/<run>/faint_end.py` (about 15
minutes on 2 cores).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "heldout-5fold-3seeds-noise-20261204"))
from library_size import ew50_by_bin, library_of, parent_stars, unseen_fold

from training import heldout
from training.continuum import network
from training.continuum.detector import DetectorSettings
from training.continuum.geometry import Split
from training.continuum.local import local_snr

NETWORKS: tuple[tuple[str, dict[str, int]], ...] = (
    ("network as shipped (8 x 150k, 256 wide)", {}),
    ("network, 16 x 300k", {"epochs": 16, "rows_per_epoch": 300_000}),
    ("network, 24 x 300k, 512 wide", {"epochs": 24, "rows_per_epoch": 300_000, "hidden": 512}),
)


def parent_shapes(parents: dict) -> dict:
    """The normalised shape of each copy's parent (the copy before its added noise)."""
    shape = parent_stars().u
    return {key: shape[rows] for key, rows in parents.items()}


def main() -> None:
    settings = DetectorSettings()
    _, others, stars, limit, parents = unseen_fold()
    library = library_of(others, settings)
    print("known-continuum EW50 (A):", np.round(limit, 2), flush=True)
    clean = parent_shapes(parents)
    for label, select in (("local, neighbours of the noisy copy (shipped)", None),
                          ("local, neighbours of the copy's parent (oracle)", clean)):  # fmt: skip

        def local(lo: float, ew: float, select=select) -> np.ndarray:
            s = stars[lo, ew]
            chosen = None if select is None else select[lo, ew]
            return local_snr(s.u, s.e, library.u, library.projection, settings.local,
                             select=chosen).snr  # fmt: skip

        print(f"{label}: EW50 / limit", np.round(ew50_by_bin(local)[0] / limit, 3), flush=True)
    split = Split(network.default_metric(library.e))
    target_mags = heldout.simulator_g(60_000, np.random.default_rng(1))
    for label, changes in NETWORKS:
        clock = time.perf_counter()
        net_settings = replace(settings.network, **changes)
        augmenter = network.Augmenter(library, target_mags, net_settings)
        net, scaling, history = network.train(augmenter, split, net_settings)

        def learned(lo: float, ew: float, net=net, scaling=scaling) -> np.ndarray:
            s = stars[lo, ew]
            return network.predict(net, scaling, s.u, s.e, s.mag, split)[0]

        print(f"{label}: EW50 / limit", np.round(ew50_by_bin(learned)[0] / limit, 3),
              f"final loss {history[-1]['train_loss']:.3f}, {time.perf_counter() - clock:.0f} s",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
