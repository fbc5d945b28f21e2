#!/usr/bin/python3
"""onnx_check.py drb ALERTS.csv SCORES [KERAS_SCORES] | torch REF SCORES
-- comparisons for tests/onnx_import.sh, to 1e-5.

drb:   `score --list` lines "ID SCORE" of the ONNX-imported braai against
       ZTF's drb in alerts.csv (rows with known_mismatch = 0; at least 4),
       and against the Keras import's scores when given.
torch: "ID a=P b=P c=P" lines against torch's "ID p0 p1 p2".
"""
import csv
import sys

TOL = 1e-5
mode = sys.argv[1]


def scores(path):
    out = {}
    for line in open(path):
        tok = line.split()
        out[tok[0]] = [float(t.split("=")[-1]) for t in tok[1:]]
    return out


if mode == "drb":
    s = scores(sys.argv[3])
    ker = scores(sys.argv[4]) if len(sys.argv) > 4 else None
    worst, worst_k, n = 0.0, 0.0, 0
    for row in csv.DictReader(open(sys.argv[2])):
        cid = row["candid"]
        if cid not in s:
            sys.exit("FAIL: %s not scored" % cid)
        if ker:
            worst_k = max(worst_k, abs(s[cid][0] - ker[cid][0]))
        if row.get("known_mismatch", "0").strip() not in ("", "0"):
            continue
        d = abs(s[cid][0] - float(row["drb"]))
        print("%s onnx %.9g drb %s |d| %.2e" % (cid, s[cid][0], row["drb"], d))
        worst = max(worst, d)
        n += 1
    print("ONNX braai vs ZTF drb: %d alerts, max |d| = %.2e; vs Keras import %.2e"
          % (n, worst, worst_k))
    sys.exit(0 if n >= 4 and worst <= TOL and worst_k <= TOL else 1)

ref, got = scores(sys.argv[2]), scores(sys.argv[3])
worst = max(max(abs(a - b) for a, b in zip(ref[i], got[i])) for i in ref)
print("ONNX two-input model vs torch: %d samples, max |d| = %.2e" % (len(ref), worst))
sys.exit(0 if len(got) == len(ref) and worst <= TOL else 1)
