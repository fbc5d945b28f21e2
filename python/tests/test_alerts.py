"""stampvet.score_alerts on the real ZTF and Rubin alert packets of
../shared/fixtures/alert-packets: the table of `stampvet score --alerts`
value for value, ZTF's drb to 1e-5, bytes as files, damaged packets as
flagged rows or clear exceptions, threads."""
import csv
import glob
import os
import threading

import numpy as np
import pytest

import stampvet
from conftest import FIXTURES, fixture_dir, run_cli

pytestmark = pytest.mark.skipif(not stampvet._stampvet.alerts_available,
                                reason="stampvet built without Avro (libavro-dev)")
DRB_TOL = 1e-5


def packets(survey):
    files = sorted(glob.glob(os.path.join(fixture_dir("alert-packets", survey), "*.avro")))
    if not files:
        pytest.skip(f"no {survey} packets in {FIXTURES}/alert-packets/{survey}")
    return files


def cli_table(model, files, tmp_path, *extra):
    """`stampvet score --alerts` as a list of CSV rows (dicts)."""
    out = tmp_path / "cli.csv"
    run_cli("score", "--model", model, "--alerts", *files, *extra, "-o", out)
    with open(out, newline="") as f:
        return list(csv.DictReader(f))


def assert_equals_cli(t, rows):
    """Every column of the table equals the CLI's CSV, value for value."""
    assert len(t) == len(rows)
    assert t.colnames == list(rows[0].keys())
    for name in t.colnames:
        col = t[name]
        for got, want in zip(col.tolist(), (r[name] for r in rows)):
            if col.dtype.kind == "f":  # the CLI prints %.9g (a float32 round trips)
                assert (format(got, ".9g") if np.isfinite(got) else "") == want, \
                    (name, got, want)
            elif got is None or got is np.ma.masked:  # an unknown identifier
                assert want == "", (name, want)
            else:
                assert str(got) == want, (name, got, want)


def known_mismatch():
    """candid -> known_mismatch of the ztf-alerts*/alerts.csv fixtures."""
    km = {}
    for p in glob.glob(os.path.join(FIXTURES, "ztf-alerts*", "alerts.csv")):
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                if r.get("candid"):
                    km[r["candid"]] = r.get("known_mismatch", "")
    return km


@pytest.fixture(scope="module")
def ztf_table(braai_path):
    return stampvet.score_alerts(packets("ztf"), model=braai_path)


def test_ztf_packets_equal_cli_and_drb(ztf_table, braai_path, tmp_path):
    files = packets("ztf")
    t = ztf_table
    assert len(t) == len(files)
    assert t.colnames[:3] == ["candid", "objectId", "drb"]
    assert list(t["source"]) == files and np.all(t["flags"] == 0)
    assert_equals_cli(t, cli_table(braai_path, files, tmp_path))
    km = known_mismatch()
    checked = [r for r in t if km.get(str(r["candid"]), "0") in ("0", "")]
    assert len(checked) >= 80
    worst = max(abs(float(r["drb"]) - float(r["packet_drb"])) for r in checked)
    assert worst <= DRB_TOL, f"max |drb - packet drb| = {worst:.2e}"
    m = stampvet.Model(braai_path)
    assert t.meta["MODEL"] == m.name and t.meta["MODELCK"] == m.checksum
    assert t.meta["NALERTS"] == len(files) and t.meta["NSCORED"] == len(files)
    assert t.meta["FLAG1"] == "UNDECODABLE" and t.meta["FLAG32"] == "FAILED"
    # keyed by candid
    c = int(t["candid"][7])
    assert t.loc[c]["objectId"] == t["objectId"][7]


def test_rubin_packets_equal_cli(braai_path, class_model_path, tmp_path):
    files = packets("rubin")
    t = stampvet.score_alerts(files, model=braai_path)
    assert t.colnames[:3] == ["diaSourceId", "diaObjectId", "reliability"]
    assert "reliabilityVersion" in t.colnames and "packet_reliability" in t.colnames
    assert np.all(t["flags"] == 0) and np.all(np.isfinite(t["reliability"]))
    assert_equals_cli(t, cli_table(braai_path, files, tmp_path))
    # a class model: p_<class> and class instead of the score
    tc = stampvet.score_alerts(files, model=stampvet.Model(class_model_path))
    classes = stampvet.Model(class_model_path).classes
    assert [c for c in tc.colnames if c.startswith("p_")] == [f"p_{c.lower()}" for c in classes]
    assert "class" in tc.colnames and "reliability" not in tc.colnames
    assert_equals_cli(tc, cli_table(class_model_path, files, tmp_path))


def test_both_surveys_in_one_table(braai_path):
    files = packets("ztf")[:2] + packets("rubin")[:2]
    t = stampvet.score_alerts(files, model=braai_path)
    assert t.colnames[:3] == ["id", "objectId", "score"]
    assert list(t["survey"]) == ["ztf", "ztf", "lsst", "lsst"]


def test_bytes_equal_files(ztf_table, braai_path):
    files = packets("ztf")[:5]
    blobs = [open(f, "rb").read() for f in files]
    t = stampvet.score_alerts([blobs[0], bytearray(blobs[1]), memoryview(blobs[2]), *blobs[3:]],
                              model=braai_path)
    assert list(t["source"]) == [f"<bytes #{i}>" for i in range(5)]
    for name in ("candid", "objectId", "drb", "packet_drb", "nprv", "flags"):
        assert list(t[name]) == list(ztf_table[name][:5]), name
    one = stampvet.score_alerts(blobs[0], model=braai_path)
    assert len(one) == 1 and one["drb"][0] == ztf_table["drb"][0]


def test_damaged_packets(ztf_table, braai_path, tmp_path):
    good = packets("ztf")[0]
    data = open(good, "rb").read()
    # truncated packets: a flagged row each (errors='flag'), the source
    # and record named; the good packets around them scored
    cut = [data[: len(data) // 2], data[:3000]]
    t = stampvet.score_alerts([data, *cut, data], model=braai_path, errors="flag")
    assert len(t) == 4
    assert t["flags"][0] == 0 and t["flags"][3] == 0 and t["drb"][3] == ztf_table["drb"][0]
    for i in (1, 2):
        assert t["flags"][i] & 1 and not np.isfinite(t["drb"][i])
        assert t["candid"].mask[i]
        assert t["error"][i].startswith(f"<bytes #{i}>: ")
    # errors='raise': an exception naming the source unless the damage is
    # inside a record (then the same flagged row)
    for b in cut:
        try:
            r = stampvet.score_alerts([b], model=braai_path)
        except ValueError as e:
            assert str(e).startswith("<bytes #0>: "), e
        else:
            assert len(r) == 1 and r["flags"][0] & 1 and r["error"][0].startswith("<bytes #0>: ")
    # a source that is not Avro at all: an exception naming it, or a row
    with pytest.raises(ValueError, match=r"<bytes #0>: not an Avro container file"):
        stampvet.score_alerts(b"SIMPLE  =                    T", model=braai_path)
    with pytest.raises(ValueError, match="Confluent wire format"):
        stampvet.score_alerts(b"\0\0\0\0\7" + data[100:200], model=braai_path)
    with pytest.raises(OSError, match="no-such.avro: cannot open"):
        stampvet.score_alerts(str(tmp_path / "no-such.avro"), model=braai_path)
    t = stampvet.score_alerts([b"junk", good, b""], model=braai_path, errors="flag")
    assert list(t["flags"]) == [1, 0, 1]
    assert "not an Avro container file" in t["error"][0]
    assert t["candid"][1] == ztf_table["candid"][0]
    # randomly damaged bytes: never a crash, one row or more, every
    # unscored row flagged with a message
    rng = np.random.default_rng(15)
    blobs = []
    for _ in range(60):
        b = bytearray(data)
        for k in rng.integers(0, len(b), size=int(rng.integers(1, 40))):
            b[k] = int(rng.integers(0, 256))
        blobs.append(bytes(b[: int(rng.integers(len(b) // 2, len(b) + 1))]))
    t = stampvet.score_alerts(blobs, model=braai_path, errors="flag")
    assert len(t) >= len(blobs)
    unscored = ~np.isfinite(np.asarray(t["drb"], float))
    assert np.all(t["flags"][unscored] != 0)
    assert all(e for e in t["error"][unscored])


def test_bad_arguments(braai_path, tmp_path):
    good = packets("ztf")[0]
    with pytest.raises(ValueError, match="errors="):
        stampvet.score_alerts(good, model=braai_path, errors="ignore")
    with pytest.raises(TypeError, match=r"alerts\[1\]: a path or bytes, not int"):
        stampvet.score_alerts([good, 3], model=braai_path)
    with pytest.raises(ValueError, match="threads"):
        stampvet.score_alerts(good, model=braai_path, threads=0)
    with pytest.raises(OSError, match="missing-model.fits"):
        stampvet.score_alerts(good, model=tmp_path / "missing-model.fits")
    with pytest.raises(OSError, match="nope.avsc"):
        stampvet.score_alerts(good, model=braai_path, schema=tmp_path / "nope.avsc")


def test_threads_give_single_thread_tables(ztf_table, braai_path):
    """score_alerts from two Python threads at once (one Model shared)
    gives the single-threaded table; the GIL is released meanwhile."""
    files = packets("ztf")
    m = stampvet.Model(braai_path)
    got, errors = [None, None], []

    def work(i):
        try:
            got[i] = stampvet.score_alerts(files, model=m, threads=1 + i)
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    ticks = 0
    while any(t.is_alive() for t in ts):
        ticks += 1
        threading.Event().wait(0.001)
    for t in ts:
        t.join()
    assert not errors, errors
    for g in got:
        for name in ztf_table.colnames:
            assert list(g[name]) == list(ztf_table[name]), name
    assert ticks >= 5, f"only {ticks} ticks while scoring: the GIL was held"


def test_alert_scorer_one_message_at_a_time(ztf_table, braai_path):
    """An AlertScorer kept for a stream: packets scored one by one (as
    bytes, as a broker receives them) give the rows of the one-call table;
    one scorer shared by two threads (serialised) and two scorers in two
    threads give them too."""
    files = packets("ztf")
    blobs = [open(f, "rb").read() for f in files]
    scorer = stampvet.AlertScorer(braai_path)
    rows = [scorer.score(b) for b in blobs]
    assert all(len(r) == 1 for r in rows)
    assert [float(r["drb"][0]) for r in rows] == [float(v) for v in ztf_table["drb"]]
    assert [int(r["candid"][0]) for r in rows] == [int(v) for v in ztf_table["candid"]]
    with pytest.raises(ValueError, match="not an Avro container file"):
        scorer.score(b"junk")
    assert scorer.score(blobs[3])["drb"][0] == ztf_table["drb"][3]  # still usable
    scorers = [scorer, scorer, stampvet.AlertScorer(braai_path, threads=2)]
    got, errors = [None] * 3, []

    def work(i):
        try:
            got[i] = [float(scorers[i].score(b)["drb"][0]) for b in blobs]
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for g in got:
        assert g == [float(v) for v in ztf_table["drb"]]
