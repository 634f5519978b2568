"""How much should the local continuum trust its neighbours' scatter S? (Σ = C + w·S)

The setup of `../heldout-5fold-3seeds-noise-20261204/library_size.py`: fold 2 of seed 0's deal,
a library from every copy of the other four folds' parents, line-free and injected copies of
the fold's unseen test parents in seven G bins. For each weight w it prints, per G bin, the
local continuum's EW50 at FPR 1e-2 over the known-continuum limit (threshold, centre and scale
from the bin's own null copies) and the 1e-3 quantile of the bin's null in those units (3.09
for a normal tail). Run from the repository root:
`.venv/bin/python docs/results/heldout-scatter-weight-20261204/scatter_weight.py`
(about 10 minutes on 2 cores).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "heldout-5fold-3seeds-noise-20261204"))
from library_size import BINS, FOLD, SEED, SOURCES_PER_PARENT, copies, ew50_by_bin

from training import heldout
from training.continuum.detector import DetectorSettings, Stars
from training.continuum.library import build
from training.continuum.local import LocalSettings, local_snr

WEIGHTS = (1.0, 0.7, 0.5, 0.35, 0.25)


def null_tail(library, stars: dict, settings: LocalSettings) -> np.ndarray:
    """Per G bin: the null's 1 - 1e-3 quantile after centring and scaling by median and MAD."""
    out = []
    for lo, _ in BINS:
        s = local_snr(
            stars[lo, 0.0].u, stars[lo, 0.0].e, library.u, library.projection, settings
        ).snr
        centre = np.nanmedian(s)
        out.append(
            np.nanquantile((s - centre) / (1.4826 * np.nanmedian(np.abs(s - centre))), 0.999)
        )
    return np.array(out)


def main() -> None:
    plan, settings = heldout.HeldOutPlan(), DetectorSettings()
    folds = heldout.parent_folds(plan.folds, SEED)
    test = folds[FOLD]
    others = np.concatenate([f for k, f in enumerate(folds) if k != FOLD])
    batches = copies(test)
    stars = {key: Stars.of(batch) for key, batch in batches.items()}
    limit = np.array([heldout.fisher_ew50(heldout.fisher_sigma_ew(batches[lo, 0.0]), 1e-2)
                      for lo, _ in BINS])  # fmt: skip
    train = heldout._stars(heldout.sky(others, int(SOURCES_PER_PARENT * others.size), 5,
                                       plan.chunk_rows))  # fmt: skip
    train = train.take(train.usable)
    every_copy = replace(settings.library, max_candidates=train.u.shape[0])
    library = build(train.u, train.e, train.mag, every_copy, settings.local)
    print("G bins:", " ".join(f"{lo:g}-{hi:g}" for lo, hi in BINS))
    print(f"{len(library)} library stars; known-continuum EW50 (A):", np.round(limit, 2))
    for weight in WEIGHTS:
        local = replace(settings.local, scatter_weight=weight)
        ratio = ew50_by_bin(library, stars, local) / limit
        print(f"w = {weight:g}: EW50 / limit", np.round(ratio, 3),
              "null 1e-3 quantile", np.round(null_tail(library, stars, local), 2), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
