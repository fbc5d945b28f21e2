#!/bin/sh
# `stampvet run`: --dump-config prints every parameter and is itself a valid
# configuration; unknown keys and bad values are errors naming FILE:LINE;
# --set overrides; bad inputs fail with the file named and leave no output;
# a good run writes the table.
set -u
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d /tmp/sv_stage_cli.XXXXXX) || exit 1
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

# every parameter, with its help, as a configuration file
run "$sv" run --dump-config >"$tmp/all.conf"
for key in rb_model class_model preset col_x pixel_origin coords rb_column rb_threshold \
    nan_frac_max mask_bits stamp_size channels save_stamps resample resample_kernel \
    grid_tolerance threads batch; do
    grep -q "^$key = " "$tmp/all.conf" || { echo "--dump-config lacks $key"; exit 1; }
done
n=$(grep -c '^[a-z_]* = ' "$tmp/all.conf")
[ "$n" -ge 20 ] || { echo "only $n parameters dumped"; exit 1; }

run "$sv" simulate --exposure --survey ztf --size 256 --detections 20 --seed 8 -q -o "$tmp/e"
model=""
if [ ! -f "$STAMPVET_MODELS/braai-d6_m7.fits" ]; then
    run "$sv" simulate --stamps 100 --scheme rb --seed 3 -q -o "$tmp/train.fits"
    run "$sv" train --data "$tmp/train.fits" --arch mini --epochs 1 --quiet \
        --out "$tmp/rb.fits" >/dev/null
    model="rb_model=$tmp/rb.fits"
fi
inputs="--sci $tmp/e_sci.fits --ref $tmp/e_ref.fits --diff $tmp/e_diff.fits --detections $tmp/e_det.fits"

# the dumped configuration runs as it is (with the model set)
out=$("$sv" run --config "$tmp/all.conf" ${model:+--set "$model"} $inputs -o "$tmp/out.fits") ||
    { echo "run with the dumped configuration failed"; exit 1; }
echo "$out" | grep -q "20 detections: 20 scored" || { echo "unexpected summary: $out"; exit 1; }
[ -f "$tmp/out.fits" ] || { echo "no output"; exit 1; }

# unknown key and bad value: FILE:LINE
printf 'threads = 2\n# comment\nthreshold = 0.5\n' >"$tmp/bad.conf"
fails 2 "bad.conf:3: unknown parameter 'threshold'" "$sv" run --config "$tmp/bad.conf" $inputs -o "$tmp/x.fits"
printf 'batch = many\n' >"$tmp/bad2.conf"
fails 2 "bad2.conf:1:" "$sv" run --config "$tmp/bad2.conf" $inputs -o "$tmp/x.fits"
fails 2 "unknown parameter 'nope'" "$sv" run --set nope=1 $inputs -o "$tmp/x.fits"
fails 2 "required" "$sv" run --sci "$tmp/e_sci.fits" -o "$tmp/x.fits"
fails 2 "missing.conf" "$sv" run --config "$tmp/missing.conf" $inputs -o "$tmp/x.fits"

# bad inputs: named, and no output left
printf 'not fits' >"$tmp/broken.fits"
fails 1 "broken.fits" "$sv" run ${model:+--set "$model"} --sci "$tmp/broken.fits" \
    --ref "$tmp/e_ref.fits" --diff "$tmp/e_diff.fits" --detections "$tmp/e_det.fits" -o "$tmp/x.fits"
fails 1 "e_sci.fits" "$sv" run ${model:+--set "$model"} --sci "$tmp/e_sci.fits" \
    --ref "$tmp/e_ref.fits" --diff "$tmp/e_diff.fits" --detections "$tmp/e_sci.fits" -o "$tmp/x.fits"
[ ! -e "$tmp/x.fits" ] || { echo "an output was left behind"; exit 1; }
ls -a "$tmp" | grep -q tmp && { echo "a temporary file was left behind"; exit 1; }
# a model whose stamp size does not match the configuration
fails 1 "stamp_size" "$sv" run ${model:+--set "$model"} --set stamp_size=31 $inputs -o "$tmp/x.fits"
exit 0
