#!/usr/bin/env python3
"""compare_real.py -- simulated ZTF stamps against real ZTF alert cutouts.

    doc/compare_real.py --stampvet build/stampvet --model models/braai-d6_m7.fits \\
        [--stamps 2000] [--seed 9001] [--sim TABLE.fits] REAL_DIR [REAL_DIR ...]

REAL_DIR: a folder of real alerts (<candid>_{sci,ref,diff}.fits.gz and
alerts.csv with drb, isdiffpos; ../shared/fixtures/ztf-alerts-dev).  The
simulated set is made with `stampvet simulate --survey ztf --scheme rb`
(or given with --sim).  Prints a Markdown report:

  * pixel statistics per image, real against simulated (reals and bogus
    apart): background level (median of the pixels more than 20 px from
    the centre), sky noise (1.4826 x MAD of the differences of horizontal
    neighbours among the same, / sqrt 2: blind to smooth light), the noise ratios
    REF/SCI and DIFF/SCI (template depth, subtraction noise), NaN fraction,
    peak S/N of the centre of the difference (extremum of the detection's
    sign in the central 3x3 over the difference's sky noise), and the PSF
    FWHM of the centre source (2 sqrt(A / pi), A = the connected area above
    half the peak, on the science image and on the difference; stamps with
    peak S/N >= 10);
  * braai's score (the model given, ZTF's production d6_m7) on the real
    alerts and on simulated reals and bogus (per sub-type), as quantiles and
    the fraction called real (>= 0.5);
  * braai's ROC AUC and accuracy on the simulated set (`stampvet evaluate`).

The real alerts are a yardstick: nothing here trains on them.  Quantiles
are 10 / 50 / 90 %.  Needs numpy and astropy (Debian python3-astropy).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
from astropy.io import fits

RING = 20.0  # px from the centre: outside it, a stamp's sky


def ring_mask(s):
    y, x = np.mgrid[0:s, 0:s]
    c = s // 2
    return np.hypot(x - c, y - c) > RING


def half_max_fwhm(img, sign, c):
    """FWHM (px) of the source at the centre: 2 sqrt(A/pi), A = pixels
    connected to the peak (in the central 5x5) that are >= half the peak."""
    a = sign * img
    win = a[c - 2:c + 3, c - 2:c + 3]
    if not np.isfinite(win).any():
        return np.nan
    k = np.nanargmax(win)
    py, px = c - 2 + k // 5, c - 2 + k % 5
    peak = a[py, px]
    if not peak > 0:
        return np.nan
    above = np.nan_to_num(a, nan=-np.inf) >= 0.5 * peak
    seen = np.zeros_like(above)
    stack = [(py, px)]
    n = 0
    while stack:
        y, x = stack.pop()
        if y < 0 or x < 0 or y >= a.shape[0] or x >= a.shape[1] or seen[y, x] or not above[y, x]:
            continue
        seen[y, x] = True
        n += 1
        if n > 400:  # not a point source
            return np.nan
        stack += [(y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)]
    return 2.0 * np.sqrt(n / np.pi)


def stamp_stats(sci, ref, diff, sign):
    s = sci.shape[0]
    c = s // 2
    m = ring_mask(s)
    out = {}
    for name, im in (("sci", sci), ("ref", ref), ("diff", diff)):
        v = im[m]
        v = v[np.isfinite(v)]
        med = np.median(v) if v.size else np.nan
        out[name + "_bg"] = med
        # pixel-to-pixel noise: MAD of horizontal neighbour differences / sqrt 2,
        # blind to smooth light (a host galaxy, a crowded field's haze)
        dx = (im[:, 1:] - im[:, :-1])[m[:, 1:] & m[:, :-1]]
        dx = dx[np.isfinite(dx)]
        out[name + "_noise"] = (1.4826 / np.sqrt(2)) * np.median(np.abs(dx - np.median(dx))) \
            if dx.size else np.nan
    out["ref_over_sci_noise"] = out["ref_noise"] / out["sci_noise"]
    out["diff_over_sci_noise"] = out["diff_noise"] / out["sci_noise"]
    allpix = np.stack([sci, ref, diff])
    out["nan_frac"] = float(np.mean(~np.isfinite(allpix)))
    d = sign * (diff - out["diff_bg"])
    out["peak_snr"] = np.nanmax(d[c - 1:c + 2, c - 1:c + 2]) / out["diff_noise"]
    strong = out["peak_snr"] >= 10
    out["fwhm_sci"] = half_max_fwhm(sci - out["sci_bg"], 1.0, c) if strong else np.nan
    out["fwhm_diff"] = half_max_fwhm(diff - out["diff_bg"], sign, c) if strong else np.nan
    return out


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.exit("compare_real.py: %s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


def read_real(dirs, sv, model, tmp):
    rows = []
    for d in dirs:
        with open(os.path.join(d, "alerts.csv"), newline="") as f:
            alerts = list(csv.DictReader(f))
        lst = os.path.join(tmp, "real.list")
        with open(lst, "w") as f:
            for a in alerts:
                p = [os.path.join(os.path.abspath(d), "%s_%s.fits.gz" % (a["candid"], k))
                     for k in ("sci", "ref", "diff")]
                f.write("%s %s %s %s\n" % (a["candid"], *p))
        scores = dict(l.split() for l in run([sv, "score", "--model", model, "--list", lst])
                      .splitlines())
        for a in alerts:
            ims = [fits.getdata(os.path.join(d, "%s_%s.fits.gz" % (a["candid"], k)))
                   .astype(np.float64) for k in ("sci", "ref", "diff")]
            if any(im.shape != (63, 63) for im in ims):
                continue  # a cutout at a CCD edge: not comparable pixel for pixel
            sign = 1.0 if a["isdiffpos"] in ("t", "1") else -1.0
            st = stamp_stats(*ims, sign)
            st["score"] = float(scores[a["candid"]])
            st["group"] = "real alerts"
            st["drb"] = float(a["drb"])
            rows.append(st)
    return rows


def read_sim(path, sv, model, tmp):
    sc_csv = os.path.join(tmp, "sim_scores.csv")
    ev = run([sv, "evaluate", "--model", model, "--data", path, "--threads", "2",
              "--scores-out", sc_csv])
    with open(sc_csv, newline="") as f:
        sc = {int(r["row"]): float(r["score"]) for r in csv.DictReader(l for l in f
                                                                        if not l.startswith("#"))}
    t = fits.getdata(path, "STAMPS")
    rows = []
    for i in range(len(t)):
        snr = float(t["SNR"][i])
        sign = 1.0 if snr >= 0 else -1.0
        st = stamp_stats(t["SCI"][i].astype(np.float64), t["REF"][i].astype(np.float64),
                         t["DIFF"][i].astype(np.float64), sign)
        st["score"] = sc[i]
        cls = t["TRUECLS"][i].strip()
        st["group"] = "sim bogus" if cls == "bogus" else "sim reals"
        st["subtype"] = t["SUBTYPE"][i].strip()
        rows.append(st)
    return rows, ev


def q(vals):
    v = np.asarray([x for x in vals if np.isfinite(x)])
    if not v.size:
        return "—"
    a, b, c = np.percentile(v, [10, 50, 90])
    f = (lambda x: "%.3g" % x)
    return "%s / %s / %s" % (f(a), f(b), f(c))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("real", nargs="+", help="folders of real ZTF alerts")
    ap.add_argument("--stampvet", default="./stampvet")
    ap.add_argument("--model", required=True, help="braai (models/braai-d6_m7.fits)")
    ap.add_argument("--sim", help="a simulated ZTF stamp table (default: simulate one)")
    ap.add_argument("--stamps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=9001)
    ap.add_argument("--band", default="g,r",
                    help="bands of the simulated stamps (default g,r: the real alerts are both)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sim = a.sim
        if not sim:
            sim = os.path.join(tmp, "sim.fits")
            run([a.stampvet, "simulate", "--survey", "ztf", "--scheme", "rb", "--stamps",
                 str(a.stamps), "--seed", str(a.seed), "--band", a.band, "--threads", "2", "-q",
                 "-o", sim])
        real = read_real(a.real, a.stampvet, a.model, tmp)
        simrows, ev = read_sim(sim, a.stampvet, a.model, tmp)
    groups = ["real alerts", "sim reals", "sim bogus"]
    by = {g: [r for r in real + simrows if r["group"] == g] for g in groups}
    print("Simulated: %s; real: %s (%d alerts, full 63x63 cutouts). Quantiles 10 / 50 / 90 %%.\n"
          % (("`stampvet simulate --survey ztf --scheme rb --stamps %d --seed %d --band %s`"
              % (a.stamps, a.seed, a.band)) if not a.sim else os.path.basename(a.sim),
             ", ".join(os.path.basename(os.path.normpath(d)) for d in a.real), len(real)))
    print("| statistic | " + " | ".join("%s (%d)" % (g, len(by[g])) for g in groups) + " |")
    print("| --- | --- | --- | --- |")
    stats = [("SCI background, adu", "sci_bg"), ("REF background, adu", "ref_bg"),
             ("DIFF background, adu", "diff_bg"), ("SCI sky noise, adu", "sci_noise"),
             ("REF sky noise, adu", "ref_noise"), ("DIFF sky noise, adu", "diff_noise"),
             ("noise REF / SCI", "ref_over_sci_noise"), ("noise DIFF / SCI", "diff_over_sci_noise"),
             ("NaN fraction", "nan_frac"), ("peak S/N of the difference", "peak_snr"),
             ("FWHM on SCI, px (S/N >= 10)", "fwhm_sci"),
             ("FWHM on DIFF, px (S/N >= 10)", "fwhm_diff")]
    for label, k in stats:
        print("| %s | %s |" % (label, " | ".join(q([r[k] for r in by[g]]) for g in groups)))
    print("| braai score | %s |" % " | ".join(q([r["score"] for r in by[g]]) for g in groups))
    print("| braai calls real (>= 0.5) | %s |" % " | ".join(
        "%.3f" % np.mean([r["score"] >= 0.5 for r in by[g]]) if by[g] else "—" for g in groups))
    print("\nbraai on simulated bogus, by sub-type (fraction called real; median score):\n")
    print("| sub-type | n | called real | median score |")
    print("| --- | --- | --- | --- |")
    subs = sorted({r["subtype"] for r in simrows})
    for s in subs:
        v = [r["score"] for r in simrows if r["subtype"] == s]
        g = [r for r in simrows if r["subtype"] == s][0]["group"]
        print("| %s (%s) | %d | %.3f | %.3g |" % (s, g.split()[1], len(v),
                                                  np.mean(np.asarray(v) >= 0.5), np.median(v)))
    print("\nbraai on the simulated set (`stampvet evaluate`):\n\n```")
    keep = ("samples", "accuracy", "ROC AUC", "threshold", "FPR = FNR")
    print("\n".join(l for l in ev.splitlines() if l.split(":")[0].strip() in keep))
    print("```")


if __name__ == "__main__":
    main()
