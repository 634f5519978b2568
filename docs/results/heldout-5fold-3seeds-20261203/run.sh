#!/usr/bin/env bash
# The parent-disjoint evaluation of the line detectors over three deals of the parents into
# folds (seeds 0, 1, 2): 15 folds, 3,000,000 line-free copies of unseen parents (about 80 min
# on 2 cores with one torch thread).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OMP_NUM_THREADS=1 exec .venv/bin/xpha evaluate heldout --folds 5 --seeds 3 \
  --out var/results/heldout-5fold-3seeds
