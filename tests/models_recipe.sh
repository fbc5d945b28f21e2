#!/bin/sh
# models_recipe.sh — the recipe of the shipped models (models/build_models.sh),
# run in miniature: the same script with tiny sets, the small `mini` network
# and three epochs (ten to fine-tune).  Asserts that it writes four valid model files (stampvet
# inspect verifies them) with the right tasks, classes, pixel scales and
# parent, four cards, and that each model beats chance on its held-out set.
set -u
B="${SV_BUILDDIR:-.}/stampvet"
S="${SV_SRCDIR:-.}"
[ -x "$B" ] || { echo "SKIP: no stampvet binary at $B"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-models-recipe-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
die() { echo "FAIL: $*"; fail=1; }

env STAMPVET="$B" WORK="$tmp/work" KEEP=1 ARCH=mini \
    ZTF_TRAIN=800 ZTF_TEST=200 ILMT_RB_TRAIN=200 ILMT_CLS3_TRAIN=240 ILMT_CLS4_TRAIN=320 \
    ILMT_TEST=200 ZTF_EPOCHS=3 FT_EPOCHS=10 PATIENCE=0 FT_PATIENCE=0 THREADS=2 \
    sh "$S/models/build_models.sh" "$tmp/out" > "$tmp/log.txt" 2>&1 \
    || { cat "$tmp/log.txt"; echo "FAIL: models/build_models.sh (miniature)"; exit 1; }

# name task classes-line pixel-scale parent
check_model() {
    f="$tmp/out/$1.fits"
    [ -s "$f" ] || { die "$1.fits not written"; return; }
    [ -s "$tmp/out/$1.md" ] || die "$1.md (model card) not written"
    "$B" inspect "$f" > "$tmp/$1.inspect" 2>&1 || { die "stampvet inspect $1.fits fails"; return; }
    grep -q "checksum: HDU ok, data ok" "$tmp/$1.inspect" || die "$1.fits: checksums not verified"
    grep -q "^  task       $2" "$tmp/$1.inspect" || die "$1.fits: task is not '$2'"
    grep -q "trained at $3 arcsec/px" "$tmp/$1.inspect" || die "$1.fits: pixel scale is not $3"
    if [ -n "$4" ]; then
        grep -q "PARENT     $4" "$tmp/$1.inspect" || die "$1.fits: parent is not $4"
    fi
}
check_model rb-ztf    "realbogus" 1.01 ""
check_model rb-ilmt   "realbogus" 0.33 d6_m7
check_model cls3-ilmt "class: 3 classes" 0.33 d6_m7
check_model cls4-ilmt "class: 4 classes" 0.33 d6_m7
grep -q "0:transient  1:variable  2:asteroid  3:bogus" "$tmp/cls4-ilmt.inspect" \
    || die "cls4-ilmt.fits: classes are not transient, variable, asteroid, bogus"

# held-out figures (evaluate's output kept by the script): beat chance
# name min-accuracy min-auc
beats_chance() {
    e="$tmp/work/eval_$1.txt"
    [ -s "$e" ] || { die "no evaluation of $1"; return; }
    acc=$(awk '$1 == "accuracy" { print $3 }' "$e")
    auc=$(awk '$1 == "ROC" && $2 == "AUC" { print $4 }' "$e")
    echo "$1: held-out accuracy $acc, ROC AUC $auc (floors $2, $3)"
    awk -v a="$acc" -v u="$auc" -v fa="$2" -v fu="$3" 'BEGIN { exit !(a + 0 > fa && u + 0 > fu) }' \
        || die "$1 does not beat chance: accuracy $acc (> $2 wanted), AUC $auc (> $3 wanted)"
}
beats_chance rb-ztf    0.60 0.65
beats_chance rb-ilmt   0.60 0.65
beats_chance cls3-ilmt 0.38 0.60
beats_chance cls4-ilmt 0.30 0.60

grep -q "Held-out figures" "$tmp/out/rb-ztf.md" || die "rb-ztf.md lacks its held-out figures"
grep -q "stampvet finetune --from braai-d6_m7.fits" "$tmp/out/cls4-ilmt.md" || die "cls4-ilmt.md lacks its recipe"

[ $fail -eq 0 ] && echo "PASS: the miniature recipe builds four valid models that beat chance"
exit $fail
