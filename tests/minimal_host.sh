#!/bin/sh
# The minimal host loads stampvet.so through the ABI, lists its parameters,
# rejects an unknown key and a bad path, and processes an exposure in memory:
# with a model trained here (tiny, from simulated stamps) and, when the
# shipped default model exists, with the default configuration.
set -u
host="$SV_BUILDDIR/pipeline_examples/minimal_host"
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$sv" simulate --survey ztf --stamps 128 --scheme rb --seed 3 -o "$tmp/rb.fits" >/dev/null 2>&1 ||
    fail "simulate"
"$sv" train --data "$tmp/rb.fits" --out "$tmp/m.fits" --arch mini --epochs 1 --quiet \
    >/dev/null 2>&1 || fail "train"

check_run() { # args: key=value...; the exposure's one detection must get a score in [0,1]
    out=$("$host" "$SV_MODULE" "$@" 2>"$tmp/log") || { cat "$tmp/log"; fail "minimal_host $*: $out"; }
    echo "$out" | grep -q "^loaded stampvet " || fail "no descriptor line"
    echo "$out" | grep -q "rb_threshold" || fail "parameter table missing"
    echo "$out" | grep -q "^result: 1 rows" || fail "no result table: $out"
    score=$(echo "$out" | awk '$1 == "drb" {print $2}')  # preset ztf: ZTF's name
    awk -v s="$score" 'BEGIN {exit !(s != "" && s >= 0 && s <= 1)}' || fail "drb score '$score' not in [0,1]"
    echo "ok: $* -> drb $score"
}
check_run threads=1 rb_model="$tmp/m.fits"
check_run threads=2 batch=1 rb_model="$tmp/m.fits"
if [ -f "$STAMPVET_MODELS/braai-d6_m7.fits" ]; then
    check_run
else
    echo "note: no shipped braai-d6_m7.fits in STAMPVET_MODELS: default configuration not run"
fi

if "$host" "$SV_MODULE" no_such_key=1 2>"$tmp/err"; then fail "unknown key accepted"; fi
grep -q "no_such_key" "$tmp/err" || fail "error does not name the key: $(cat "$tmp/err")"
if "$host" /nonexistent/stage.so 2>/dev/null; then fail "bad path accepted"; fi
exit 0
