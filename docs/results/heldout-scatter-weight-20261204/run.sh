#!/usr/bin/env bash
# The parent-disjoint evaluation with the local continuum's scatter weighted by w = 0.5
# (LocalSettings.scatter_weight), over the three deals of ../heldout-5fold-3seeds-noise-20261204
# (which is the same code with w = 1); then the sweep of w that chose 0.5 on fold 2 of seed 0.
# About 75 + 10 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../../.."
OMP_NUM_THREADS=2 .venv/bin/xpha evaluate heldout --folds 5 --seeds 3 \
  --out var/results/heldout-scatter-3seeds
.venv/bin/python docs/results/heldout-scatter-weight-20261204/scatter_weight.py
