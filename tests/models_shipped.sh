#!/bin/sh
# models_shipped.sh — the shipped default models (models/*.fits) load, are
# what their cards say, and still score simulated held-out stamps as their
# cards report: each model's accuracy on N freshly simulated stamps (the
# card's held-out seed, a smaller set) must be at least the card's held-out
# accuracy minus MARGIN.  The floor is read from the card itself
# (models/<name>.md, the first "accuracy :" line of its held-out figures).
# Each one, braai too, has its MODVERS card filled.
set -u
B="${SV_BUILDDIR:-.}/stampvet"
S="${SV_SRCDIR:-.}"
N=${N:-300}
MARGIN=${MARGIN:-0.08}
[ -x "$B" ] || { echo "SKIP: no stampvet binary at $B"; exit 77; }
for m in rb-ztf rb-ilmt cls3-ilmt cls4-ilmt; do
    [ -f "$S/models/$m.fits" ] && [ -f "$S/models/$m.md" ] || {
        echo "SKIP: shipped model $S/models/$m.fits or its card not present (make models)"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-models-shipped-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
die() { echo "FAIL: $*"; fail=1; }

# every model's version card is filled (issue 11: provenance), the
# derived <name>_<first 8 hex digits of WTSUM> for the trained models
modvers() { # name inspect-output
    v=$(sed -n "s/^ *MODVERS = '\([^ ']*\) *'.*/\1/p" "$2")
    [ -n "$v" ] || { die "$1.fits: MODVERS is empty"; return; }
    # WTSUM from the primary header's cards (80 characters each, no newlines)
    w=$(head -c 8640 "$S/models/$1.fits" | fold -w 80 | sed -n "s/^WTSUM   = '\([0-9a-f]*\)'.*/\1/p" | cut -c1-8)
    case $1 in
    braai-d6_m7) [ "$v" = d6_m7 ] || die "$1.fits: MODVERS '$v', not braai's drbversion d6_m7" ;;
    *) [ "$v" = "$1_$w" ] || die "$1.fits: MODVERS '$v', not $1_$w" ;;
    esac
}
if [ -f "$S/models/braai-d6_m7.fits" ]; then
    "$B" inspect "$S/models/braai-d6_m7.fits" > "$tmp/braai.inspect" 2>&1 || die "inspect braai-d6_m7"
    modvers braai-d6_m7 "$tmp/braai.inspect"
fi

# name survey scheme seed task-line pixel-scale [bands]
check() {
    name=$1; f="$S/models/$name.fits"
    "$B" inspect "$f" > "$tmp/$name.inspect" 2>&1 || { die "stampvet inspect $f fails"; cat "$tmp/$name.inspect"; return; }
    grep -q "^  task       $5" "$tmp/$name.inspect" || die "$name.fits: task is not '$5'"
    grep -q "trained at $6 arcsec/px" "$tmp/$name.inspect" || die "$name.fits: pixel scale is not $6"
    if grep -q "checksum: .*\(bad\|BAD\|mismatch\|fail\)" "$tmp/$name.inspect"; then die "$name.fits: bad checksum"; fi
    modvers "$name" "$tmp/$name.inspect"
    card=$(awk '$1 == "accuracy" && $2 == ":" { print $3; exit }' "$S/models/$name.md")
    [ -n "$card" ] || { die "$name.md reports no held-out accuracy"; return; }
    "$B" simulate --survey "$2" --scheme "$3" --stamps "$N" --seed "$4" ${7:+--band "$7"} --threads 2 \
        -o "$tmp/$name-test.fits" > /dev/null 2>&1 || { die "simulate $2 $3"; return; }
    "$B" evaluate --model "$f" --data "$tmp/$name-test.fits" --threads 2 > "$tmp/$name.eval" 2>&1 \
        || { die "evaluate $name"; cat "$tmp/$name.eval"; return; }
    acc=$(awk '$1 == "accuracy" { print $3; exit }' "$tmp/$name.eval")
    floor=$(awk -v c="$card" -v m="$MARGIN" 'BEGIN { printf "%.4f", c - m }')
    echo "$name: accuracy $acc on $N simulated $2 $3 stamps (seed $4); card $card, floor $floor"
    awk -v a="$acc" -v f="$floor" 'BEGIN { exit !(a + 0 >= f + 0) }' \
        || die "$name: accuracy $acc below the floor $floor (card $card - $MARGIN)"
}
check rb-ztf    ztf  rb     1002 "realbogus" 1.01 g,r
check rb-ilmt   ilmt rb     2002 "realbogus" 0.33
check cls3-ilmt ilmt 3class 2004 "class: 3 classes" 0.33
check cls4-ilmt ilmt 4class 2006 "class: 4 classes" 0.33

[ $fail -eq 0 ] && echo "PASS: the shipped models load and score as their cards report (margin $MARGIN)"
exit $fail
