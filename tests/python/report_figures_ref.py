"""report_figures_ref.py — independent reference values for
tests/test_report_figures.c (Debian's python3 with numpy and astropy).

Reads one case per line from the file given and prints one answer line per
case:
  zscale N v1..vN            -> "zscale z1 z2"  astropy ZScaleInterval()
  pr N s1 l1 .. sN lN        -> "pr ap"         average precision, brute force
  hist B LO HI N v1..vN      -> "hist c1..cB"   numpy.histogram
  calib B N p1 h1 .. pN hN   -> "calib ece"     expected calibration error
"""
import sys

import numpy as np
from astropy.visualization import ZScaleInterval


def average_precision(s, l):
    # for each distinct threshold t, descending: recall and precision of
    # "called positive when s >= t"; AP = sum (R_k - R_{k-1}) P_k
    P = l.sum()
    ap, r_prev = 0.0, 0.0
    for t in sorted(set(s.tolist()), reverse=True):
        called = s >= t
        tp = float((called & (l == 1)).sum())
        r, p = tp / P, tp / called.sum()
        ap += (r - r_prev) * p
        r_prev = r
    return ap


def ece(p, h, nbins):
    b = np.minimum((p * nbins).astype(int), nbins - 1)
    total = 0.0
    for k in range(nbins):
        m = b == k
        if m.any():
            total += m.sum() / len(p) * abs(h[m].mean() - p[m].mean())
    return total


for line in open(sys.argv[1]):
    w = line.split()
    if not w:
        continue
    kind = w[0]
    if kind == "zscale":
        n = int(w[1])
        v = np.array([float(x) for x in w[2:2 + n]], dtype=np.float32)
        z1, z2 = ZScaleInterval().get_limits(v)
        print("zscale %.17g %.17g" % (z1, z2))
    elif kind == "pr":
        n = int(w[1])
        a = np.array([float(x) for x in w[2:2 + 2 * n]]).reshape(n, 2)
        print("pr %.17g" % average_precision(a[:, 0], a[:, 1].astype(int)))
    elif kind == "hist":
        nb, lo, hi, n = int(w[1]), float(w[2]), float(w[3]), int(w[4])
        v = np.array([float(x) for x in w[5:5 + n]])
        c, _ = np.histogram(v, bins=nb, range=(lo, hi))
        print("hist " + " ".join(str(x) for x in c))
    elif kind == "calib":
        nb, n = int(w[1]), int(w[2])
        a = np.array([float(x) for x in w[3:3 + 2 * n]]).reshape(n, 2)
        print("calib %.17g" % ece(a[:, 0], a[:, 1], nb))
