#!/usr/bin/python3
"""Write a small synthetic labelled-stamps table (stage/data/stamp_table.h layout)
for the CLI tests of train / finetune / evaluate / compare.

usage: make_stamps.py OUT.fits N SIZE CLASSES SEED [NOISE]
  CLASSES  comma-separated class list, e.g. bogus,real or
           transient,variable,asteroid,bogus
Stamps (SIZE x SIZE, Gaussian noise of sigma NOISE, default 0.4) by class
name: transient = a new point source in SCI and DIFF; variable = a source in
REF that brightened; asteroid = a short trail in SCI and DIFF only; bogus =
a hot pixel on a negative residual; real (real/bogus tables) = a transient.
Label i cycles through the classes.  Not physics: just separable patterns
that a small network learns in a few epochs.
"""
import sys

import numpy as np
from astropy.io import fits


def main():
    out, n, s, classes, seed = sys.argv[1:6]
    noise = float(sys.argv[6]) if len(sys.argv) > 6 else 0.4
    n, s, seed = int(n), int(s), int(seed)
    names = classes.split(",")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
    sci = np.empty((n, s, s), np.float32)
    ref = np.empty((n, s, s), np.float32)
    dif = np.empty((n, s, s), np.float32)
    label = np.arange(n) % len(names)
    for i in range(n):
        kind = names[label[i]]
        cx, cy = (s - 1) / 2 + rng.normal(0, 0.7, 2)
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 2.0 ** 2))
        a = b = d = np.zeros_like(g)
        if kind in ("transient", "real"):
            a, d = g, g
        elif kind == "variable":
            a, b, d = 1.5 * g, g, 0.5 * g
        elif kind == "asteroid":
            t = sum(np.exp(-((xx - cx - k) ** 2 + (yy - cy) ** 2) / (2 * 1.5 ** 2))
                    for k in range(-3, 4)) / 3
            a, d = t, t
        else:  # bogus
            hot = np.zeros_like(g)
            hot[int(cy), int(cx)] = 2.0
            a, d = hot, hot - 0.5 * g
        sci[i] = a + rng.normal(0, noise, g.shape)
        ref[i] = b + rng.normal(0, noise, g.shape)
        dif[i] = d + rng.normal(0, noise, g.shape)
    cols = [
        fits.Column("ID", "K", array=np.arange(n, dtype=np.int64)),
        fits.Column("SCI", "%dE" % (s * s), dim="(%d,%d)" % (s, s), array=sci),
        fits.Column("REF", "%dE" % (s * s), dim="(%d,%d)" % (s, s), array=ref),
        fits.Column("DIFF", "%dE" % (s * s), dim="(%d,%d)" % (s, s), array=dif),
        fits.Column("LABEL", "J", array=label.astype(np.int32)),
        fits.Column("LABELNAM", "16A", array=np.array([names[k] for k in label])),
    ]
    h = fits.BinTableHDU.from_columns(cols, name="STAMPS")
    h.header["SVFORMAT"] = "stampvet-stamps"
    h.header["SVFMTVER"] = 1
    h.header["STAMPSZ"] = s
    h.header["CHANNELS"] = "SCI,REF,DIFF"
    h.header["NCLASS"] = len(names)
    for k, nm in enumerate(names):
        h.header["CLASS%d" % (k + 1)] = nm
    h.header["SURVEY"] = "synthetic"
    h.header["PIXSCALE"] = 1.0
    h.add_checksum()
    p = fits.PrimaryHDU()
    p.add_checksum()
    fits.HDUList([p, h]).writeto(out, overwrite=True)


if __name__ == "__main__":
    main()
