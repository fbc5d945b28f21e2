#!/usr/bin/python3
"""broker_filter.py — a broker-style alert filter on stampvet, in Python.

Reads Avro alert packets (ZTF or LSST/Rubin; files, or a folder of them),
scores every alert with a real/bogus model (braai) and, optionally, a class
model, and keeps the alerts scored at or above a threshold, as a broker's
filter would before forwarding them.  Writes the kept alerts as CSV (to
stdout or -o FILE) with the identifiers, the scores, the survey's own score
and the class probabilities, and prints a one-line summary to stderr.
Alerts that cannot be scored (no cutouts, damaged packet) are never kept
and are counted in the summary, with the first reasons shown.

    broker_filter.py --model braai-d6_m7.fits [--class-model cls.fits]
                     [--threshold 0.5] [-o kept.csv] PACKET.avro|FOLDER ...
"""
import argparse
import os
import sys

import numpy as np

import stampvet


def packet_files(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if name.endswith(".avro"):
                    yield os.path.join(p, name)
        else:
            yield p


def score(paths, model, class_model=None, threads=1):
    """One table of every alert of every packet, in order, with the class
    probabilities beside the real/bogus score when a class model is given."""
    from astropy.table import hstack

    files = list(packet_files(paths))
    if not files:
        raise SystemExit("broker_filter: no packets given")
    # errors='flag': a packet that cannot be read is a flagged row, not the
    # end of the night
    rb = stampvet.score_alerts(files, model=model, threads=threads, errors="flag")
    if class_model is None:
        return rb
    cls = stampvet.score_alerts(files, model=class_model, threads=threads, errors="flag")
    extra = [c for c in cls.colnames if c.startswith("p_") or c == "class"]
    return hstack([rb, cls[extra]], metadata_conflicts="silent")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("packets", nargs="+", help="Avro packet files or folders of them")
    ap.add_argument("--model", required=True, help="real/bogus model (e.g. braai-d6_m7.fits)")
    ap.add_argument("--class-model", help="class model (optional)")
    ap.add_argument("--threshold", type=float, default=0.5, help="keep score >= this (0.5)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--output", help="CSV of the kept alerts (default: stdout)")
    a = ap.parse_args(argv)

    t = score(a.packets, a.model, a.class_model, a.threads)
    score_col = "drb" if "drb" in t.colnames else ("reliability" if "reliability" in t.colnames
                                                   else "score")
    s = np.asarray(t[score_col], float)
    scored = np.isfinite(s)
    keep = scored & (s >= a.threshold)
    kept = t[keep]
    drop = [c for c in ("source", "record", "error") if c in kept.colnames]
    kept.remove_columns(drop)
    if a.output:
        kept.write(a.output, format="ascii.csv", overwrite=True)
    else:
        kept.write(sys.stdout, format="ascii.csv")
    print(f"broker_filter: {len(t)} alerts, {int(scored.sum())} scored, {int(keep.sum())} kept "
          f"({score_col} >= {a.threshold:g}), {int((~scored).sum())} not scored", file=sys.stderr)
    if "error" in t.colnames:
        for e in [e for e in t["error"][~scored] if e][:3]:
            print(f"broker_filter: not scored: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
