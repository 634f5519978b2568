#!/usr/bin/env bash
# The two diagnoses of the faint-end gap, at commit 062e908 plus local_snr's `select`:
# faint_end.py (fold 2 of seed 0, about 15 min) and network_budget.py (seed 0's five folds with
# two networks side by side, about 40 min; report in var/results/heldout-network-budget/).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OMP_NUM_THREADS=2 .venv/bin/python docs/results/heldout-faint-end-20261204/faint_end.py
OMP_NUM_THREADS=2 .venv/bin/python docs/results/heldout-faint-end-20261204/network_budget.py
