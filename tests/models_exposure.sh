#!/bin/sh
# models_exposure.sh — models/ilmt_exposure_check.sh (the shipped models
# through the stage on a simulated ILMT exposure, scored against the
# simulator's truth) in miniature: 300 detections; it must print its four
# table rows, and rb-ilmt + cls4-ilmt at the native scale must beat chance
# on real/bogus (accuracy > 0.6) and on the four classes (> 0.35).
set -u
B="${SV_BUILDDIR:-.}/stampvet"
S="${SV_SRCDIR:-.}"
PY="${SV_PYTHON:-}"
[ -x "$B" ] || { echo "SKIP: no stampvet binary at $B"; exit 77; }
if [ -z "$PY" ] || ! "$PY" -c 'import numpy, astropy' 2>/dev/null; then
    echo "SKIP: needs SV_PYTHON with numpy and astropy"
    exit 77
fi
out=$(STAMPVET="$B" PYTHON="$PY" DET=300 sh "$S/models/ilmt_exposure_check.sh" 2>&1) ||
    { echo "$out"; echo "FAIL: models/ilmt_exposure_check.sh"; exit 1; }
echo "$out" | grep '^|'
rows=$(echo "$out" | grep -c '^| rb-')
[ "$rows" = 4 ] || { echo "FAIL: $rows table rows, expected 4"; exit 1; }
echo "$out" | awk -F'|' '/^\| rb-ilmt \+ cls4-ilmt/ && / all / {
    acc = $4 + 0; c4 = $7 + 0
    if (acc <= 0.6 || c4 <= 0.35) { print "FAIL: native-scale accuracy " acc ", 4-class " c4; exit 1 } }'
