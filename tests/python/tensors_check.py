#!/usr/bin/python3
"""tensors_check.py make DIR MODEL | check DIR MODEL -- for tests/score_tensors.sh.

make:  from rapid_ref.py's DIR/MODEL.in.f64 (B x 50 x F, zero-padded tails)
       write DIR/MODEL.X.fits (float32 [N, T, F] as numpy/astropy write it),
       DIR/MODEL.X30.fits (the first 30 steps), DIR/MODEL.badF.fits (one
       feature too many) and DIR/MODEL.nan.fits (sample 1 with a NaN).
check: compare `score --tensors` outputs in DIR (MODEL.last.txt,
       MODEL.all.txt, MODEL.last.csv, MODEL.all.fits, MODEL.x30.txt) with
       rapid_ref.py's numpy reference DIR/MODEL.ref.f64, to 1e-5: the last
       unpadded step of each sample, every step, the tables equal to the
       printed lines, and the 30-step run equal to the reference's first 30.
"""
import sys

import numpy as np
from astropy.io import fits

mode, d, m = sys.argv[1:4]
shape = open("%s/%s.shape" % (d, m)).read().split()
B, T, F, K = (int(v) for v in shape[:4])
x = np.fromfile("%s/%s.in.f64" % (d, m)).reshape(B, T, F).astype(np.float32)

if mode == "make":
    fits.PrimaryHDU(x).writeto("%s/%s.X.fits" % (d, m), overwrite=True)
    fits.PrimaryHDU(np.ascontiguousarray(x[:, :30])).writeto("%s/%s.X30.fits" % (d, m),
                                                             overwrite=True)
    fits.PrimaryHDU(np.zeros((B, T, F + 1), np.float32)).writeto("%s/%s.badF.fits" % (d, m),
                                                                 overwrite=True)
    xn = x.copy()
    xn[1, 3, 0] = np.nan
    fits.PrimaryHDU(xn).writeto("%s/%s.nan.fits" % (d, m), overwrite=True)
    sys.exit(0)

ref = np.fromfile("%s/%s.ref.f64" % (d, m)).reshape(B, T, K)
last = np.array([max([t for t in range(T) if np.any(x[b, t] != 0)], default=-1)
                 for b in range(B)])
TOL = 1e-5
fails = 0


def parse(path, with_step):
    rows = []
    for line in open(path):
        tok = line.split()
        vals = [float(t.split("=", 1)[1]) for t in tok[(2 if with_step else 1):]]
        rows.append((int(tok[0]), int(tok[1]) if with_step else None, np.array(vals)))
    return rows


def report(what, worst, n):
    global fails
    ok = worst <= TOL and n > 0
    print("%s %s: %d rows, max |stampvet - numpy| = %.2e" % (m, what, n, worst))
    fails += not ok


rows = parse("%s/%s.last.txt" % (d, m), False)
assert [r[0] for r in rows] == list(range(B)), "one line per sample, in order"
report("last unpadded step", max(np.abs(v - ref[i, last[i]]).max() for i, _, v in rows),
       len(rows))
rows_all = parse("%s/%s.all.txt" % (d, m), True)
assert len(rows_all) == B * T
report("every step", max(np.abs(v - ref[i, t]).max() for i, t, v in rows_all), len(rows_all))
csv = np.genfromtxt("%s/%s.last.csv" % (d, m), delimiter=",", names=True)
assert list(csv["step"].astype(int)) == list(last), "csv step column = last unpadded step"
tab = np.array([list(r)[2:] for r in csv])
report("csv table", np.abs(tab - np.array([v for _, _, v in rows])).max(), len(tab))
with fits.open("%s/%s.all.fits" % (d, m)) as h:
    s = h["SCORES"].data
    ft = np.array([[s[c][r] for c in s.columns.names[2:]] for r in range(len(s))])
    assert list(s["SAMPLE"]) == [i for i, _, _ in rows_all]
    assert list(s["STEP"]) == [t for _, t, _ in rows_all]
report("fits table", np.abs(ft - np.array([v for _, _, v in rows_all])).max(), len(ft))
rows30 = parse("%s/%s.x30.txt" % (d, m), True)
report("30 steps (free time axis)",
       max(np.abs(v - ref[i, t]).max() for i, t, v in rows30), len(rows30))
sys.exit(1 if fails else 0)
