#!/bin/sh
# stage_bench_keeps_model.sh — bench/stage_bench removes the scratch files
# it made, never the default model it found (it once deleted the shipped
# models/braai-d6_m7.fits, and would have deleted an installed one).
set -u
builddir=${SV_BUILDDIR:-.}
srcdir=${SV_SRCDIR:-.}
bench="$builddir/bench/stage_bench"
[ -x "$bench" ] || { echo "SKIP: $bench not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv_bench_model.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/models"
cp "$srcdir/models/braai-d6_m7.fits" "$tmp/models/" || exit 1
STAMPVET_MODELS="$tmp/models" OPENBLAS_NUM_THREADS=1 \
    "$bench" --size 256 --detections 20 --threads 1 > "$tmp/out" 2>&1 ||
    { cat "$tmp/out"; echo "FAIL: stage_bench failed"; exit 1; }
grep -q "braai-d6_m7.fits" "$tmp/out" || { cat "$tmp/out"; echo "FAIL: default model not used"; exit 1; }
cmp -s "$srcdir/models/braai-d6_m7.fits" "$tmp/models/braai-d6_m7.fits" ||
    { echo "FAIL: stage_bench removed or changed the default model it found"; exit 1; }
echo "stage_bench used the default model and left it in place"
