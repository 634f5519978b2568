#!/usr/bin/env bash
# The 1,000,000-source evaluation through the real chain (about 40 min on 2 cores).
set -euo pipefail
export XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_BOOTSTRAP_SAMPLES=100
exec "$(dirname "$0")/../chain.sh" eval-1m-line-excess-20261122 1000000 11 0.06 0.03
