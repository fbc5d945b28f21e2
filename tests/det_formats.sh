#!/bin/sh
# s3-conventions: detection tables in FITS_LDAC, CSV and ECSV (det_text.h,
# detections.h) give the same results as the FITS BINTABLE they were made
# from, the output columns follow each preset's survey names and origin in
# `run` and in `batch`, the header records the command line (SVCMD), and a
# damaged table gets an error naming the file and the problem (never a bare
# cfitsio message).  The FITS_LDAC catalogue is a SExtractor-like one made
# with astropy (LDAC_IMHEAD holding the image header, then LDAC_OBJECTS).
set -u
py="${SV_PYTHON:-}"
if [ -z "$py" ] || ! "$py" -c 'import astropy, numpy' 2>/dev/null; then
    echo "SKIP: no python3 with astropy and numpy (SV_PYTHON='$py')"
    exit 77
fi
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d /tmp/sv_det_formats.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
run() { "$@" || { echo "FAILED: $*"; exit 1; }; }
fail() { echo "FAIL: $*"; exit 1; }

run "$sv" simulate --exposure --survey ztf --size 300 --detections 30 --seed 11 -q -o "$tmp/e"
model=""
if [ ! -f "$STAMPVET_MODELS/braai-d6_m7.fits" ]; then
    run "$sv" simulate --stamps 200 --scheme rb --seed 3 -q -o "$tmp/train.fits"
    run "$sv" train --data "$tmp/train.fits" --arch mini --epochs 1 --quiet \
        --out "$tmp/rb.fits" >/dev/null
    model="rb_model=$tmp/rb.fits"
fi
imgs="--sci $tmp/e_sci.fits --ref $tmp/e_ref.fits --diff $tmp/e_diff.fits"

echo "== the same detections as FITS, FITS_LDAC, CSV and ECSV"
run "$py" - "$tmp" <<'PY'
import sys
import numpy as np
from astropy.io import fits
from astropy.table import Table
d = sys.argv[1]
t = Table.read(d + "/e_det.fits")
t = t["candid", "xpos", "ypos", "ra", "dec", "magpsf", "isdiffpos"]
t.write(d + "/det.fits", overwrite=True)
t.write(d + "/det.csv", format="csv", overwrite=True)
t.write(d + "/det.ecsv", format="ascii.ecsv", overwrite=True)
# SExtractor's FITS_LDAC: primary, LDAC_IMHEAD (the image header as one
# row of 80-character cards), LDAC_OBJECTS
hdr = fits.getheader(d + "/e_sci.fits")
cards = [str(c).ljust(80)[:80] for c in hdr.cards] + ["END".ljust(80)]
imhead = fits.BinTableHDU.from_columns(
    [fits.Column(name="Field Header Card", format="%dA" % (80 * len(cards)),
                 dim="(80, %d)" % len(cards), array=np.array([cards]))], name="LDAC_IMHEAD")
cols = [fits.Column(name="NUMBER", format="J", array=np.arange(1, len(t) + 1)),
        fits.Column(name="X_IMAGE", format="D", unit="pixel", array=t["xpos"]),
        fits.Column(name="Y_IMAGE", format="D", unit="pixel", array=t["ypos"]),
        fits.Column(name="ALPHA_J2000", format="D", unit="deg", array=t["ra"]),
        fits.Column(name="DELTA_J2000", format="D", unit="deg", array=t["dec"]),
        fits.Column(name="MAG_AUTO", format="E", unit="mag", array=t["magpsf"]),
        fits.Column(name="FLAGS", format="I", array=np.zeros(len(t), dtype=np.int16))]
objects = fits.BinTableHDU.from_columns(cols, name="LDAC_OBJECTS")
fits.HDUList([fits.PrimaryHDU(), imhead, objects]).writeto(d + "/det.ldac", overwrite=True)
fits.HDUList([fits.PrimaryHDU(), imhead, objects, objects.copy()]).writeto(
    d + "/two.ldac", overwrite=True)
# the LDAC_OBJECTS columns as a plain BINTABLE: the reference for the LDAC run
Table.read(d + "/det.ldac", hdu="LDAC_OBJECTS").write(d + "/sex.fits", overwrite=True)
PY
for f in det.fits det.csv det.ecsv; do
    run "$sv" run ${model:+--set "$model"} $imgs --detections "$tmp/$f" -q -o "$tmp/out_$f.fits"
done
# the ztf run without inverting negative detections' DIFF (diff_positive =
# no): what the sextractor preset, which has no sign column, must match
run "$sv" run ${model:+--set "$model"} --set diff_positive=no $imgs --detections "$tmp/det.fits" \
    -q -o "$tmp/out_nodp.fits"
for f in sex.fits det.ldac; do
    run "$sv" run ${model:+--set "$model"} --set preset=sextractor $imgs --detections "$tmp/$f" \
        -q -o "$tmp/out_$f.fits"
done
run "$py" - "$tmp" <<'PY'
import sys
import numpy as np
from astropy.io import fits
d = sys.argv[1]
def load(name):
    with fits.open(d + "/out_" + name + ".fits") as h:
        return h["DETECTIONS"].data.copy(), h["DETECTIONS"].header.copy()
ref, rh = load("det.fits")
for name in ("det.csv", "det.ecsv"):
    t, h = load(name)
    assert list(t.columns.names) == list(ref.columns.names), (name, t.columns.names)
    for c in ("candid", "xpos", "ypos", "ra", "dec", "drb", "REAL", "FLAGS", "XPIX"):
        a, b = np.asarray(t[c]), np.asarray(ref[c])
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (name, c)
    assert list(t["isdiffpos"]) == list(ref["isdiffpos"]), name
    assert h["DETFMT"] == name.split(".")[1].upper(), h["DETFMT"]
    print("%s: %d rows, columns and drb equal to the FITS table's" % (name, len(t)))
s, sh = load("sex.fits")
l, lh = load("det.ldac")
assert "LDAC_OBJECTS" in lh["DETFMT"], lh["DETFMT"]
assert lh["RBCOL"] == "rb" and lh["PIXORIG"] == 1
for c in ("NUMBER", "X_IMAGE", "MAG_AUTO", "rb", "SV_FLAGS", "XPIX"):
    a, b = np.asarray(l[c]), np.asarray(s[c])
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), c
# sextractor has no sign column: its scores are the ztf run's with
# diff_positive = no; the default ztf run differs only on isdiffpos = f rows
nd, ndh = load("nodp")
assert ndh["DIFFPOS"] is False and rh["DIFFPOS"] is True and lh["DIFFPOS"] is False
assert np.array_equal(np.asarray(l["rb"]), np.asarray(nd["drb"]), equal_nan=True)
pos = np.array([str(v).strip() == "t" for v in ref["isdiffpos"]])
assert pos.any() and not pos.all()
assert np.array_equal(np.asarray(l["rb"])[pos], np.asarray(ref["drb"])[pos], equal_nan=True)
assert np.array_equal(np.asarray(l["XPIX"]), np.asarray(ref["XPIX"]))
print("det.ldac: LDAC_OBJECTS found (%s); %d rows, rb equal to the FITS run's drb with "
      "diff_positive = no, and on its %d isdiffpos = t rows by default"
      % (lh["DETFMT"], len(l), pos.sum()))
for h in (rh, lh):
    assert h["SVCMD"].startswith("stampvet run "), h["SVCMD"]
PY
[ $? -eq 0 ] || fail "formats differ"

echo "== errors name the file and the problem"
printf '\001\002binary junk\n' >"$tmp/junk.dat"
printf 'candid,xpos,ypos\n1,10.5,20.5\n2,11.5\n' >"$tmp/ragged.csv"
printf 'no comma here\n' >"$tmp/prose.txt"
expect() { # file, text the error must hold; extra run options
    f=$1 want=$2
    shift 2
    out=$("$sv" run ${model:+--set "$model"} "$@" $imgs --detections "$f" -o "$tmp/x.fits" 2>&1)
    [ $? -ne 0 ] || fail "$f was accepted"
    echo "$out"
    echo "$out" | grep -qF "$f" || fail "the error does not name $f"
    echo "$out" | grep -qF "$want" || fail "the error does not say '$want'"
    ! echo "$out" | grep -q ": (cfitsio:\|^[^:]*cfitsio:" || fail "a bare cfitsio message"
}
expect "$tmp/junk.dat" "not a detection table"
expect "$tmp/prose.txt" "not a detection table"
expect "$tmp/ragged.csv" "line 3: 2 fields"
expect "$tmp/two.ldac" "2 LDAC_OBJECTS" --set preset=sextractor
expect "$tmp/det.ldac[1]" "LDAC_IMHEAD" --set preset=sextractor

echo "== batch outputs follow the presets (manifest overrides)"
cat >"$tmp/night.txt" <<EOT
e_sci.fits e_ref.fits e_diff.fits det.csv out_b/ztf.fits
e_sci.fits e_ref.fits e_diff.fits det.ecsv out_b/lsst.fits preset=lsst col_x=xpos col_y=ypos
e_sci.fits e_ref.fits e_diff.fits det.ldac out_b/sex.fits preset=sextractor
EOT
mkdir -p "$tmp/out_b"
run "$sv" batch "$tmp/night.txt" ${model:+--set "$model"} --progress none --quiet \
    --summary "$tmp/s.csv"
run "$py" - "$tmp" <<'PY'
import sys
from astropy.io import fits
d = sys.argv[1]
want = {"ztf": ("drb", 1, "drbversion"), "lsst": ("reliability", 0, None),
        "sex": ("rb", 1, None)}
for name, (score, origin, version) in want.items():
    h = fits.getheader(d + "/out_b/%s.fits" % name, "DETECTIONS")
    names = [h["TTYPE%d" % i] for i in range(1, h["TFIELDS"] + 1)]
    assert score in names and h["RBCOL"] == score, (name, names)
    assert h["PIXORIG"] == origin, (name, h["PIXORIG"])
    x = names.index("XPIX") + 1
    assert ("%d-based" % origin) in h["TCOMM%d" % x], h["TCOMM%d" % x]
    assert (version in names) if version else not any(n.endswith("version") for n in names)
    assert h["SVCMD"].startswith("stampvet batch "), h["SVCMD"]
    print("batch %s: %s, XPIX %d-based, %s" % (name, score, origin, h["DETFMT"]))
PY
[ $? -eq 0 ] || fail "batch outputs"
exit 0
