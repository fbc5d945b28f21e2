#!/usr/bin/env python3
"""avro_seeds.py OUTDIR -- small alert packets made here (not copied from any
survey): the fuzz seeds of the Avro alert reader (tests/fuzz/avro/).

Each is an Avro object container file with a cut-down ZTF (3.3 field names)
or LSST (diaSource) alert schema and 8x8 cutouts, under 64 KiB as the fuzz
runner wants.  The container is encoded by hand here only because Debian has
no Python Avro package; the reader under test is libavro.
"""
import gzip
import json
import os
import struct
import sys
import zlib


def zlong(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zbytes(b):
    return zlong(len(b)) + b


def zstr(s):
    return zbytes(s.encode())


def zdouble(x):
    return struct.pack("<d", x)


def zfloat(x):
    return struct.pack("<f", x)


def fits_image(w, h, seed):
    cards = ["SIMPLE  =                    T", "BITPIX  =                  -32",
             "NAXIS   =                    2", "NAXIS1  = %20d" % w, "NAXIS2  = %20d" % h,
             "END"]
    hdr = "".join(c.ljust(80) for c in cards).ljust(2880).encode()
    pix = b"".join(struct.pack(">f", float((i * 7 + seed) % 13) - 3.0) for i in range(w * h))
    return hdr + pix + b"\0" * (-len(pix) % 2880)


ZTF_SCHEMA = {
    "type": "record", "name": "alert", "namespace": "ztf",
    "fields": [
        {"name": "schemavsn", "type": "string"},
        {"name": "objectId", "type": "string"},
        {"name": "candid", "type": "long"},
        {"name": "candidate", "type": {
            "type": "record", "name": "candidate", "fields": [
                {"name": "jd", "type": "double"}, {"name": "fid", "type": "int"},
                {"name": "candid", "type": "long"}, {"name": "isdiffpos", "type": "string"},
                {"name": "ra", "type": "double"}, {"name": "dec", "type": "double"},
                {"name": "magpsf", "type": "float"}, {"name": "sigmapsf", "type": "float"},
                {"name": "diffmaglim", "type": ["null", "float"]},
                {"name": "magzpsci", "type": ["null", "float"]},
                {"name": "drb", "type": ["null", "float"]},
                {"name": "drbversion", "type": ["null", "string"]}]}},
        {"name": "prv_candidates", "type": ["null", {"type": "array", "items": {
            "type": "record", "name": "prv_candidate", "fields": [
                {"name": "jd", "type": "double"}, {"name": "fid", "type": "int"},
                {"name": "candid", "type": ["null", "long"]},
                {"name": "magpsf", "type": ["null", "float"]},
                {"name": "sigmapsf", "type": ["null", "float"]},
                {"name": "diffmaglim", "type": ["null", "float"]},
                {"name": "isdiffpos", "type": ["null", "string"]}]}}]},
        {"name": "cutoutScience", "type": ["null", {
            "type": "record", "name": "cutout", "fields": [
                {"name": "fileName", "type": "string"}, {"name": "stampData", "type": "bytes"}]}]},
        {"name": "cutoutTemplate", "type": ["null", "ztf.cutout"]},
        {"name": "cutoutDifference", "type": ["null", "ztf.cutout"]}]}

LSST_SCHEMA = {
    "type": "record", "name": "alert", "namespace": "lsst",
    "fields": [
        {"name": "diaSourceId", "type": "long"},
        {"name": "diaSource", "type": {
            "type": "record", "name": "diaSource", "fields": [
                {"name": "diaSourceId", "type": "long"},
                {"name": "diaObjectId", "type": ["null", "long"]},
                {"name": "midpointMjdTai", "type": "double"},
                {"name": "band", "type": ["null", "string"]},
                {"name": "ra", "type": "double"}, {"name": "dec", "type": "double"},
                {"name": "x", "type": "float"}, {"name": "y", "type": "float"},
                {"name": "psfFlux", "type": ["null", "float"]},
                {"name": "psfFluxErr", "type": ["null", "float"]},
                {"name": "reliability", "type": ["null", "float"]}]}},
        {"name": "prvDiaSources", "type": ["null", {"type": "array", "items": "lsst.diaSource"}]},
        {"name": "cutoutDifference", "type": ["null", "bytes"]},
        {"name": "cutoutScience", "type": ["null", "bytes"]},
        {"name": "cutoutTemplate", "type": ["null", "bytes"]}]}


def ztf_record(candid, n_prv, cutouts=True):
    r = zstr("3.3") + zstr("ZTF26seedaaa") + zlong(candid)
    r += (zdouble(2461000.5) + zlong(2) + zlong(candid) + zstr("t") + zdouble(150.0) +
          zdouble(2.0) + zfloat(18.5) + zfloat(0.05) + zlong(1) + zfloat(20.5) + zlong(1) +
          zfloat(26.3) + zlong(1) + zfloat(0.9) + zlong(1) + zstr("d6_m7"))
    if n_prv:
        r += zlong(1) + zlong(n_prv)
        for k in range(n_prv):
            det = k % 2 == 0
            r += zdouble(2460990.5 + k) + zlong(1 + k % 2)
            r += (zlong(1) + zlong(candid - k - 1)) if det else zlong(0)
            r += (zlong(1) + zfloat(19.0)) if det else zlong(0)
            r += (zlong(1) + zfloat(0.1)) if det else zlong(0)
            r += zlong(1) + zfloat(20.3)
            r += (zlong(1) + zstr("t")) if det else zlong(0)
        r += zlong(0)
    else:
        r += zlong(0)
    for k, tag in enumerate(("sci", "ref", "diff")):
        if cutouts:
            data = gzip.compress(fits_image(8, 8, k), mtime=0)
            r += zlong(1) + zstr("candid%d_%s.fits.gz" % (candid, tag)) + zbytes(data)
        else:
            r += zlong(0)
    return r


def lsst_record(sid, n_prv):
    def source(i):
        return (zlong(i) + zlong(1) + zlong(i // 1000) + zdouble(60900.25) + zlong(1) +
                zstr("i") + zdouble(10.0) + zdouble(-40.0) + zfloat(100.0) + zfloat(200.0) +
                zlong(1) + zfloat(5000.0) + zlong(1) + zfloat(250.0) + zlong(1) + zfloat(0.7))
    r = zlong(sid) + source(sid)
    if n_prv:
        r += zlong(1) + zlong(n_prv) + b"".join(source(sid - k - 1) for k in range(n_prv))
        r += zlong(0)
    else:
        r += zlong(0)
    for k in range(3):
        r += zlong(1) + zbytes(fits_image(6, 6, k))
    return r


def container(schema, records, codec="null"):
    sync = bytes(range(16))
    meta = [("avro.schema", json.dumps(schema).encode()), ("avro.codec", codec.encode())]
    out = b"Obj\x01" + zlong(len(meta))
    for k, v in meta:
        out += zstr(k) + zbytes(v)
    out += zlong(0) + sync
    data = b"".join(records)
    if codec == "deflate":
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = c.compress(data) + c.flush()
    return out + zlong(len(records)) + zlong(len(data)) + data + sync


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "ztf.avro": container(ZTF_SCHEMA, [ztf_record(3000000000000000001, 3)]),
        "ztf_two_deflate.avro": container(ZTF_SCHEMA, [ztf_record(3000000000000000002, 2),
                                                       ztf_record(3000000000000000003, 0)],
                                          "deflate"),
        "ztf_nocutout.avro": container(ZTF_SCHEMA, [ztf_record(3000000000000000004, 1, False)]),
        "lsst.avro": container(LSST_SCHEMA, [lsst_record(4000000000000001, 2)]),
    }
    for name, b in seeds.items():
        assert len(b) < 65536, name
        with open(os.path.join(out, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
