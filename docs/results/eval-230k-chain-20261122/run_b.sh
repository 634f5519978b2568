#!/usr/bin/env bash
# Run B on run A's database (run.sh first): phase-1 pretext band+block, 12 epochs; heads with
# the XP EW, early stopping.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
export XPHA_VAR_DIR=${XPHA_VAR_DIR:-$PWD/var/results/eval-230k-chain-20261122}
export XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_FEED_PARTITION_ROWS=20000 XPHA_BOOTSTRAP_SAMPLES=100
export XPHA_DAE_EPOCHS=12 XPHA_DAE_MASK_MODE=band+block XPHA_HEAD_XP_EW=true XPHA_HEAD_PATIENCE=15
xpha=${XPHA:-.venv/bin/xpha}
"$xpha" db start
"$xpha" train compare --models dae_head,dae_linear --no-set-current \
  --report-dir "$XPHA_VAR_DIR/report-b" --phase1-dir "$XPHA_VAR_DIR/phase1-b"
