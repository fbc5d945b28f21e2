#!/bin/sh
# ILMT-style pipeline example (run by make check): a simulated ILMT
# drift-scan exposure at 0.33"/pixel scored by a model trained at ZTF's
# 1.01"/pixel, every stamp resampled through the WCS to the model's scale
# (ilmt.conf: resample = true, Lanczos-3), positions from the sky columns
# through the WCS, and the resampled stamps kept as array columns.
#
#   SV_BUILDDIR=build SV_SRCDIR=. sh pipeline_examples/ilmt.sh
set -u
example=ilmt
. "$(dirname "$0")/example_env.sh" # sv, src, tmp, run, fallback_model, have_astropy

run "$sv" simulate --exposure --survey ilmt --size 1024 --detections 60 --seed 12 -q \
    -o "$tmp/ilmt"

# ilmt.conf leaves rb_model empty: the stage's default, ZTF's braai d6_m7 at
# 1.01"/pixel (models/braai-d6_m7.fits; example_env.sh)
fallback_model

out=$("$sv" run --config "$src/pipeline_examples/ilmt.conf" ${model:+--set "$model"} \
    --sci "$tmp/ilmt_sci.fits" --ref "$tmp/ilmt_ref.fits" --diff "$tmp/ilmt_diff.fits" \
    --detections "$tmp/ilmt_det.fits" --exposure-id ilmt-example \
    -o "$tmp/ilmt_scored.fits") || { echo "FAILED: stampvet run: $out"; exit 1; }
echo "$out"

if have_astropy; then
    run "$py" "$src/tests/python/stage_check.py" "$tmp/ilmt_scored.fits" \
        "$tmp/ilmt_det.fits" --stamps columns
    # the resampling was done: about 3.06 image pixels per stamp pixel
    run "$py" - "$tmp/ilmt_scored.fits" <<'PY'
import sys
from astropy.io import fits
h = fits.getheader(sys.argv[1], "DETECTIONS")
step = h["RSSTEP"]
print("resampled %.4f image pixels per stamp pixel with %s; positions: %s"
      % (step, h["RSKERNEL"], h["POSITION"]))
assert h["RESAMPLE"] and abs(step - 1.01 / 0.33) < 0.01, step
assert "sky" in h["POSITION"]
PY
else
    "$sv" inspect "$tmp/ilmt_scored.fits" | grep -q "DETECTIONS" || { echo "no table"; exit 1; }
fi
exit 0
