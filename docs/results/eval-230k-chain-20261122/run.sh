#!/usr/bin/env bash
# Run A of the 230k-source chain (before the simulator's SDSS-continuum fix: today's simulator
# gives the cleaner labels of eval-230k-clean-labels-20261122), then the label-ceiling analysis
# and the head variants on run A's encoder. Run B: run_b.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$(git rev-parse --show-toplevel)"
export XPHA_VAR_DIR=${XPHA_VAR_DIR:-$PWD/var/results/eval-230k-chain-20261122}
export XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_FEED_PARTITION_ROWS=20000 XPHA_BOOTSTRAP_SAMPLES=100
XPHA_DAE_EPOCHS=5 "$here/../chain.sh" eval-230k-chain-20261122 230000 7 0.15 0.05 \
  --phase1-dir "$XPHA_VAR_DIR/phase1-a"
python=${PYTHON:-.venv/bin/python}
"$python" "$here/analysis/split_counts.py"
"$python" "$here/analysis/label_ceiling.py" > "$XPHA_VAR_DIR/label_ceiling.json"
XPHA_DASK_LOCAL_WORKERS=1 "$python" "$here/analysis/head_variants.py" "$XPHA_VAR_DIR/phase1-a" \
  "$(cat "$here/analysis/head_variants.json")" > "$XPHA_VAR_DIR/head_variants.jsonl"
"$python" "$here/analysis/recall_by_class.py" "$XPHA_VAR_DIR"/models/dae_unfreeze-* \
  "$XPHA_VAR_DIR"/models/dae_head-* "$XPHA_VAR_DIR"/models/xgboost-* \
  > "$XPHA_VAR_DIR/recall_by_class.jsonl"
