#!/bin/sh
# `stampvet run` on hostile inputs: a detection table claiming 10^12 rows is
# refused at once (no runaway write into the temporary output), and a write
# beyond `ulimit -f` ends in an error naming the output (not death by
# SIGXFSZ), leaving no temporary file behind.
set -u
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d /tmp/sv_hostile_cli.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
run() { "$@" || { echo "FAILED: $*"; exit 1; }; }
fails() { # expected status, needle, command...
    want=$1 needle=$2
    shift 2
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    st=$?
    if [ $st -ne "$want" ]; then echo "status $st (wanted $want): $*"; cat "$tmp/stderr"; exit 1; fi
    grep -q -- "$needle" "$tmp/stderr" || { echo "stderr lacks '$needle':"; cat "$tmp/stderr"; exit 1; }
}
no_tmp() {
    left=$(ls -A "$1" | grep '\.tmp' || true)
    [ -z "$left" ] || { echo "temporary files left in $1: $left"; exit 1; }
}

run "$sv" simulate --exposure --survey ztf --size 256 --detections 20 --seed 8 -q -o "$tmp/e"
model=""
if [ ! -f "$SV_SRCDIR/models/rb-ztf.fits" ]; then
    run "$sv" simulate --stamps 100 --scheme rb --seed 3 -q -o "$tmp/train.fits"
    run "$sv" train --data "$tmp/train.fits" --arch mini --epochs 1 --quiet \
        --out "$tmp/rb.fits" >/dev/null
    model="rb_model=$tmp/rb.fits"
fi
imgs="--sci $tmp/e_sci.fits --ref $tmp/e_ref.fits --diff $tmp/e_diff.fits"

hostile="${SV_FIXTURES:-../shared/fixtures}/hostile"
if [ -d "$hostile" ]; then
    mkdir "$tmp/out"
    start=$(date +%s)
    fails 1 "d_naxis2_1e12.fits: cannot open as FITS: HDU 2: the header claims" timeout 60 "$sv" run \
        ${model:+--set "$model"} $imgs --detections "$hostile/det/d_naxis2_1e12.fits" \
        -o "$tmp/out/x.fits"
    [ $(( $(date +%s) - start )) -lt 30 ] || { echo "refusing took too long"; exit 1; }
    [ ! -e "$tmp/out/x.fits" ] || { echo "an output was written"; exit 1; }
    no_tmp "$tmp/out"
    for f in "$hostile"/det/*; do
        fails 1 "$(basename "$f")" timeout 60 "$sv" run ${model:+--set "$model"} $imgs \
            --detections "$f" -o "$tmp/out/x.fits"
    done
    for f in "$hostile"/image/*; do
        fails 1 "$(basename "$f")" timeout 60 "$sv" run ${model:+--set "$model"} \
            --sci "$f" --ref "$tmp/e_ref.fits" --diff "$tmp/e_diff.fits" \
            --detections "$tmp/e_det.fits" -o "$tmp/out/x.fits"
    done
    for f in "$hostile"/*/*; do
        "$sv" inspect "$f" >/dev/null 2>"$tmp/stderr"
        st=$?
        [ $st -le 2 ] || { echo "inspect $f: status $st"; cat "$tmp/stderr"; exit 1; }
    done
    no_tmp "$tmp/out"
else
    echo "# SKIP (part): no hostile fixtures at $hostile"
fi

# a file size limit: an error naming the output, no SIGXFSZ death, no .tmp
mkdir -p "$tmp/lim"
(
    ulimit -f 16 # 8 KiB blocks of 512 bytes: far below the output's size
    exec "$sv" run ${model:+--set "$model"} $imgs --detections "$tmp/e_det.fits" \
        --set save_stamps=extension -o "$tmp/lim/out.fits"
) >"$tmp/stdout" 2>"$tmp/stderr"
st=$?
[ $st -eq 1 ] || { echo "under ulimit -f: status $st (wanted 1)"; cat "$tmp/stderr"; exit 1; }
grep -q "out.fits" "$tmp/stderr" || { echo "no error naming the output:"; cat "$tmp/stderr"; exit 1; }
[ ! -e "$tmp/lim/out.fits" ] || { echo "an output was left under ulimit -f"; exit 1; }
no_tmp "$tmp/lim"
echo "ok"
