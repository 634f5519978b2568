#!/usr/bin/env bash
# Seen against unseen, and the nearest twin, on the five folds of seed 0 (about 10 minutes each
# on 2 cores: two detector fits and ~650,000 scored copies; scores are cached under
# var/results/heldout-twins/fold<k>/, so a second run only re-analyses), then the summary.
set -euo pipefail
cd "$(dirname "$0")/../../.."
mkdir -p var/results/heldout-twins
for fold in 0 1 2 3 4; do
  OMP_NUM_THREADS=2 .venv/bin/python docs/results/heldout-twins-20261204/twin_distance.py "$fold" \
    | tee "var/results/heldout-twins/fold$fold.log"
done
.venv/bin/python docs/results/heldout-twins-20261204/twin_distance.py summary \
  | tee var/results/heldout-twins/summary.log
