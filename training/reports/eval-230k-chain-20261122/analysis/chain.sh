#!/bin/bash
# The 230k-source evaluation through the real chain (as `xpha demo` runs it), on a private
# embedded cluster. Wall times measured on the shared 2-core machine are in ../report.md.
set -e
cd "$(git rev-parse --show-toplevel)"
export XPHA_VAR_DIR=/tmp/f1-var XPHA_PG_PORT=54410
X=.venv/bin/xpha
S=/tmp/f1-sky230k
$X db start
$X simulate --out $S --n-sources 230000 --seed 7 --sdss-fraction 0.15 --lamost-fraction 0.05
$X ingest gaia-xp $S/xp_continuous --jobs 2
$X ingest gaia-source $S/gaia_source
$X simulate --out $S --load-truth --seed 7
$X labels measure $S/sdss
$X labels lamost $S/lamost_emitters.csv
$X labels crossmatch
$X labels summary
# run A: every model, default model settings; the split holds >= 100,000 test sources
export XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_FEED_PARTITION_ROWS=20000 XPHA_BOOTSTRAP_SAMPLES=100
XPHA_DAE_EPOCHS=5 $X train compare --report-dir /tmp/f1/rep230k-base --phase1-dir /tmp/f1/p1-230k
# what the labels allow, and head variants on run A's encoder (selection by validation)
.venv/bin/python training/reports/eval-230k-chain-20261122/analysis/label_ceiling.py
XPHA_DASK_LOCAL_WORKERS=1 .venv/bin/python \
  training/reports/eval-230k-chain-20261122/analysis/head_variants.py /tmp/f1/p1-230k \
  "$(cat training/reports/eval-230k-chain-20261122/analysis/head_variants.json)"
# run B: see run_b.sh
