#!/bin/sh
# onnx_rnn.sh — `stampvet import-onnx` on recurrent light-curve classifiers
# exported by Debian's torch (tests/python/onnx_rnn_cases.py), scored with
# `score --tensors` on [N, T, F] cubes and compared with torch's own outputs
# to 1e-5:
#   - a 2-layer GRU and an LSTM with a per-step Linear + Softmax (--all-steps,
#     at the exported length and on a 20-step cube); the LSTM was exported
#     with a free time axis (--steps);
#   - a GRU whose last step y[:, -1] and an LSTM whose h_n[-1] feed the head;
#   - the GRU with linear_before_reset 0 against a numpy ONNX GRU;
#   - negative controls: the GRU with z and r swapped and the LSTM with f and
#     o swapped import but must miss torch by more than 1e-5;
#   - a bidirectional GRU, a nonzero initial state, LSTM clip and peepholes
#     are refused, naming the node and the attribute or input; an operator
#     not supported (LogSoftmax) is named.
# Skips (77) without protobuf-c or python3 with torch, onnx and astropy.
set -u
PY=${SV_PYTHON:-/usr/bin/python3}
SRC=${SV_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BLD=${SV_BUILDDIR:-.}
SV="$BLD/stampvet"
if "$SV" import-onnx --help | grep -q "NOT AVAILABLE"; then
    echo "SKIP: stampvet built without protobuf-c (ONNX import)"
    exit 77
fi
if ! "$PY" -c 'import torch, onnx, astropy' >/dev/null 2>&1; then
    echo "SKIP: $PY lacks torch, onnx or astropy (Debian python3-torch python3-onnx)"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/onnx_rnn.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }
CASES="$SRC/tests/python/onnx_rnn_cases.py"

"$PY" "$CASES" make "$tmp" > "$tmp/cases.log" 2>&1 || { cat "$tmp/cases.log"; fail "cases"; }

# check M REF MODE [import options]: import M, score both cubes (MODE:
# --all-steps for a per-step model, "" for the last step) and compare with
# REF's torch outputs; $expect is "" or --expect-differ
check() {
    m=$1 ref=$2 mode=$3
    shift 3
    "$SV" import-onnx "$tmp/$m.onnx" --task lightcurve --classes a,b,c,d "$@" \
        -o "$tmp/$m.fits" > /dev/null 2> "$tmp/err" || fail "import $m: $(cat "$tmp/err")"
    for cube in "" 20; do
        "$SV" score --model "$tmp/$m.fits" --tensors "$tmp/X$cube.fits" $mode \
            > "$tmp/$m.got$cube.txt" || fail "score $m X$cube.fits"
        "$PY" "$CASES" check "$tmp/$ref.ref$cube.txt" "$tmp/$m.got$cube.txt" $expect ||
            fail "$m on X$cube.fits ${expect:+(a negative control) }"
    done
}
expect=
check gru gru --all-steps
check lstm lstm --all-steps --steps 32
check gru_last gru_last ""
check lstm_hn lstm_hn ""
check gru_lbr0 gru_lbr0 --all-steps
expect=--expect-differ
check gru_swapped gru --all-steps
check lstm_swapped lstm --all-steps --steps 32

# refused, naming the node and what is not supported; no file left
refused() {
    m=$1 what=$2
    if "$SV" import-onnx "$tmp/$m.onnx" --task lightcurve --steps 32 -o "$tmp/r.fits" \
        2> "$tmp/err"; then
        fail "$m was imported"
    fi
    grep -q "$m.onnx: node '[^']*' ([A-Z]*): .*$what" "$tmp/err" ||
        fail "$m message: $(cat "$tmp/err")"
    [ ! -e "$tmp/r.fits" ] || fail "a refused import of $m left a file"
    echo "refused $m: $(cat "$tmp/err")"
}
refused gru_bidir "attribute 'direction' bidirectional"
refused gru_h0 "input 'initial_h' is not zeros"
refused lstm_clip "attribute 'clip'"
refused lstm_peep "input 'P'"
if "$SV" import-onnx "$tmp/gru_logsoftmax.onnx" --task lightcurve -o "$tmp/r.fits" 2> "$tmp/err"; then
    fail "a LogSoftmax was imported"
fi
grep -q "gru_logsoftmax.onnx: operators not supported: LogSoftmax (node" "$tmp/err" ||
    fail "operator message: $(cat "$tmp/err")"
# every operator the importer's table lists (in that message) is in --help
"$SV" import-onnx --help | tr -s ' \n' '  ' > "$tmp/help"
ops=$(sed -n 's/.*; \(.*\) are)$/\1/p' "$tmp/err" | tr -d ',')
[ -n "$ops" ] || fail "no operator list in: $(cat "$tmp/err")"
for op in $ops; do
    grep -q "[ (]$op[ ,;(.]" "$tmp/help" || fail "import-onnx --help does not list $op"
done
echo "PASS: ONNX GRU and LSTM exports of torch agree with torch to 1e-5; swapped gates are caught"
