#!/bin/sh
# ilmt_exposure_check.sh — the shipped models run through the stage on a
# simulated ILMT exposure (0.33"/pixel), scored against the simulator's truth:
#   rb-ztf   with resample = true (each stamp resampled through the WCS to
#            the ZTF model's 1.01"/pixel: pipeline_examples/ilmt.conf)
#   rb-ilmt  + cls4-ilmt at the native scale (resample = false)
# Prints real/bogus accuracy, FPR and FNR at 0.5 (all rows, and rows without
# a stage flag) and the 4-class accuracy.  Needs Python with astropy
# (PYTHON, default /usr/bin/python3) to read the output tables.
#
#   models/ilmt_exposure_check.sh      (STAMPVET=path/to/stampvet if not in ./ or PATH)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${STAMPVET:-}" ]; then
    if [ -x ./stampvet ]; then STAMPVET=$(pwd)/stampvet
    else STAMPVET=$(command -v stampvet || true); fi
fi
[ -n "${STAMPVET:-}" ] && [ -x "$STAMPVET" ] || { echo "no stampvet binary (set STAMPVET=...)" >&2; exit 1; }
PYTHON=${PYTHON:-/usr/bin/python3}
SEED=${SEED:-4001}
DET=${DET:-1500}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-ilmt-check-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
M=$here
SV=$STAMPVET
set -x
"$SV" simulate --exposure --survey ilmt --size 2048 --detections "$DET" --seed "$SEED" --threads 2 -q -o "$tmp/ilx"
"$SV" run --config "$here/../pipeline_examples/ilmt.conf" --set save_stamps=none --set rb_model="$M/rb-ztf.fits" \
    --sci "$tmp/ilx_sci.fits" --ref "$tmp/ilx_ref.fits" --diff "$tmp/ilx_diff.fits" --detections "$tmp/ilx_det.fits" \
    -o "$tmp/ztf.fits"
"$SV" run --config "$here/../pipeline_examples/ilmt.conf" --set save_stamps=none --set resample=false \
    --set rb_model="$M/rb-ilmt.fits" --set class_model="$M/cls4-ilmt.fits" \
    --sci "$tmp/ilx_sci.fits" --ref "$tmp/ilx_ref.fits" --diff "$tmp/ilx_diff.fits" --detections "$tmp/ilx_det.fits" \
    -o "$tmp/ilmt.fits"
set +x
"$PYTHON" - "$tmp/ztf.fits" "$tmp/ilmt.fits" <<'EOF'
import sys
import numpy as np
from astropy.io import fits
print("| models (stage setting) | rows | real/bogus accuracy | FPR | FNR | 4-class accuracy |")
print("| --- | --- | --- | --- | --- | --- |")
for path, name in zip(sys.argv[1:], ["rb-ztf (resample = true)", "rb-ilmt + cls4-ilmt (resample = false)"]):
    t = fits.getdata(path, 1)
    truth = np.char.strip(t["TRUECLS"])
    real = truth != "bogus"
    # the stage's flags (presets that keep SExtractor's FLAGS name theirs SV_FLAGS)
    fl = "SV_FLAGS" if "SV_FLAGS" in t.columns.names else "FLAGS"
    for sel, which in [(np.ones(len(t), bool), "all"), (t[fl] == 0, "unflagged")]:
        p = t["rb"][sel] >= 0.5
        r = real[sel]
        c4 = ""
        if "CLASS" in t.columns.names:
            c4 = "%.3f" % np.mean(np.char.strip(t["CLASS"][sel]) == truth[sel])
        print("| %s | %s %d | %.3f | %.3f | %.3f | %s |" % (name, which, sel.sum(), np.mean(p == r),
              np.mean(p[~r]), np.mean(~p[r]), c4))
EOF
