#!/usr/bin/env bash
# Seen against unseen, and the nearest twin, on folds 0 and 2 of seed 0 (about 10 minutes each
# on 2 cores: two detector fits and ~650,000 scored copies; scores are cached under
# var/results/heldout-twins/fold<k>/, so a second run only re-analyses).
set -euo pipefail
cd "$(dirname "$0")/../../.."
mkdir -p var/results/heldout-twins
for fold in 0 2; do
  OMP_NUM_THREADS=2 .venv/bin/python docs/results/heldout-twins-20261204/twin_distance.py "$fold" \
    | tee "var/results/heldout-twins/fold$fold.log"
done
