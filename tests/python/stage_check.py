"""stage_check.py OUT.fits DET.fits [--rb NAME] [--stamps none|columns|extension]
                  [--min-edge N] [--flagged ROW=FLAGS ...]

Read the stage's output with astropy as a user would (Table.read, checksums
verified) and check it against the input detection table: one row per
input row in input order, every input column with its values, the stage's
columns named as the preset's survey names them (PRESETS: ztf drb and
drbversion, lsst reliability with 0-based XPIX/YPIX, sextractor/generic
rb; --rb for a renamed score), the origin in PIXORIG and in XPIX/YPIX's
TCOMMn, the FLAGn cards, the provenance cards, and the stamps.  Prints a
short summary and 'OK', or the first problem and exits 1.
"""
import argparse
import sys
import warnings

import numpy as np
from astropy.io import fits
from astropy.table import Table

FLAGS = {1: "EDGE", 2: "BADFRAC", 4: "MASKED", 8: "OFFIMAGE", 16: "BADCOORD", 32: "FAILED",
         64: "BADCENTRE", 128: "BADSIGN"}
NOSCORE = 8 | 16 | 32


def fail(msg):
    print("stage_check: " + msg)
    sys.exit(1)


def same(a, b):
    """Equal values, NaN equal to NaN, masked equal to masked."""
    a = np.ma.asarray(a)
    b = np.ma.asarray(b)
    if a.shape != b.shape:
        return False
    ma = np.ma.getmaskarray(a)
    mb = np.ma.getmaskarray(b)
    if (ma != mb).any():
        return False
    av = np.asarray(a.filled(a.fill_value) if a.dtype.kind not in "fc" else a.filled(np.nan))
    bv = np.asarray(b.filled(b.fill_value) if b.dtype.kind not in "fc" else b.filled(np.nan))
    if av.dtype.kind in "fc":
        return bool(np.all((av == bv) | (np.isnan(av) & np.isnan(bv))))
    return bool(np.all(av == bv))


# preset: score column, its version column, pixel origin of XPIX/YPIX
PRESETS = {"ztf": ("drb", "drbversion", 1), "lsst": ("reliability", None, 0),
           "sextractor": ("rb", None, 1), "generic": ("rb", None, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("det")
    ap.add_argument("--rb", default=None,
                    help="score column (default: the preset's, see PRESETS)")
    ap.add_argument("--stamps", default="none")
    ap.add_argument("--min-edge", type=int, default=0)
    ap.add_argument("--flagged", action="append", default=[])
    a = ap.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(a.out, checksum=True) as hl:
            names = [h.name for h in hl]
            hdr = hl["DETECTIONS"].header
            for h in hl:
                if "CHECKSUM" not in h.header or "DATASUM" not in h.header:
                    fail("HDU %s has no CHECKSUM/DATASUM" % h.name)
    t = Table.read(a.out, hdu="DETECTIONS")
    d = Table.read(a.det)
    if len(t) != len(d):
        fail("%d rows out, %d in" % (len(t), len(d)))
    for i, c in enumerate(d.colnames):
        if t.colnames[i] != c:
            fail("column %d is %s, input has %s" % (i + 1, t.colnames[i], c))
        if not same(t[c], d[c]):
            fail("column %s differs from the input" % c)
        if str(t[c].unit or "") != str(d[c].unit or ""):
            fail("column %s lost its unit %s" % (c, d[c].unit))
    # the survey conventions of the preset the header names (catalog.h)
    preset = hdr.get("PRESET", "")
    if preset not in PRESETS:
        fail("PRESET = %r is not one of %s" % (preset, sorted(PRESETS)))
    score, version, origin = PRESETS[preset]
    if a.rb:
        score, version = a.rb, version and a.rb + "version"
    if hdr.get("RBCOL") != score:
        fail("RBCOL = %r, preset %s names the score %r" % (hdr.get("RBCOL"), preset, score))
    a.rb = score
    if hdr.get("PIXORIG") != origin and "pixel_origin" not in hdr.get("SVCONFIG", ""):
        fail("PIXORIG = %r, preset %s has origin %d" % (hdr.get("PIXORIG"), preset, origin))
    origin = hdr["PIXORIG"]
    for c in ("XPIX", "YPIX"):
        i = t.colnames.index(c) + 1 if c in t.colnames else 0
        if ("%d-based" % origin) not in hdr.get("TCOMM%d" % i, ""):
            fail("%s's description %r does not say origin %d" % (c, hdr.get("TCOMM%d" % i),
                                                               origin))
    if version:
        if version not in t.colnames or \
                {str(v, "ascii") if isinstance(v, bytes) else str(v)
                 for v in np.asarray(t[version])} != {hdr["RBMVERS"]}:
            fail("no column %s holding RBMVERS = %r on every row" % (version, hdr["RBMVERS"]))
    elif any(c.endswith("version") for c in t.colnames[len(d.colnames):]):
        fail("preset %s has no version column" % preset)
    if not hdr.get("RBMVERS"):
        fail("RBMVERS is empty")
    flags = hdr.get("FLAGCOL")
    if flags != ("SV_FLAGS" if preset == "sextractor" else "FLAGS"):
        fail("FLAGCOL = %r for preset %s" % (flags, preset))
    own = [a.rb, "REAL", flags, "BADFRAC", "XPIX", "YPIX"]
    for c in own:
        if c not in t.colnames:
            fail("no column %s" % c)
    for bit, name in FLAGS.items():
        if hdr.get("FLAG%d" % bit) != name:
            fail("FLAG%d card is %r, not %r" % (bit, hdr.get("FLAG%d" % bit), name))
    for key in ("SVVERS", "DIAABI", "RBMODEL", "RBMCKSUM", "RBTHRESH", "DATE", "DETFILE",
                "SCIFILE", "SVCMD", "SVCONFIG"):
        if key not in hdr:
            fail("no provenance card %s" % key)
    if hdr["NDET"] != len(d):
        fail("NDET = %s for %d rows" % (hdr["NDET"], len(d)))
    rb = np.ma.filled(np.ma.asarray(t[a.rb], dtype=float), np.nan)
    fl = np.asarray(t[flags])
    unscored = (fl & NOSCORE) != 0
    if (np.isnan(rb) != unscored).any():
        bad = np.nonzero(np.isnan(rb) != unscored)[0][0]
        fail("row %d: rb %s with FLAGS %d" % (bad, rb[bad], fl[bad]))
    ok = rb[~unscored]
    if ((ok < 0) | (ok > 1)).any():
        fail("scores outside [0, 1]")
    real = np.asarray(t["REAL"], dtype=bool)
    vetoed = (fl & hdr.get("VETOFLAG", 0)) != 0  # never REAL (dia_stage.h, section 7)
    if (real[~unscored] != ((ok >= hdr["RBTHRESH"]) & ~vetoed[~unscored])).any():
        fail("REAL disagrees with rb >= RBTHRESH and no VETOFLAG bit")
    if hdr["NSCORED"] != int((~unscored).sum()):
        fail("NSCORED = %s but %d rows have scores" % (hdr["NSCORED"], (~unscored).sum()))
    edge = int(((fl & 1) != 0).sum())
    if edge < a.min_edge:
        fail("%d EDGE rows, expected at least %d" % (edge, a.min_edge))
    for spec in a.flagged:
        row, want = (int(x) for x in spec.split("="))
        if fl[row] != want:
            fail("row %d has FLAGS %d, expected %d" % (row, fl[row], want))
    S = hdr["STAMPSZ"]
    if a.stamps == "columns":
        for c in ("SCI", "REF", "DIFF"):
            if t[c].shape != (len(t), S, S):
                fail("%s has shape %s" % (c, t[c].shape))
    elif a.stamps == "extension":
        if "STAMPS" not in names:
            fail("no STAMPS extension")
        s = Table.read(a.out, hdu="STAMPS")
        if len(s) != len(t) or s["SCI"].shape != (len(t), S, S):
            fail("STAMPS has %d rows of %s" % (len(s), s["SCI"].shape))
        if not (np.asarray(s["FLAGS"]) == fl).all():
            fail("STAMPS FLAGS differ")
        if (np.asarray(s["LABEL"]) != -1).any():
            fail("STAMPS rows are labelled")
    elif "SCI" in t.colnames or "STAMPS" in names:
        fail("stamps written but not asked for")
    counts = ", ".join("%s %d" % (n, ((fl & b) != 0).sum()) for b, n in FLAGS.items())
    print("%s: %d rows in input order, %d scored; %s" % (a.out, len(t), (~unscored).sum(),
                                                      counts))
    if "TRUECLS" in t.colnames:
        truth = np.array([v.decode() if isinstance(v, bytes) else str(v)
                          for v in np.asarray(t["TRUECLS"])])
        for c in np.unique(truth):
            m = (truth == c) & ~unscored
            if m.any():
                print("  %-10s %4d  mean %s %.3f  REAL %.2f" % (c, m.sum(), a.rb, rb[m].mean(),
                                                              real[m].mean()))
    print("OK")


if __name__ == "__main__":
    main()
