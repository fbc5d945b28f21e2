#!/bin/sh
# onnx_bench.sh — ZTF's braai d6_m7 imported twice, from its Keras file and
# from an ONNX export of the same weights by Debian's torch
# (tests/python/onnx_cases.py), benchmarked in the same run through the
# fast path (`stampvet bench`, nn_plan: a model it cannot plan is an error,
# not a slower fallback).  Prints stamps/s per (threads, batch) for both
# imports, each the median over ROUNDS rounds of `stampvet bench`'s own
# median of RUNS runs, the rounds alternating which import runs first, and
# the ONNX/Keras ratio.
#
#   sh bench/onnx_bench.sh [BUILDDIR]      (from the source folder)
#
# environment: SV_FIXTURES (../shared/fixtures), SV_PYTHON (/usr/bin/python3),
#   THREADS (1), BATCH (16,256), RUNS (5), SECONDS (0.5), ROUNDS (3)
# Not a test: the figures depend on the machine and its load.
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
FX=${SV_FIXTURES:-$src/../shared/fixtures}
PY=${SV_PYTHON:-/usr/bin/python3}
sv=$build/stampvet
[ -f "$FX/braai/d6_m7.h5" ] || { echo "onnx_bench.sh: no $FX/braai/d6_m7.h5" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-onnx-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$PY" "$src/tests/python/onnx_cases.py" "$FX" "$tmp" > "$tmp/cases.log" 2>&1 ||
    { cat "$tmp/cases.log" >&2; exit 1; }
common="--task realbogus --norm l2-rows --pixel-scale 1.01"
"$sv" import-keras "$FX/braai/d6_m7.h5" $common --name keras -o "$tmp/keras.fits" |
    sed -n 's/^  network */keras import: /p'
"$sv" import-onnx "$tmp/braai.onnx" $common --name onnx -o "$tmp/onnx.fits" |
    sed -n 's/^  network */onnx import:  /p'
args="--no-braai --no-models --threads ${THREADS:-1} --batch ${BATCH:-16,256} --runs ${RUNS:-5}"
args="$args --seconds ${SECONDS:-0.5} --tsv"
r=1
while [ "$r" -le "${ROUNDS:-3}" ]; do
    if [ $((r % 2)) = 1 ]; then order="keras onnx"; else order="onnx keras"; fi
    set --
    for m in $order; do set -- "$@" --model "$tmp/$m.fits"; done
    "$sv" bench $args "$@" | sed -n "s/^stampvet /round=$r /p" >> "$tmp/runs.tsv"
    echo "round $r ($order): done" >&2
    r=$((r + 1))
done
printf "%-8s %-6s %-7s %12s %12s %8s   (stamps/s; per round)\n" threads batch isa keras onnx \
    ratio
awk '
function med(k,   n, i, j, t, a) {
    n = split(v[k], a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
        t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    sub(/\.fits$/, "", f["net"])
    k = f["threads"] SUBSEP f["batch"]; keys[k] = 1; isa[k] = f["isa"]
    v[k SUBSEP f["net"]] = v[k SUBSEP f["net"]] " " f["stamps_per_s"]
    all[k SUBSEP f["net"]] = all[k SUBSEP f["net"]] " " int(f["stamps_per_s"])
}
END {
    for (k in keys) {
        split(k, tb, SUBSEP)
        a = med(k SUBSEP "keras"); b = med(k SUBSEP "onnx")
        printf "%-8s %-6s %-7s %12.0f %12.0f %8.3f   keras:%s onnx:%s\n", tb[1], tb[2], isa[k],
               a, b, b / a, all[k SUBSEP "keras"], all[k SUBSEP "onnx"]
    }
}' "$tmp/runs.tsv" | sort -n -k1 -k2
