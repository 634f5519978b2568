#!/usr/bin/env bash
# The 230k-source chain after the simulator's SDSS-continuum fix (about 7 min on 2 cores).
set -euo pipefail
export XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_FEED_PARTITION_ROWS=20000 XPHA_BOOTSTRAP_SAMPLES=100
export XPHA_DAE_EPOCHS=${XPHA_DAE_EPOCHS:-5} XPHA_HEAD_EPOCHS=${XPHA_HEAD_EPOCHS:-30}
exec "$(dirname "$0")/../chain.sh" eval-230k-clean-labels-20261122 230000 7 0.06 0.03
