set -e
export XPHA_VAR_DIR=/tmp/f5-var XPHA_PG_PORT=54420 XPHA_SPLIT_TEST_FRACTION=0.5 XPHA_FEED_PARTITION_ROWS=20000 XPHA_BOOTSTRAP_SAMPLES=100 XPHA_DAE_EPOCHS=5 XPHA_HEAD_EPOCHS=30
X=/work/main/.venv/bin/xpha
S=/tmp/f5-var/sky
date
$X db start
$X simulate --out $S --n-sources 230000 --seed 7 --sdss-fraction 0.06 --lamost-fraction 0.03 --no-progress
date
$X ingest gaia-xp $S/xp_continuous
$X ingest gaia-source $S/gaia_source
$X simulate --out $S --load-truth
$X labels measure $S/sdss
$X labels lamost $S/lamost_emitters.csv
$X labels crossmatch
$X labels summary
date
$X train compare --report-dir /tmp/f5-var/report
date
