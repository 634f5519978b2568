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
from library_size import BINS, by_bin, library_of, unseen_fold

from training.continuum.detector import DetectorSettings

WEIGHTS = (1.0, 0.7, 0.5, 0.35, 0.25)


def main() -> None:
    settings = DetectorSettings()
    _, others, stars, limit, _ = unseen_fold()
    library = library_of(others, settings)
    print("G bins:", " ".join(f"{lo:g}-{hi:g}" for lo, hi in BINS))
    print(f"{len(library)} library stars; known-continuum EW50 (A):", np.round(limit, 2))
    for weight in WEIGHTS:
        ew50, tail = by_bin(library, stars, replace(settings.local, scatter_weight=weight))
        print(f"w = {weight:g}: EW50 / limit", np.round(ew50 / limit, 3),
              "null 1e-3 quantile", np.round(tail, 2), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
