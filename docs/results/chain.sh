#!/usr/bin/env bash
# An evaluation through the real chain, as `xpha demo` runs it, on its own embedded cluster:
# simulate -> ingest -> truth -> labels -> crossmatch -> train compare.
#
#   docs/results/chain.sh NAME N_SOURCES SEED SDSS_FRACTION LAMOST_FRACTION [train compare options]
#
# Everything (sky files, cluster, models, report) goes to $XPHA_VAR_DIR, by default
# var/results/NAME of the repository; the report to $XPHA_VAR_DIR/report. The cluster listens
# on XPHA_PG_PORT (xpha's default unless set: set a free one when another cluster runs).
# Settings of the run are XPHA_* variables in the environment (see each run.sh).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
name=$1 sources=$2 seed=$3 sdss=$4 lamost=$5
shift 5
export XPHA_VAR_DIR=${XPHA_VAR_DIR:-$PWD/var/results/$name}
xpha=${XPHA:-.venv/bin/xpha}
sky=$XPHA_VAR_DIR/sky
stamp() { date -u +"%F %T"; }
stamp
"$xpha" db start
"$xpha" simulate --out "$sky" --n-sources "$sources" --seed "$seed" \
  --sdss-fraction "$sdss" --lamost-fraction "$lamost" --no-progress
stamp
"$xpha" ingest gaia-xp "$sky/xp_continuous" --jobs 2
"$xpha" ingest gaia-source "$sky/gaia_source" --jobs 2
"$xpha" simulate --out "$sky" --load-truth
stamp
"$xpha" labels measure "$sky/sdss"
"$xpha" labels lamost "$sky/lamost_emitters.csv"
"$xpha" labels crossmatch
"$xpha" labels summary
stamp
"$xpha" train compare --report-dir "$XPHA_VAR_DIR/report" "$@"
stamp
