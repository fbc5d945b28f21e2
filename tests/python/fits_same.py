#!/usr/bin/env python3
"""Are two FITS files (or two folders of them) the same, byte for byte,
apart from date keywords?

usage: fits_same.py A B

A and B are files, or folders whose *.fits files are compared pairwise (the
two folders must hold the same names).  Each file is read as 2880-byte FITS
blocks: header cards are compared one by one except the cards whose keyword
starts with DATE, the CHECKSUM card (which covers the date) and SVCMD (the
command line, with its CONTINUE cards); the data
units must be identical bytes, and so must the DATASUM values (their
comment holds the time of writing).  Uses no FITS
library: this is a byte comparison.  Exit 0 when all are the same.
"""
import os
import sys

BLOCK = 2880


def hdus(path):
    """Yield (cards, data bytes) per HDU."""
    raw = open(path, "rb").read()
    pos = 0
    while pos < len(raw):
        cards = []
        while True:
            block = raw[pos:pos + BLOCK]
            if len(block) < BLOCK:
                raise ValueError("%s: truncated header at byte %d" % (path, pos))
            pos += BLOCK
            done = False
            for i in range(0, BLOCK, 80):
                card = block[i:i + 80].decode("ascii", "replace")
                cards.append(card)
                if card.startswith("END     ") or card.rstrip() == "END":
                    done = True
                    break
            if done:
                break
        kv = {}
        for c in cards:
            k = c[:8].strip()
            if c[8:10] == "= ":
                kv[k] = c[10:].split("/")[0].strip()
        naxis = int(kv.get("NAXIS", 0))
        n = 0
        if naxis:
            n = 1
            for i in range(1, naxis + 1):
                n *= int(kv["NAXIS%d" % i])
            n = (abs(int(kv["BITPIX"])) // 8) * int(kv.get("GCOUNT", 1)) * (
                int(kv.get("PCOUNT", 0)) + n)
        size = (n + BLOCK - 1) // BLOCK * BLOCK
        yield cards, raw[pos:pos + size]
        pos += size


def significant(cards):
    """Cards without DATE* and CHECKSUM; DATASUM without its comment (cfitsio
    puts the time of writing there); without SVCMD and its CONTINUE cards
    (the command line that made the file: shards and reruns differ)."""
    out = []
    in_cmd = False
    for c in cards:
        in_cmd = c.startswith("SVCMD ") or (in_cmd and c.startswith("CONTINUE"))
        if in_cmd or c.startswith("DATE") or c.startswith("CHECKSUM"):
            continue
        if c.startswith("DATASUM "):
            c = c.split("/")[0].rstrip()
        out.append(c)
    return out


def same_file(a, b):
    ha, hb = list(hdus(a)), list(hdus(b))
    if len(ha) != len(hb):
        return "%d HDUs vs %d" % (len(ha), len(hb))
    for i, ((ca, da), (cb, db)) in enumerate(zip(ha, hb)):
        sa, sb = significant(ca), significant(cb)
        if sa != sb:
            diff = [(x, y) for x, y in zip(sa, sb) if x != y][:3]
            return "HDU %d: headers differ: %s" % (i + 1, diff or "card count")
        if da != db:
            return "HDU %d: data differ" % (i + 1)
    return None


def main():
    a, b = sys.argv[1], sys.argv[2]
    if os.path.isdir(a):
        na = sorted(f for f in os.listdir(a) if f.endswith(".fits"))
        nb = sorted(f for f in os.listdir(b) if f.endswith(".fits"))
        if na != nb:
            print("different files: %s vs %s" % (na, nb))
            return 1
        pairs = [(os.path.join(a, f), os.path.join(b, f)) for f in na]
    else:
        pairs = [(a, b)]
    bad = 0
    for x, y in pairs:
        why = same_file(x, y)
        if why:
            print("DIFFER %s %s: %s" % (x, y, why))
            bad += 1
    print("compared %d files: %d differ" % (len(pairs), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
