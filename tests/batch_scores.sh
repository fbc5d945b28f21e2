#!/bin/sh
# batch_scores.sh — the batch summary's n_real, n_flagged and median_score
# per exposure (issue 11), through stampvet itself with the shipped model:
# two simulated exposures and one whose science image is missing.
#  - ok rows: n_flagged equals the output's NFLAGGED card, 0 <= n_real <=
#    detections, the median a score in [0, 1];
#  - with rb_threshold = 0 every row not kept from REAL by veto_flags is
#    REAL: n_real = detections - the vetoed count `stampvet run` reports;
#  - the failed row: the three cells empty;
#  - the FITS summary holds the same values (read back by --merge-summaries);
#  - a rerun skips the outputs and still reports their scores.
set -u
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d /tmp/sv_batch_scores.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for e in 1 2; do
    "$sv" simulate --exposure --size 256 --detections 30 --seed $e -q -o "$tmp/e$e" >/dev/null ||
        fail "simulate"
done
{
    for e in 1 2; do
        echo "e${e}_sci.fits e${e}_ref.fits e${e}_diff.fits e${e}_det.fits out/e$e.fits"
    done
    echo "nope_sci.fits e1_ref.fits e1_diff.fits e1_det.fits out/e3.fits"
} >"$tmp/night.txt"
mkdir -p "$tmp/out"
"$sv" batch "$tmp/night.txt" --threads 2 --progress none -o "$tmp/s.csv" >"$tmp/log" 2>&1
[ $? -eq 1 ] || fail "batch: exit status $? (one exposure fails): $(cat "$tmp/log")"
head -1 "$tmp/s.csv" | grep -q '^exposure,status,detections,n_real,n_flagged,median_score,seconds,error,output,rank$' ||
    fail "summary header: $(head -1 "$tmp/s.csv")"
# field I of the row of exposure output out/eE.fits (no commas in these rows
# but in the failed one's error: take the leading fields only)
field() { grep "out/e$1.fits" "$2" | cut -d, -f"$3"; }
for e in 1 2; do
    [ "$(field $e "$tmp/s.csv" 2)" = ok ] || fail "e$e not ok: $(cat "$tmp/s.csv")"
    det=$(field $e "$tmp/s.csv" 3) real=$(field $e "$tmp/s.csv" 4)
    flagged=$(field $e "$tmp/s.csv" 5) med=$(field $e "$tmp/s.csv" 6)
    [ "$det" = 30 ] || fail "e$e: $det detections"
    card=$("$sv" inspect "$tmp/out/e$e.fits" | sed -n 's/^ *NFLAGGED= *\([0-9]*\) .*/\1/p')
    [ -n "$card" ] && [ "$flagged" = "$card" ] || fail "e$e: n_flagged '$flagged', NFLAGGED '$card'"
    [ "$real" -ge 0 ] && [ "$real" -le "$det" ] || fail "e$e: n_real '$real'"
    awk -v m="$med" 'BEGIN { exit !(m != "" && m + 0 >= 0 && m + 0 <= 1) }' ||
        fail "e$e: median_score '$med'"
done
# two different exposures: different medians
[ "$(field 1 "$tmp/s.csv" 6)" != "$(field 2 "$tmp/s.csv" 6)" ] || fail "the same median twice"
grep "out/e3.fits" "$tmp/s.csv" | grep -q '^[^,]*,failed,,,,,' ||
    fail "failed row: $(grep out/e3.fits "$tmp/s.csv")"
# rb_threshold = 0: REAL = not vetoed
"$sv" run --set rb_threshold=0 --sci "$tmp/e1_sci.fits" --ref "$tmp/e1_ref.fits" \
    --diff "$tmp/e1_diff.fits" --detections "$tmp/e1_det.fits" -o "$tmp/r1.fits" >"$tmp/run.out" ||
    fail "run: $(cat "$tmp/run.out")"
vetoed=$(sed -n 's/.*, \([0-9]*\) kept from REAL by veto_flags.*/\1/p' "$tmp/run.out")
[ -n "$vetoed" ] || fail "run summary: $(cat "$tmp/run.out")"
sed -i '3d' "$tmp/night.txt" # the two good exposures
"$sv" batch "$tmp/night.txt" --set rb_threshold=0 --force --progress none -o "$tmp/t.fits" \
    >"$tmp/log" 2>&1 || fail "batch rb_threshold=0: $(cat "$tmp/log")"
"$sv" batch --merge-summaries "$tmp/t.csv" "$tmp/t.fits" >/dev/null || fail "merge the FITS summary"
[ "$(field 1 "$tmp/t.csv" 4)" = $((30 - vetoed)) ] ||
    fail "rb_threshold=0: n_real $(field 1 "$tmp/t.csv" 4), want 30 - $vetoed"
[ "$(field 1 "$tmp/t.csv" 6)" = "$(field 1 "$tmp/s.csv" 6)" ] ||
    fail "the median depends on rb_threshold: $(field 1 "$tmp/t.csv" 6) $(field 1 "$tmp/s.csv" 6)"
# a rerun skips them and reports the same figures
"$sv" batch "$tmp/night.txt" --set rb_threshold=0 --progress none -o "$tmp/u.csv" >"$tmp/log" 2>&1 ||
    fail "rerun: $(cat "$tmp/log")"
[ "$(field 2 "$tmp/u.csv" 2)" = skipped ] || fail "rerun did not skip: $(cat "$tmp/u.csv")"
for e in 1 2; do
    [ "$(field $e "$tmp/u.csv" 4-6)" = "$(field $e "$tmp/t.csv" 4-6)" ] ||
        fail "e$e skipped: $(field $e "$tmp/u.csv" 4-6), ran: $(field $e "$tmp/t.csv" 4-6)"
done
echo ok
