#!/bin/sh
# lc_bench.sh — light-curve inference throughput: two GRU(100) layers over
# 50 steps and a softmax head, 2 threads, stampvet (bench/lc_bench) against
# PyTorch (bench/lc_torch.py) and ONNX Runtime (bench/ort_lc.js, on torch's
# ONNX export; installed as bench/peers.sh does, bench/peer_deps.sh) on the
# same network, weights and input, in the same run.  The outputs are checked to agree (1e-4) before timing.  Each side
# is measured ROUNDS times, alternating, and the best of each is compared
# (the machine is shared: the best is the least disturbed measurement).
# PyTorch runs twice per round, with OpenMP's default (active, spinning)
# wait policy and with OMP_WAIT_POLICY=PASSIVE: on a loaded machine the
# spinning threads collapse, so the comparison uses torch's better figure.
#
#
# Then RAPID's published LSTM and TCN models (rapid2020_lstm_ztf_noredshift,
# rapid2021_tcn_ztf_redshift from $SV_FIXTURES/rapid, default
# ../shared/fixtures beside the source tree, imported with stampvet
# import-keras): the light-curve fast path against the reference engine
# (lc_bench --model, light-curve-like input with zero-padded tails), ROUNDS
# rounds alternating, the MEDIAN of each (those lines say so).  Skipped with
# a message without the fixtures or HDF5 import.
#
# usage: bench/lc_bench.sh [BUILDDIR]      (default: $SV_BUILDDIR or .)
# environment: SV_PYTHON (/usr/bin/python3), THREADS (2), BATCH (512),
#              STEPS (50), UNITS (100), FEATURES (10), SECONDS (3), ROUNDS (3),
#              SV_FIXTURES, RAPID_ONLY (1: only the RAPID models section)
# Not a test: the figures depend on the machine and its load.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-${SV_BUILDDIR:-.}}
py=${SV_PYTHON:-/usr/bin/python3}
threads=${THREADS:-2}
batch=${BATCH:-512}
steps=${STEPS:-50}
units=${UNITS:-100}
feat=${FEATURES:-10}
secs=${SECONDS_PER_RUN:-${SECONDS:-3}}
rounds=${ROUNDS:-3}
bin="$build/bench/lc_bench"
[ -x "$bin" ] || { echo "lc_bench.sh: $bin not found: run make in $build first" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv_lc_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
args="--threads $threads --batch $batch --steps $steps --units $units --features $feat"

median() { sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2];
                                              else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

rapid_models() {
    fx=${SV_FIXTURES:-$here/../../shared/fixtures}
    if [ ! -r "$fx/rapid/rapid2020_lstm_ztf_noredshift.hdf5" ]; then
        echo "lc_bench.sh: no RAPID fixtures at $fx/rapid: no LSTM / TCN figures"
        return 0
    fi
    for m in rapid2020_lstm_ztf_noredshift rapid2021_tcn_ztf_redshift; do
        if ! STAMPVET_MODELS=$here/../models "$build/stampvet" import-keras "$fx/rapid/$m.hdf5" \
            --task lightcurve -o "$tmp/$m.fits" > "$tmp/import.out" 2>&1; then
            cat "$tmp/import.out" >&2
            echo "lc_bench.sh: $m did not import (HDF5?): no figures for it"
            continue
        fi
        : > "$tmp/fast.v"
        : > "$tmp/ref.v"
        r=1
        while [ $r -le "$rounds" ]; do
            for e in fast reference; do
                v=$("$bin" --model "$tmp/$m.fits" --engine $e --threads "$threads" \
                    --batch "$batch" --seconds "$secs" | awk '/^lc_seq_per_s/ {print $2}')
                echo "round $r $m $e: $v sequences/s"
                if [ $e = fast ]; then echo "$v" >> "$tmp/fast.v"; else echo "$v" >> "$tmp/ref.v"; fi
            done
            r=$((r + 1))
        done
        f=$(median < "$tmp/fast.v")
        g=$(median < "$tmp/ref.v")
        echo "$m: batch $batch, $threads threads, median of $rounds rounds"
        echo "${m}_fast_seq_per_s $f"
        echo "${m}_reference_seq_per_s $g"
        awk -v a="$f" -v b="$g" 'BEGIN {printf "ratio fast / reference %.2f\n", a / b}'
    done
}
if [ "${RAPID_ONLY:-0}" = 1 ]; then
    rapid_models
    exit 0
fi
"$bin" $args --seconds 0.2 --dump "$tmp/net" > /dev/null
have_torch=1
"$py" "$here/lc_torch.py" $args --seconds 0.2 --dump "$tmp/net" > "$tmp/check.out" 2>&1 \
    || have_torch=0
have_ort=0
if [ $have_torch = 1 ]; then
    grep 'max |torch' "$tmp/check.out"
    PY=$py
    . "$here/peer_deps.sh"
    if "$py" "$here/lc_torch.py" $args --dump "$tmp/net" --onnx "$tmp/net.onnx" > /dev/null 2>&1 &&
        node "$here/ort_lc.js" "$tmp/net.onnx" "$tmp/net" "$threads" "$batch" "$steps" "$feat" 0.2 \
            > "$tmp/ort.out" 2>&1; then
        have_ort=1
        grep 'max |ort' "$tmp/ort.out"
    else
        cat "$tmp/ort.out" >&2 2>/dev/null || true
        echo "lc_bench.sh: ONNX Runtime did not run: no ORT figures" >&2
    fi
else
    cat "$tmp/check.out" >&2
    echo "lc_bench.sh: torch is not usable with $py: stampvet figures only" >&2
fi
best_sv=0
best_t=0
best_o=0
r=1
while [ $r -le "$rounds" ]; do
    o=$("$bin" $args --seconds "$secs")
    v=$(echo "$o" | awk '/^lc_seq_per_s/ {print $2}')
    echo "round $r stampvet: $v sequences/s"
    best_sv=$(awk -v a="$best_sv" -v b="$v" 'BEGIN {print (b > a) ? b : a}')
    if [ $have_torch = 1 ]; then
        for pol in default PASSIVE; do
            if [ $pol = default ]; then
                o=$("$py" "$here/lc_torch.py" $args --seconds "$secs")
            else
                o=$(OMP_WAIT_POLICY=PASSIVE "$py" "$here/lc_torch.py" $args --seconds "$secs")
            fi
            v=$(echo "$o" | awk '/^torch_seq_per_s/ {print $2}')
            echo "round $r torch ($pol OpenMP wait): $v sequences/s"
            best_t=$(awk -v a="$best_t" -v b="$v" 'BEGIN {print (b > a) ? b : a}')
        done
    fi
    if [ $have_ort = 1 ]; then
        v=$(node "$here/ort_lc.js" "$tmp/net.onnx" "$tmp/net" "$threads" "$batch" "$steps" "$feat" "$secs" |
            awk '/^ort_seq_per_s/ {print $2}')
        echo "round $r ONNX Runtime: $v sequences/s"
        best_o=$(awk -v a="$best_o" -v b="$v" 'BEGIN {print (b > a) ? b : a}')
    fi
    r=$((r + 1))
done
echo
echo "network: 2 x GRU($units) over $steps steps of $feat features, softmax head; batch $batch, $threads threads"
echo "stampvet_seq_per_s $best_sv"
if [ $have_torch = 1 ]; then
    echo "torch_seq_per_s $best_t"
    awk -v a="$best_sv" -v b="$best_t" 'BEGIN {printf "ratio %.2f (goal >= 2)\n", a / b}'
fi
if [ $have_ort = 1 ]; then
    echo "ort_seq_per_s $best_o (onnxruntime-node $ortver)"
    awk -v a="$best_sv" -v b="$best_o" 'BEGIN {printf "ratio to ORT %.2f\n", a / b}'
fi
echo
rapid_models
