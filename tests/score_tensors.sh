#!/bin/sh
# score_tensors.sh — `stampvet score --tensors` on RAPID's published models
# (../shared/fixtures/rapid): prepared [N, T, F] cubes as numpy/astropy write
# them, the last unpadded step and --all-steps printed and written as CSV and
# FITS tables, against the independent numpy reference of
# tests/python/rapid_ref.py to 1e-5; a 30-step cube (the time axis is free);
# a cube with the wrong feature count and one with a NaN are errors that say
# so.  Skips (77) without the fixtures, HDF5 import or python3 with numpy,
# astropy and h5py.
set -u
PY=${SV_PYTHON:-/usr/bin/python3}
SRC=${SV_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BLD=${SV_BUILDDIR:-.}
FX=${SV_FIXTURES:-$SRC/../shared/fixtures}
SV="$BLD/stampvet"
if [ ! -r "$FX/rapid/rapid2021_tcn_ztf_redshift.hdf5" ]; then
    echo "SKIP: no RAPID fixtures at $FX/rapid"
    exit 77
fi
if ! "$PY" -c 'import numpy, astropy, h5py' >/dev/null 2>&1; then
    echo "SKIP: $PY lacks numpy, astropy or h5py"
    exit 77
fi
if "$SV" import-keras --help | grep -q "NOT AVAILABLE"; then
    echo "SKIP: stampvet built without HDF5 (Keras import)"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/score_tensors.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

"$PY" "$SRC/tests/python/rapid_ref.py" "$FX/rapid" "$tmp" || fail "rapid_ref.py"
for m in rapid2019_gru_redshift rapid2020_lstm_ztf_noredshift rapid2021_tcn_ztf_redshift; do
    "$SV" import-keras "$FX/rapid/$m.hdf5" --task lightcurve -o "$tmp/$m.fits" >/dev/null ||
        fail "import $m"
    "$PY" "$SRC/tests/python/tensors_check.py" make "$tmp" "$m" || fail "tensors for $m"
    M="$tmp/$m.fits"
    "$SV" score --model "$M" --tensors "$tmp/$m.X.fits" > "$tmp/$m.last.txt" || fail "score $m"
    "$SV" score --model "$M" --tensors "$tmp/$m.X.fits" --all-steps > "$tmp/$m.all.txt" ||
        fail "score --all-steps $m"
    "$SV" score --model "$M" --tensors "$tmp/$m.X.fits" -o "$tmp/$m.last.csv" || fail "-o csv"
    "$SV" score --model "$M" --tensors "$tmp/$m.X.fits" --all-steps -o "$tmp/$m.all.fits" ||
        fail "-o fits"
    "$SV" score --model "$M" --tensors "$tmp/$m.X30.fits" --all-steps > "$tmp/$m.x30.txt" ||
        fail "score 30 steps $m"
    "$PY" "$SRC/tests/python/tensors_check.py" check "$tmp" "$m" || fail "$m differs"
done
m=rapid2021_tcn_ztf_redshift
M="$tmp/$m.fits"
if "$SV" score --model "$M" --tensors "$tmp/$m.badF.fits" > /dev/null 2> "$tmp/err"; then
    fail "a cube of 4 features was scored by a 3-feature model"
fi
grep -q "badF.fits: 4 features per step" "$tmp/err" || fail "wrong-feature message: $(cat "$tmp/err")"
"$SV" score --model "$M" --tensors "$tmp/$m.nan.fits" > "$tmp/nan.txt" 2> "$tmp/err"
[ $? -eq 1 ] || fail "a NaN sample must give exit status 1"
grep -q "sample 1 holds NaN" "$tmp/err" || fail "NaN message: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/nan.txt")" -eq 6 ] || fail "every sample must be printed"
grep -q "^1 class0=nan" "$tmp/nan.txt" || fail "the NaN sample must print nan"
grep -q "^0 class0=0" "$tmp/nan.txt" || fail "the other samples are scored"
echo "PASS: score --tensors agrees with numpy for the GRU, LSTM and TCN models"
