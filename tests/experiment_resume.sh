#!/bin/sh
# experiment_resume.sh — models/experiment.sh in miniature (braai as the
# base, real/bogus, 40 labels, 2 seeds, 1 epoch; native and resampled
# arms): it writes the table with a row per arm and the CSV with the
# resample column; a second run with the same WORK reruns nothing; with
# TABLE_ONLY=1 and an arm not yet run, it writes the table of the finished
# arms and names the missing one.
set -u
B="${SV_BUILDDIR:-.}/stampvet"
S="${SV_SRCDIR:-.}"
[ -x "$B" ] || { echo "SKIP: no stampvet binary at $B"; exit 77; }
[ -f "$S/models/braai-d6_m7.fits" ] || { echo "SKIP: shipped model models/braai-d6_m7.fits absent"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-experiment-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
die() { echo "FAIL: $*"; fail=1; }
exp() {
    env STAMPVET="$B" BASES=braai-d6_m7.fits RESAMPLES="no yes" SIZES=40 POOL=40 TEST=40 \
        RUNS=2 EPOCHS=1 PATIENCE=1 TASKS=rb THREADS=2 WORK="$tmp/work" "$@" \
        sh "$S/models/experiment.sh" "$tmp/out" > "$tmp/log.txt" 2>&1 \
        || { cat "$tmp/log.txt"; die "models/experiment.sh $*"; }
}
exp FREEZES=none
md="$tmp/out/experiment.md"
[ -s "$md" ] || { echo "FAIL: no experiment.md"; exit 1; }
grep -q '^| real/bogus | braai-d6_m7 | none | no | 40 |' "$md" || die "no native-scale row"
grep -q '^| real/bogus | braai-d6_m7 | none | yes | 40 |' "$md" || die "no resampled row"
head -1 "$tmp/out/experiment.csv" | grep -q '^task,base,freeze,resample,size,' \
    || die "experiment.csv header: $(head -1 "$tmp/out/experiment.csv")"
[ "$(grep -c '^rb,braai-d6_m7,none,' "$tmp/out/experiment.csv")" -ge 6 ] \
    || die "experiment.csv lacks the arms' accuracy/auc/macro_f1 rows"
# resume: nothing rerun
exp FREEZES=none
if grep -q 'compare --base' "$tmp/log.txt"; then die "a resumed run reran a finished arm"; fi
# the table of what is finished, the rest named
exp FREEZES="none conv" TABLE_ONLY=1
if grep -q 'compare --base' "$tmp/log.txt"; then die "TABLE_ONLY ran an arm"; fi
grep -q 'Not run yet.*rb@braai-d6_m7@conv@no' "$md" || die "the missing arm is not named"
grep -q '^| real/bogus | braai-d6_m7 | none | yes | 40 |' "$md" || die "TABLE_ONLY lost a finished arm"
# a second freeze policy reuses the first one's scratch arm: same figures
exp FREEZES="none conv" RESAMPLES=no
grep -q 'freeze conv .*--scratch-from runs_rb@braai-d6_m7@none@no.csv' "$tmp/log.txt" \
    || die "the conv arm did not reuse the scratch arm of the none arm"
scratch_cols() { awk -F, '$1 == "rb" && $2 == "braai-d6_m7" && $3 == "'"$1"'" && $4 == "no" \
                          { print $5, $7, $10, $11 }' "$tmp/out/experiment.csv"; }
[ -n "$(scratch_cols none)" ] && [ "$(scratch_cols none)" = "$(scratch_cols conv)" ] \
    || die "scratch figures differ between the freeze policies: $(scratch_cols none) / $(scratch_cols conv)"
[ "$(scratch_cols none)" != "$(awk -F, '$3 == "conv" && $4 == "no" { print $5, $7, $8, $9 }' "$tmp/out/experiment.csv")" ] \
    || die "the conv arm's transfer columns equal its scratch columns"
[ $fail = 0 ] && echo "experiment_resume: ok"
exit $fail
