# The 1,000,000-source evaluation through the real chain (run from the repository root).
set -e
export XPHA_VAR_DIR=/tmp/g1-var XPHA_PG_PORT=54430 XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_BOOTSTRAP_SAMPLES=100
X=.venv/bin/xpha
S=$XPHA_VAR_DIR/sky
date
$X db start
$X simulate --out $S --n-sources 1000000 --seed 11 --sdss-fraction 0.06 --lamost-fraction 0.03 --no-progress
date
$X ingest gaia-xp $S/xp_continuous --jobs 2
$X ingest gaia-source $S/gaia_source --jobs 2
$X simulate --out $S --load-truth
date
$X labels measure $S/sdss
$X labels lamost $S/lamost_emitters.csv
$X labels crossmatch
$X labels summary
date
$X train compare --report-dir training/reports/eval-1m-line-excess-20261122
date
