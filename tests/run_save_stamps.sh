#!/bin/sh
# run_save_stamps.sh — `stampvet run` warns in its log when save_stamps
# will write more than 200 MB of stamps (rows x 3 x S x S x 4 bytes), says
# nothing below, and pipeline_examples/ztf.conf says what a ZTF exposure
# costs.  The big case writes nothing: its output folder does not exist, so
# the run fails after the warning (exit 1).
set -u
sv="$SV_BUILDDIR/stampvet"
src=${SV_SRCDIR:-.}
tmp=$(mktemp -d /tmp/sv_run_stamps.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$sv" simulate --exposure --size 256 --detections 5000 -q -o "$tmp/many" >/dev/null ||
    fail "simulate"
in="--sci $tmp/many_sci.fits --ref $tmp/many_ref.fits --diff $tmp/many_diff.fits --detections $tmp/many_det.fits"
# 5000 x 3 x 63 x 63 x 4 = 238140000 bytes > 200 MB
"$sv" run --set save_stamps=extension $in -o "$tmp/nodir/out.fits" >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq 1 ] || fail "status $st (wanted 1: no output folder)"
grep -q "^stampvet run: warning: save_stamps = extension: $tmp/nodir/out.fits gets about 238 MB of stamps (5000 detections x 3 x 63 x 63 x 4 bytes)" "$tmp/err" ||
    { cat "$tmp/err"; fail "no stamp-size warning"; }
[ "$(grep -c '^stampvet run: ' "$tmp/err")" -eq 2 ] || { cat "$tmp/err"; fail "warning not once"; }
# the same table without save_stamps, and with it but small: no warning
"$sv" run --set save_stamps=none $in -o "$tmp/nodir/out.fits" >/dev/null 2>"$tmp/err"
! grep -q "MB of stamps" "$tmp/err" || fail "warning without save_stamps"
"$sv" simulate --exposure --size 256 --detections 40 -q -o "$tmp/few" >/dev/null || fail "simulate"
"$sv" run --set save_stamps=columns --sci "$tmp/few_sci.fits" --ref "$tmp/few_ref.fits" \
    --diff "$tmp/few_diff.fits" --detections "$tmp/few_det.fits" -o "$tmp/few.fits" \
    >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "small run"; }
! grep -q "MB of stamps" "$tmp/err" || fail "warning for 40 detections"
# the example configuration says what a ZTF exposure costs
grep -q "^# .*476 MB of stamps per exposure" "$src/pipeline_examples/ztf.conf" ||
    fail "ztf.conf: no save_stamps size comment"
# compress_stamps: the same stamps tile-compressed, printed beside the plain
# file (the figure ztf.conf quotes)
"$sv" simulate --exposure --size 512 --detections 100 -q -o "$tmp/hund" >/dev/null ||
    fail "simulate"
in="--sci $tmp/hund_sci.fits --ref $tmp/hund_ref.fits --diff $tmp/hund_diff.fits --detections $tmp/hund_det.fits"
"$sv" run --set save_stamps=extension $in -o "$tmp/plain.fits" >/dev/null 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "plain run"; }
"$sv" run --set save_stamps=extension --set compress_stamps=true $in -o "$tmp/packed.fits" \
    >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; fail "compressed run"; }
plain=$(wc -c <"$tmp/plain.fits")
packed=$(wc -c <"$tmp/packed.fits")
echo "100 detections, 512 x 512: $plain bytes plain, $packed bytes with compress_stamps"
[ "$packed" -lt "$plain" ] || fail "compressed output not smaller"
grep -q "^compress_stamps *= false" "$src/pipeline_examples/ztf.conf" ||
    fail "ztf.conf: no compress_stamps line"
echo ok
