#!/bin/sh
# onnx_import.sh — `stampvet import-onnx` on models exported by Debian's
# torch (tests/python/onnx_cases.py):
#   - ZTF's braai d6_m7 (its real weights, as bench/export_onnx.py builds the
#     network in torch) reproduces ZTF's drb on the real fixture alerts and
#     the Keras import's scores, to 1e-5;
#   - a two-input model (stamp + features: Conv, BatchNorm, MaxPool, Flatten,
#     Gemm, Concat, Softmax) matches torch's own outputs to 1e-5;
#   - a dilated Conv is refused, naming the attribute (GRU / LSTM exports:
#     tests/onnx_rnn.sh).
# Skips (77) without protobuf-c, the fixtures, or python3 with torch, onnx,
# h5py and astropy.
set -u
PY=${SV_PYTHON:-/usr/bin/python3}
SRC=${SV_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BLD=${SV_BUILDDIR:-.}
FX=${SV_FIXTURES:-}
SV="$BLD/stampvet"
if "$SV" import-onnx --help | grep -q "NOT AVAILABLE"; then
    echo "SKIP: stampvet built without protobuf-c (ONNX import)"
    exit 77
fi
if [ -z "$FX" ] || [ ! -f "$FX/braai/d6_m7.h5" ] || [ ! -f "$FX/ztf-alerts/alerts.csv" ]; then
    echo "SKIP: braai / ztf-alerts fixtures not found (SV_FIXTURES='$FX')"
    exit 77
fi
if ! "$PY" -c 'import torch, onnx, h5py, astropy' >/dev/null 2>&1; then
    echo "SKIP: $PY lacks torch, onnx, h5py or astropy (Debian python3-torch python3-onnx)"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/onnx_import.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

"$PY" "$SRC/tests/python/onnx_cases.py" "$FX" "$tmp" > "$tmp/cases.log" 2>&1 ||
    { cat "$tmp/cases.log"; fail "onnx_cases.py"; }

# braai: ONNX and Keras imports of d6_m7 on the real alerts
A="$FX/ztf-alerts"
awk -F, -v d="$A" 'NR > 1 && $1 != "" { printf "%s %s/%s_sci.fits.gz %s/%s_ref.fits.gz %s/%s_diff.fits.gz\n", $1, d, $1, d, $1, d, $1 }' \
    "$A/alerts.csv" > "$tmp/list.txt"
"$SV" import-onnx "$tmp/braai.onnx" --task realbogus --norm l2-rows --pixel-scale 1.01 \
    -o "$tmp/braai_onnx.fits" > /dev/null || fail "import-onnx braai.onnx"
"$SV" score --model "$tmp/braai_onnx.fits" --list "$tmp/list.txt" > "$tmp/onnx.txt" ||
    fail "score with the ONNX import"
if "$SV" import-keras --help | grep -q "NOT AVAILABLE"; then
    "$PY" "$SRC/tests/python/onnx_check.py" drb "$A/alerts.csv" "$tmp/onnx.txt" || fail "drb"
else
    "$SV" import-keras "$FX/braai/d6_m7.h5" --task realbogus --norm l2-rows --pixel-scale 1.01 \
        -o "$tmp/braai_keras.fits" > /dev/null || fail "import-keras d6_m7.h5"
    "$SV" score --model "$tmp/braai_keras.fits" --list "$tmp/list.txt" > "$tmp/keras.txt" ||
        fail "score with the Keras import"
    "$PY" "$SRC/tests/python/onnx_check.py" drb "$A/alerts.csv" "$tmp/onnx.txt" "$tmp/keras.txt" ||
        fail "the ONNX braai does not reproduce drb"
fi

# a two-input model against torch
"$SV" import-onnx "$tmp/two.onnx" --task class --classes a,b,c --features f1,f2,f3,f4 \
    --norm none -o "$tmp/two.fits" > /dev/null || fail "import-onnx two.onnx"
"$SV" score --model "$tmp/two.fits" --list "$tmp/two/list.txt" \
    --features-table "$tmp/two/features.csv" > "$tmp/two.txt" || fail "score two-input"
"$PY" "$SRC/tests/python/onnx_check.py" torch "$tmp/two.torch.txt" "$tmp/two.txt" ||
    fail "the two-input model differs from torch"

# refused by name
if "$SV" import-onnx "$tmp/dilated.onnx" --task class --features f1,f2,f3,f4 -o "$tmp/d.fits" \
    2> "$tmp/err"; then
    fail "a dilated Conv was imported"
fi
grep -q "(Conv): dilations other than 1" "$tmp/err" || fail "dilation message: $(cat "$tmp/err")"
echo "PASS: ONNX imports of braai (drb) and a two-input model (torch) agree to 1e-5"
