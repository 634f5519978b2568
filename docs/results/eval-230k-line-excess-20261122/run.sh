#!/usr/bin/env bash
# Models with the learned-continuum H-alpha excess on the sky, labels and split of
# eval-230k-clean-labels-20261122: run that one first (its database is reused), then this.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
export XPHA_VAR_DIR=${XPHA_VAR_DIR:-$PWD/var/results/eval-230k-clean-labels-20261122}
export XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_FEED_PARTITION_ROWS=20000 XPHA_BOOTSTRAP_SAMPLES=100
xpha=${XPHA:-.venv/bin/xpha}
"$xpha" db start
"$xpha" train compare --report-dir "$XPHA_VAR_DIR/report-line-excess"
