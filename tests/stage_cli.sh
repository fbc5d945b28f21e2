#!/bin/sh
# `stampvet run`: --dump-config prints every parameter and is itself a valid
# configuration; unknown keys and bad values are errors naming FILE:LINE;
# --set overrides; bad inputs fail with the file named and leave no output;
# a good run writes the table.
set -u
sv="$SV_BUILDDIR/stampvet"
py=${SV_PYTHON:-python3}
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
for key in rb_model class_model preset col_x col_sign pixel_origin coords diff_positive \
    rb_column rb_threshold nan_frac_max mask_bits stamp_size channels save_stamps resample \
    resample_kernel grid_tolerance threads batch; do
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

# --dump-config prints the effective configuration: the file, then --set and
# --history over the defaults (issue 11), and it is itself a configuration
printf 'threads = 2\nrb_threshold = 0.6\n' >"$tmp/eff.conf"
run "$sv" run --config "$tmp/eff.conf" --set rb_threshold=0.7 --history "$tmp/h.fits" \
    --dump-config >"$tmp/eff.txt"
for want in "threads = 2" "rb_threshold = 0.7" "lc_history = $tmp/h.fits" "batch = 64" \
    "# (default 0.5)"; do
    grep -qxF "$want" "$tmp/eff.txt" || { echo "--dump-config lacks '$want'"; cat "$tmp/eff.txt"; exit 1; }
done
fails 2 "unknown parameter 'nope'" "$sv" run --set nope=1 --dump-config

# provenance: absolute paths and SHA-256 of every input, the science image's
# observation cards, the configuration given, absolute model paths; inspect
# shows them, and names a labelled-stamps table as such (issue 11)
"$py" - "$tmp/e_sci.fits" <<'PY' || { echo "cannot add DATE-OBS"; exit 1; }
import sys
from astropy.io import fits
with fits.open(sys.argv[1], mode="update") as h:
    h[0].header["DATE-OBS"] = "2026-06-01T04:05:06"
    h[0].header["MJD-OBS"] = 61192.170208
PY
(cd "$tmp" && "$sv" run ${model:+--set "$model"} --set rb_threshold=0.7 --sci e_sci.fits \
    --ref e_ref.fits --diff e_diff.fits --detections e_det.fits -q -o prov.fits) ||
    { echo "provenance run failed"; exit 1; }
"$py" - "$tmp" <<'PY' || { echo "provenance cards"; exit 1; }
import hashlib, os, sys
from astropy.io import fits
d = sys.argv[1]
h = fits.getheader(d + "/prov.fits", "DETECTIONS")
for key, name in (("SCI", "e_sci"), ("REF", "e_ref"), ("DIFF", "e_diff"), ("DET", "e_det")):
    path = h[key + "FILE"]
    assert os.path.isabs(path) and os.path.samefile(path, d + "/" + name + ".fits"), path
    want = hashlib.sha256(open(path, "rb").read()).hexdigest()
    assert h[key + "SHA"] == want, (key, h[key + "SHA"], want)
assert h["DATE-OBS"] == "2026-06-01T04:05:06" and abs(h["MJD-OBS"] - 61192.170208) < 1e-4
assert h["EXPTIME"] > 0 and h["FILTER"] == "r", (h["EXPTIME"], h["FILTER"])
assert "rb_threshold=0.7" in h["SVCONFIG"], h["SVCONFIG"]
assert os.path.isabs(h["RBMFILE"]) and ".." not in h["RBMFILE"], h["RBMFILE"]
PY
run "$sv" inspect "$tmp/prov.fits" >"$tmp/inspect.txt"
for key in SVCFGHSH SVCONFIG SCISHA DETSHA RBMFILE VETOFLAG; do
    grep -q "^ *$key *=" "$tmp/inspect.txt" || { echo "inspect does not show $key"; exit 1; }
done
# the detections' sign (session 11): with the ztf preset the simulated
# table's isdiffpos is the sign column; by default (diff_positive = auto) a
# negative detection's saved DIFF stamp is minus the one diff_positive = no
# saves, a positive one's the same, SCI/REF always the same; the header says
# DIFFPOS / SIGNCOL / NINVERT; col_sign naming a missing column is an error
# naming it; a sextractor-preset run inverts nothing
run "$sv" run ${model:+--set "$model"} --set save_stamps=columns $inputs -q -o "$tmp/sg_auto.fits"
run "$sv" run ${model:+--set "$model"} --set save_stamps=columns --set diff_positive=no \
    $inputs -q -o "$tmp/sg_no.fits"
run "$sv" run ${model:+--set "$model"} --set save_stamps=columns --set preset=sextractor \
    --set col_x=xpos --set col_y=ypos --set col_id=candid --set rb_column=drb \
    $inputs -q -o "$tmp/sg_sex.fits"
fails 1 "'no_such_col'" "$sv" run ${model:+--set "$model"} --set col_sign=no_such_col $inputs -o "$tmp/x.fits"
"$py" - "$tmp" <<'PY' || { echo "diff_positive through run"; exit 1; }
import sys
import numpy as np
from astropy.io import fits
d = sys.argv[1]
a = fits.open(d + "/sg_auto.fits")["DETECTIONS"]
n = fits.open(d + "/sg_no.fits")["DETECTIONS"]
x = fits.open(d + "/sg_sex.fits")["DETECTIONS"]
neg = np.array([str(v).strip() == "f" for v in a.data["isdiffpos"]])
ok = (a.data["FLAGS"] & (8 | 16)) == 0
assert neg.any() and (~neg).any(), "the simulated table has no negative or no positive row"
assert a.header["DIFFPOS"] is True and a.header["SIGNCOL"] == "isdiffpos", a.header["DIFFPOS"]
assert a.header["NINVERT"] == int((neg & ok).sum()), (a.header["NINVERT"], (neg & ok).sum())
assert n.header["DIFFPOS"] is False and n.header["NINVERT"] == 0 and "SIGNCOL" not in n.header
assert x.header["DIFFPOS"] is False and x.header["NINVERT"] == 0
assert (a.data["FLAGS"] & 128).sum() == 0
for c in ("SCI", "REF"):
    assert np.array_equal(a.data[c], n.data[c], equal_nan=True), c
for i in np.nonzero(ok)[0]:
    want = -n.data["DIFF"][i] if neg[i] else n.data["DIFF"][i]
    assert np.array_equal(a.data["DIFF"][i], want, equal_nan=True), i
    assert np.array_equal(x.data["DIFF"][i], n.data["DIFF"][i], equal_nan=True), i
pos = ~neg & ok
assert np.array_equal(a.data["drb"][pos], n.data["drb"][pos])
assert np.array_equal(x.data["drb"], n.data["drb"], equal_nan=True)
changed = int((a.data["drb"][neg & ok] != n.data["drb"][neg & ok]).sum())
assert changed > 0, "no negative detection's score changed"
print("diff_positive: %d negative rows inverted (%d scores changed), %d positive unchanged"
      % ((neg & ok).sum(), changed, pos.sum()))
PY
run "$sv" simulate --stamps 8 --seed 2 -q -o "$tmp/stamps.fits"
"$sv" inspect "$tmp/stamps.fits" >"$tmp/inspect2.txt" 2>&1 ||
    { cat "$tmp/inspect2.txt"; echo "inspect fails on a labelled-stamps table"; exit 1; }
grep -q "labelled-stamps table" "$tmp/inspect2.txt" || { echo "stamps table not named"; exit 1; }
! grep -q "damaged model" "$tmp/inspect2.txt" || { echo "a stamps table called a damaged model"; exit 1; }
exit 0
