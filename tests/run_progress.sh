#!/bin/sh
# run_progress.sh — `stampvet run` shows progress on stderr (issue 11):
#  - with -v and stderr not a terminal: timestamped lines, the last one
#    "N/N detections 100%" with N the detection table's rows;
#  - without -v and not a terminal: no progress at all; with -q none either;
#  - on a terminal (script(1) gives one; skipped without it): the live bar
#    (carriage return, "[====", erase to end of line) ending at N/N,
#    followed by a newline before the summary line.
# The table has 16500 rows (two chunks of the stage, SV_STAGE_CHUNK 16384),
# all but 17 off the image so that the run is quick (a CSV table).
set -u
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d /tmp/sv_run_progress.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$sv" simulate --exposure --size 128 --detections 20 -q -o "$tmp/x" >/dev/null || fail simulate
awk 'BEGIN { print "candid,xpos,ypos"
             for (i = 1; i <= 16500; i++)
                 printf "%d,%s,50.5\n", i, (i % 1000 == 1 ? "40.5" : "1e6") }' >"$tmp/det.csv"
model=""
if [ -f "${SV_SRCDIR:-..}/models/rb-ztf.fits" ]; then
    model="--set rb_model=${SV_SRCDIR:-..}/models/rb-ztf.fits"
else
    "$sv" simulate --stamps 100 --scheme rb --seed 3 -q -o "$tmp/train.fits" >/dev/null &&
        "$sv" train --data "$tmp/train.fits" --arch mini --epochs 1 --quiet \
            --out "$tmp/rb.fits" >/dev/null || fail "train a model"
    model="--set rb_model=$tmp/rb.fits"
fi
in="--sci $tmp/x_sci.fits --ref $tmp/x_ref.fits --diff $tmp/x_diff.fits --detections $tmp/det.csv"

"$sv" run $model $in -v -o "$tmp/a.fits" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "run -v"; }
grep -Eq '^[0-9-]+T[0-9:]+Z 16384/16500 detections  99% \([0-9]+ det/s, ETA ' "$tmp/err" ||
    { cat "$tmp/err"; fail "no progress line after the first chunk"; }
tail -n 1 "$tmp/err" | grep -Eq '^[0-9-]+T[0-9:]+Z 16500/16500 detections 100% ' ||
    { cat "$tmp/err"; fail "the last progress line is not 16500/16500"; }
grep -q "16500 detections: 17 scored" "$tmp/out" || { cat "$tmp/out"; fail "summary"; }

"$sv" run $model $in -o "$tmp/a.fits" --overwrite >"$tmp/out" 2>"$tmp/err" || fail "run"
[ ! -s "$tmp/err" ] || { cat "$tmp/err"; fail "progress on stderr without -v or a terminal"; }

if command -v script >/dev/null 2>&1 && script -qc true /dev/null >/dev/null 2>&1; then
    script -qc "$sv run $model $in -o $tmp/a.fits --overwrite" /dev/null >"$tmp/tty" 2>&1 ||
        { cat "$tmp/tty"; fail "run on a terminal"; }
    tr '\r' '\n' <"$tmp/tty" | grep -q '^\[=* *>* *\] 16500/16500 detections 100% ' ||
        { od -c "$tmp/tty" | head; fail "no live bar ending at 16500/16500"; }
    grep -q "$(printf '\033')\[K" "$tmp/tty" || fail "the bar does not erase to the line end"
    tr -d '\r' <"$tmp/tty" | grep -q "^$tmp/a.fits: 16500 detections" ||
        { od -c "$tmp/tty" | head -40; fail "the summary is not on a line of its own"; }
    script -qc "$sv run $model $in -q -o $tmp/a.fits --overwrite" /dev/null >"$tmp/tty" 2>&1 ||
        fail "run -q on a terminal"
    ! grep -q "detections" "$tmp/tty" || { cat "$tmp/tty"; fail "progress with -q"; }
    # one chunk on a terminal: nothing to watch, no bar
    head -n 11 "$tmp/det.csv" >"$tmp/few.csv"
    script -qc "$sv run $model --sci $tmp/x_sci.fits --ref $tmp/x_ref.fits --diff $tmp/x_diff.fits --detections $tmp/few.csv -o $tmp/b.fits" /dev/null >"$tmp/tty" 2>&1 ||
        fail "small run on a terminal"
    ! grep -q '\[=' "$tmp/tty" || { cat "$tmp/tty"; fail "a bar for a one-chunk exposure"; }
else
    echo "(no script(1): the terminal case is not checked)"
fi
echo ok
