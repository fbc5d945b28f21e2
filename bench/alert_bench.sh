#!/bin/sh
# alert_bench.sh — alert packets per second, packet to row, one thread, on
# the real ZTF and Rubin packets, with the share of decoding and
# preprocessing against the network (bench/alert_bench.c).
#
#   sh bench/alert_bench.sh [BUILDDIR]      (from the source folder)
#
# Model: models/braai-d6_m7.fits when shipped, else braai imported from
# $SV_FIXTURES/braai/d6_m7.h5 (default ../shared/fixtures).  REPEAT (5) and
# BATCH (64) may be set in the environment.
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
FX=${SV_FIXTURES:-$src/../shared/fixtures}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-alert-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
M=$src/models/braai-d6_m7.fits
if [ ! -f "$M" ]; then
    M=$tmp/braai-d6_m7.fits
    "$build/stampvet" import-keras "$FX/braai/d6_m7.h5" --task realbogus --norm l2-rows \
        --pixel-scale 1.01 --name braai-d6_m7 -o "$M" > /dev/null
fi
for s in ztf rubin; do
    echo "== $s: $FX/alert-packets/$s"
    "$build/bench/alert_bench" "$M" --batch "${BATCH:-64}" --repeat "${REPEAT:-5}" \
        "$FX/alert-packets/$s"/*.avro
done
