#!/usr/bin/env bash
# The parent-disjoint evaluation of the line detectors with copies whose XP errors grow as real
# stars' do (calibration floor + photon + background): 5 folds of real parents, 1,000,000
# line-free copies of unseen parents (about 25 min on 2 cores with one torch thread).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OMP_NUM_THREADS=1 exec .venv/bin/xpha evaluate heldout --folds 5 --seeds 1 \
  --out var/results/heldout-5fold-noise
