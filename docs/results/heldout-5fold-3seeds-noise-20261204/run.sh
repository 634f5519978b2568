#!/usr/bin/env bash
# The parent-disjoint evaluation with the fitted XP error model, over three deals of the
# parents, as it was run: seed 0's five folds (`xpha evaluate heldout`), then seeds 1 and 2
# (the same code with HeldOutPlan(seeds=(1, 2))). Each fold is deterministic, so the folds
# equal those of one `--seeds 3` run; only the parent-bootstrap intervals pool differently.
# About 20 + 45 min on 2 cores with one torch thread; then library_size.py (about 10 min).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OMP_NUM_THREADS=1 .venv/bin/xpha evaluate heldout --folds 5 --seeds 1 \
  --out var/results/heldout-noise-seed0
OMP_NUM_THREADS=1 .venv/bin/python -c '
from pathlib import Path
from training.heldout import HeldOutPlan, run
run(HeldOutPlan(folds=5, seeds=(1, 2)), Path("var/results/heldout-noise-seeds12"))'
OMP_NUM_THREADS=1 .venv/bin/python docs/results/heldout-5fold-3seeds-noise-20261204/library_size.py
