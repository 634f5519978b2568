#!/bin/bash
# Run B: phase-1 pretext band+block, 12 epochs; heads with the XP EW, early stopping.
cd "$(git rev-parse --show-toplevel)"
export XPHA_VAR_DIR=/tmp/f1-var XPHA_PG_PORT=54410
export XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_FEED_PARTITION_ROWS=20000 XPHA_BOOTSTRAP_SAMPLES=100
export XPHA_DAE_EPOCHS=12 XPHA_DAE_MASK_MODE=band+block XPHA_HEAD_XP_EW=true XPHA_HEAD_PATIENCE=15
date -u
time .venv/bin/xpha train compare --models dae_head,dae_linear --no-set-current \
  --report-dir /tmp/f1/rep230k-B --phase1-dir /tmp/f1/p1-230k-B
date -u
