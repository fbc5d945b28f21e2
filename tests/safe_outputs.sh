#!/bin/sh
# Outputs never replace inputs, masked detections are never REAL (issue 11,
# items 1 and 2), through `stampvet run` and the batch:
#  - -o naming the science image, the detection table through a symbolic
#    link, the difference image through a hard link, or a model: refused
#    (the command line's check, cli_opts.h: exit 2, the option and the input
#    named; the stage's own check, for a host, is in test_stage), every
#    input byte-identical afterwards;
#  - an existing output: refused without --overwrite, replaced with it;
#  - a batch manifest whose output is an input: that exposure fails, the
#    input is untouched, the others complete;
#  - a simulated exposure with a mask: the detections whose own pixel is
#    masked (all bogus) are flagged MASKED, some score >= the threshold once
#    their masked pixels are holes (that is the defect), and none is REAL;
#    with veto_flags=0 the old behaviour comes back (the test can fail);
#  - the 1.01"/pixel ZTF model on 0.33"/pixel ILMT images: one warning that
#    offers resample = true, PSCALWRN in the header; none with resample, none
#    on ZTF images (item 4);
#  - `stampvet clean DIR` removes only stale pattern files (item 7).
set -u
sv="$SV_BUILDDIR/stampvet"
py=${SV_PYTHON:-python3}
tmp=$(mktemp -d /tmp/sv_safe.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*"; exit 1; }
run() { "$@" || fail "$*"; }
refused() { # needle, command...
    needle=$1
    shift
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    st=$?
    [ $st -ne 0 ] || fail "status 0 (wanted a refusal): $*"
    grep -q -- "$needle" "$tmp/stderr" || { cat "$tmp/stderr"; fail "stderr lacks '$needle'"; }
}

run "$sv" simulate --exposure --size 1024 --detections 300 --mask --seed 1 -q -o "$tmp/z"
model=""
if [ ! -f "$SV_SRCDIR/models/rb-ztf.fits" ]; then
    run "$sv" simulate --stamps 200 --scheme rb --seed 3 -q -o "$tmp/train.fits"
    run "$sv" train --data "$tmp/train.fits" --arch mini --epochs 2 --quiet \
        --out "$tmp/rb.fits" >/dev/null
    model="--set rb_model=$tmp/rb.fits"
fi
mkdir "$tmp/keep"
cp "$tmp"/z_*.fits "$tmp/keep/"
in="--sci $tmp/z_sci.fits --ref $tmp/z_ref.fits --diff $tmp/z_diff.fits --detections $tmp/z_det.fits"
intact() {
    for f in sci ref diff det mask; do
        cmp -s "$tmp/z_$f.fits" "$tmp/keep/z_$f.fits" || fail "input z_$f.fits was changed"
    done
}

echo "== 1. an output that is an input"
refused "is the file of --sci" "$sv" run $model $in -o "$tmp/z_sci.fits"
refused "is the file of --sci" "$sv" run $model $in -o "$tmp/z_sci.fits" --overwrite
refused "is the file of --mask" "$sv" run $model $in --mask "$tmp/z_mask.fits" -o "$tmp/./z_mask.fits"
ln -s "$tmp/z_det.fits" "$tmp/link.fits"
refused "is the file of --detections" "$sv" run $model $in -o "$tmp/link.fits" --overwrite
ln "$tmp/z_diff.fits" "$tmp/hard.fits"
refused "is the file of --diff" "$sv" run $model $in -o "$tmp/hard.fits" --overwrite
mkdir "$tmp/sub"
refused "is the file of --ref" "$sv" run $model $in -o "$tmp/sub/../z_ref.fits" --overwrite
intact
ls -a "$tmp" | grep -q svtmp && fail "a temporary file was left behind"

echo "== 2. an existing output"
run "$sv" run $model $in -q -o "$tmp/a.fits"
refused "a.fits exists" "$sv" run $model $in -q -o "$tmp/a.fits"
"$sv" run --help | grep -q -- "--overwrite" || fail "--help does not document --overwrite"
touch -d '2000-01-01' "$tmp/a.fits"
run "$sv" run $model $in -q -o "$tmp/a.fits" --overwrite
[ -n "$(find "$tmp/a.fits" -newer "$tmp/keep/z_sci.fits")" ] || fail "--overwrite did not replace"

echo "== 3. the batch"
mkdir "$tmp/out"
# temporary files (atomic_file.h) of a killed writer on this host, of a
# live one, of another host, and a file that only looks like one
host=$(hostname | tr -c 'A-Za-z0-9_\n' '_' | cut -c1-32)
dead=$(sh -c 'echo $$')
touch "$tmp/out/.svtmp-$host-$dead-0.ok.fits" "$tmp/out/.svtmp-$host-$$-1.ok.fits" \
    "$tmp/out/.svtmp-${host}x-$dead-2.ok.fits" "$tmp/out/.ok.fits.tmp123"
{
    echo "z_sci.fits z_ref.fits z_diff.fits z_det.fits out/ok.fits"
    echo "z_sci.fits z_ref.fits z_diff.fits z_det.fits z_det.fits"
} >"$tmp/night.txt"
"$sv" batch "$tmp/night.txt" $model --summary "$tmp/s.csv" --progress none --verbose \
    >"$tmp/log" 2>&1
[ $? -eq 1 ] || { cat "$tmp/log"; fail "the batch did not report the failed exposure"; }
grep -q "is the detection table" "$tmp/s.csv" || { cat "$tmp/s.csv"; fail "no reason in the summary"; }
[ -f "$tmp/out/ok.fits" ] || fail "the good exposure was not done"
intact
[ ! -e "$tmp/out/.svtmp-$host-$dead-0.ok.fits" ] || fail "the batch left a stale temporary file"
grep -q "removed the stale temporary file" "$tmp/log" || fail "the removal was not logged"
for f in ".svtmp-$host-$$-1.ok.fits" ".svtmp-${host}x-$dead-2.ok.fits" ".ok.fits.tmp123"; do
    [ -e "$tmp/out/$f" ] || fail "the batch removed $f"
done

echo "== 4. masked detections"
run "$sv" run $model $in -q -o "$tmp/nomask.fits"
run "$sv" run $model $in -q --mask "$tmp/z_mask.fits" -o "$tmp/mask.fits"
run "$sv" run $model $in -q --mask "$tmp/z_mask.fits" --set veto_flags=0 -o "$tmp/noveto.fits"
"$py" - "$tmp" <<'PY' || fail "masked detections"
import sys
import numpy as np
from astropy.io import fits
d = sys.argv[1]
nm = fits.getdata(d + "/nomask.fits", 1)
m = fits.getdata(d + "/mask.fits", 1)
nv = fits.getdata(d + "/noveto.fits", 1)
h = fits.getheader(d + "/mask.fits", 1)
own = (m["FLAGS"] & 4) != 0
thr = h["RBTHRESH"]
print("masked centres %d (truth classes %s); median rb %.3f without the mask, %.3f with; "
      "REAL: %d with the mask, %d with veto_flags=0"
      % (own.sum(), sorted(set(m["TRUECLS"][own])), np.median(nm["drb"][own]),
         np.median(m["drb"][own]), m["REAL"][own].sum(), nv["REAL"][own].sum()))
assert own.sum() >= 20, "too few masked detections to test"
assert (m["drb"][own] >= thr).any(), "no masked detection scores high: the test cannot fail"
assert m["REAL"][own].sum() == 0, "a detection on a masked pixel is REAL"
assert nv["REAL"][own].sum() > 0, "veto_flags=0 should give the raw labels back"
assert h["VETOFLAG"] == 68 and h["FLAG4"] == "MASKED" and h["FLAG64"] == "BADCENTRE"
# elsewhere nothing changes
assert (m["REAL"][~own] == nv["REAL"][~own]).all()
PY

echo "== 5. pixel scale"
if [ -n "$model" ]; then
    echo "no shipped rb-ztf model: pixel-scale check skipped"
else
    run "$sv" simulate --exposure --survey ilmt --size 256 --detections 10 --seed 2 -q -o "$tmp/i"
    iin="--sci $tmp/i_sci.fits --ref $tmp/i_ref.fits --diff $tmp/i_diff.fits --detections $tmp/i_det.fits"
    run "$sv" run $iin -q -o "$tmp/i_out.fits" 2>"$tmp/err"
    [ "$(grep -c 'PIXSCALE' "$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "not one scale warning"; }
    grep -q "resample=true" "$tmp/err" || fail "the warning does not offer resample"
    run "$sv" run $iin -q --set resample=true -o "$tmp/i_rs.fits" 2>"$tmp/err2"
    ! grep -q PIXSCALE "$tmp/err2" || fail "a scale warning with resample = true"
    run "$sv" run $in -q -o "$tmp/z_out.fits" 2>"$tmp/err3"
    ! grep -q PIXSCALE "$tmp/err3" || fail "a scale warning on ZTF images"
    "$py" - "$tmp" <<'PY' || fail "scale cards"
import sys
from astropy.io import fits
d = sys.argv[1]
h = fits.getheader(d + "/i_out.fits", 1)
assert h["PSCALWRN"] is True and abs(h["PSCALRAT"] - 0.33 / 1.01) < 0.02, repr(h)
assert "PSCALWRN" not in fits.getheader(d + "/i_rs.fits", 1)
assert "PSCALWRN" not in fits.getheader(d + "/z_out.fits", 1)
PY
fi

echo "== 6. stampvet clean"
mkdir "$tmp/c"
touch "$tmp/c/.svtmp-$host-$dead-0.a.fits" "$tmp/c/.svtmp-$host-$$-1.b.fits" \
    "$tmp/c/.svtmp-${host}x-$dead-2.c.fits" "$tmp/c/.c.fits.tmp123" "$tmp/c/d.fits"
touch -d '3 hours ago' "$tmp/c/.svtmp-${host}x-$dead-2.c.fits" "$tmp/c/.c.fits.tmp123"
run "$sv" clean -n "$tmp/c" >"$tmp/clean.txt" 2>&1
[ -e "$tmp/c/.svtmp-$host-$dead-0.a.fits" ] || fail "clean -n removed a file"
grep -q "would remove.*a.fits" "$tmp/clean.txt" || fail "clean -n did not list the stale file"
run "$sv" clean "$tmp/c" >/dev/null 2>&1
[ "$(ls -A "$tmp/c" | wc -l)" -eq 4 ] || { ls -A "$tmp/c"; fail "clean removed other than the stale file"; }
run "$sv" clean --older-than 3600 "$tmp/c" >/dev/null 2>&1
[ "$(ls -A "$tmp/c" | sort | tr '\n' ' ')" = ".c.fits.tmp123 .svtmp-$host-$$-1.b.fits d.fits " ] ||
    { ls -A "$tmp/c"; fail "clean --older-than"; }
"$sv" clean "$tmp/nonexistent" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q nonexistent "$tmp/err" || fail "clean of a missing folder"
exit 0
