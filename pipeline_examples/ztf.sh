#!/bin/sh
# ZTF-style pipeline example (run by make check): one simulated ZTF
# exposure (science, reference, difference with their WCS, a ZTF-style
# candidate table, a mask), scored by `stampvet run` with ztf.conf; the
# output table is checked with astropy when Debian's python3-astropy is
# there, else summarised with `stampvet inspect`.
#
#   SV_BUILDDIR=build SV_SRCDIR=. sh pipeline_examples/ztf.sh
set -u
example=ztf
. "$(dirname "$0")/example_env.sh" # sv, src, tmp, run, fallback_model, have_astropy

run "$sv" simulate --exposure --survey ztf --size 768 --detections 150 --seed 11 --mask -q \
    -o "$tmp/ztf"

# ztf.conf leaves rb_model empty: the stage's default, ZTF's braai d6_m7
# (models/braai-d6_m7.fits; example_env.sh)
fallback_model

run "$sv" run --config "$src/pipeline_examples/ztf.conf" ${model:+--set "$model"} \
    --sci "$tmp/ztf_sci.fits" --ref "$tmp/ztf_ref.fits" --diff "$tmp/ztf_diff.fits" \
    --detections "$tmp/ztf_det.fits" --mask "$tmp/ztf_mask.fits" \
    --exposure-id ztf-example -o "$tmp/ztf_scored.fits"

if have_astropy; then
    run "$py" "$src/tests/python/stage_check.py" "$tmp/ztf_scored.fits" "$tmp/ztf_det.fits" \
        --stamps extension
else
    out=$("$sv" inspect "$tmp/ztf_scored.fits") || { echo "inspect failed"; exit 1; }
    echo "$out"
    echo "$out" | grep -q "DETECTIONS" || { echo "no DETECTIONS table"; exit 1; }
fi
exit 0
