#!/bin/sh
# outputs_not_inputs.sh — no command writes over one of its inputs (issue
# 11, siblings of item 1): for every command with a file output, -o (or
# --out, --summary, --scores-out ...) naming an input by the same path,
# through a symbolic link or through a hard link is refused before anything
# is read or written (exit 2, both files named), and the input is
# byte-identical afterwards.  Before, `score -o` and `inspect -o` emptied
# the input, and train, finetune, evaluate, import-keras replaced it.
set -u
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d /tmp/sv_outputs.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$tmp" || exit 1
"$sv" simulate --stamps 40 --seed 3 -q -o tab.fits >/dev/null || fail simulate
"$sv" simulate --exposure --size 128 --detections 8 -q -o x >/dev/null || fail simulate
"$sv" train --data tab.fits --arch mini --epochs 1 --quiet -o model.fits >/dev/null 2>&1 ||
    fail "train a model"
printf 'x_sci.fits x_ref.fits x_diff.fits x_det.fits x1\n' >night.txt
n=0
# check NAME VICTIM ARGS... (OUT in ARGS is replaced by the output)
check() {
    name=$1 victim=$2
    shift 2
    cp -p "$victim" keep.bin
    for how in path symlink hardlink; do
        rm -f l.out h.out
        case $how in
        path) out=$victim ;;
        symlink) ln -s "$victim" l.out && out=l.out ;;
        hardlink) ln "$victim" h.out && out=h.out ;;
        esac
        args=$(echo "$*" | sed "s|OUT|$out|g")
        # shellcheck disable=SC2086
        "$sv" $args >out.txt 2>err.txt
        st=$?
        cmp -s "$victim" keep.bin || { cp -p keep.bin "$victim"; fail "$name ($how): $victim was changed"; }
        [ $st -eq 2 ] || { cat err.txt; fail "$name ($how): exit $st, not 2"; }
        grep -q "refusing to overwrite an input" err.txt && grep -q "$victim" err.txt &&
            grep -q "$out" err.txt || { cat err.txt; fail "$name ($how): the message"; }
        n=$((n + 1))
    done
}
check score x_sci.fits score --model model.fits --sci x_sci.fits --ref x_ref.fits --diff x_diff.fits -o OUT
check score-model model.fits score --model model.fits --sci x_sci.fits --ref x_ref.fits --diff x_diff.fits -o OUT
check inspect tab.fits inspect -o OUT tab.fits
check train tab.fits train --data tab.fits --arch mini --epochs 1 --out OUT
check finetune model.fits finetune --from model.fits --data tab.fits --epochs 1 -o OUT
check evaluate tab.fits evaluate model.fits tab.fits -o OUT
check evaluate-scores tab.fits evaluate --model model.fits --data tab.fits --scores-out OUT
check compare tab.fits compare --base model.fits --train tab.fits --test tab.fits --runs 2 --sizes 10 -o OUT
check run x_det.fits run --set rb_model=model.fits --sci x_sci.fits --ref x_ref.fits --diff x_diff.fits --detections x_det.fits -o OUT --overwrite
check batch night.txt batch night.txt --set rb_model=model.fits -o OUT
check demo model.fits demo --model model.fits --size 128 --detections 4 -o OUT
check report tab.fits report --model model.fits --data tab.fits -o OUT
if ! "$sv" import-onnx --help | grep -q 'NOT AVAILABLE'; then
    cp model.fits fake.onnx
    check import-onnx fake.onnx import-onnx fake.onnx --task realbogus -o OUT
fi
if ! "$sv" import-keras --help | grep -q 'NOT AVAILABLE'; then
    cp model.fits fake.h5
    check import-keras fake.h5 import-keras fake.h5 --task realbogus -o OUT
fi
# not refused: an output that is no input, and the same name in another folder
mkdir sub
"$sv" inspect -o sub/tab.fits tab.fits >/dev/null 2>err.txt || { cat err.txt; fail "inspect -o sub/tab.fits"; }
echo "ok: $n refusals, every input unchanged"
