"""stampvet.Model: loading, description, scoring from numpy against the
command line and ZTF's own scores, bad inputs, threads."""
import csv
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from astropy.io import fits

import stampvet
from conftest import SRCDIR, fixture_dir, run_cli


def read_alerts(folder):
    """The alerts of a ztf-alerts folder: (rows of alerts.csv, stamps by candid)."""
    with open(os.path.join(folder, "alerts.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["candid"]]
    stamps = {r["candid"]: [fits.getdata(os.path.join(folder, f"{r['candid']}_{k}.fits.gz"))
                            for k in ("sci", "ref", "diff")] for r in rows}
    return rows, stamps


def cli_scores(model, folder, rows, tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("".join(f"{r['candid']} " + " ".join(
        os.path.join(folder, f"{r['candid']}_{k}.fits.gz") for k in ("sci", "ref", "diff")) + "\n"
        for r in rows))
    out = run_cli("score", "--model", model, "--list", lst)
    return {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.strip()}


def test_description(rb_model_path):
    m = stampvet.Model(rb_model_path)
    assert m.name == "rb-ztf"
    assert m.task == "realbogus"
    assert m.classes == ("real",)
    assert m.input_shape == (63, 63, 3)
    assert m.channels == ("sci", "ref", "diff")
    assert m.features == ()
    assert m.checksum == fits.getheader(rb_model_path)["CHECKSUM"]
    assert m.path == rb_model_path
    assert "CREATOR" in m.provenance


def test_class_model(class_model_path):
    m = stampvet.Model(class_model_path)
    assert m.task == "class" and len(m.classes) == 3
    rng = np.random.default_rng(2)
    s = rng.normal(size=(3, 5, 63, 63)).astype(np.float32)
    p = m.score(*s)
    assert p.shape == (5, 3) and p.dtype == np.float32
    assert np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert m.score(s[0][2], s[1][2], s[2][2]).shape == (3,)
    assert np.array_equal(m.score(s[0][2], s[1][2], s[2][2]), p[2])


@pytest.mark.parametrize("subset", ["ztf-alerts", "ztf-alerts-dev"])
def test_ztf_alerts_equal_cli_and_drb(braai_path, subset, tmp_path):
    """Real ZTF cutouts scored from numpy equal `stampvet score` and ZTF's
    drb (d6_m7) to 1e-5, except the alerts marked known_mismatch."""
    folder = fixture_dir(subset)
    rows, stamps = read_alerts(folder)
    m = stampvet.Model(braai_path)
    full = [r for r in rows if stamps[r["candid"]][0].shape == (63, 63)]
    edge = [r for r in rows if stamps[r["candid"]][0].shape != (63, 63)]
    got = {}
    if full:  # one stacked call, arrays as astropy reads them (big-endian)
        # as FITS stores them: big-endian
        stack = [np.stack([stamps[r["candid"]][k] for r in full]).astype(">f4") for k in range(3)]
        got.update(zip([r["candid"] for r in full], m.score(*stack).tolist()))
    for r in edge:  # stamps cut at a CCD edge: one at a time
        got[r["candid"]] = float(m.score(*stamps[r["candid"]]))
    cli = cli_scores(braai_path, folder, rows, tmp_path)
    assert set(cli) == set(got)
    worst_cli = max(abs(got[c] - cli[c]) for c in cli)
    assert worst_cli <= 1e-6, f"numpy vs CLI: {worst_cli:.2e}"
    checked = [r for r in rows if r["known_mismatch"] in ("0", "")]
    worst = max(abs(got[r["candid"]] - float(r["drb"])) for r in checked)
    assert worst <= 1e-5, f"{subset}: max |score - drb| = {worst:.2e}"
    assert len(checked) >= len(rows) - 2


def test_dtypes_and_byte_orders(rb_model_path):
    m = stampvet.Model(rb_model_path)
    s = np.random.default_rng(3).normal(size=(3, 4, 63, 63)).astype(np.float32)
    s[0][1, 10:20, 5] = np.nan
    ref = m.score(*s)
    assert ref.shape == (4,) and np.all(np.isfinite(ref))
    for conv in (lambda a: a.astype(">f4"), lambda a: a.astype(np.float64),
                 lambda a: a.astype(">f8"), lambda a: np.asfortranarray(a)):
        assert np.array_equal(m.score(*[conv(a) for a in s]), ref)
    # a view with row padding (a cutout of a larger array) is read in place
    big = np.zeros((3, 4, 63, 80), np.float32)
    big[..., :63] = s
    assert np.array_equal(m.score(*big[..., :63]), ref)
    assert np.array_equal(m.score(s[0][1], s[1][1], s[2][1]), ref[1])


def test_features_model(tmp_path):
    """A multi-input (stamps + 25 named features) ACAI-like model: scores
    from numpy with features as a dict or structured array equal the numpy
    reference computed by tests/python/acai_case.py to 1e-5."""
    gen = os.path.join(SRCDIR, "tests", "python", "acai_case.py")
    try:
        import h5py  # noqa: F401
    except ImportError:
        pytest.skip("needs h5py (python3-h5py) to write the Keras file")
    subprocess.run([sys.executable, gen, str(tmp_path)], check=True, capture_output=True)
    names = (tmp_path / "features_names.txt").read_text().strip()
    classes = (tmp_path / "classes.txt").read_text().strip()
    help_text = subprocess.run([os.path.join(os.environ.get("SV_BUILDDIR", ""), "stampvet"),
                                "import-keras", "--help"], capture_output=True, text=True).stdout
    if "NOT AVAILABLE" in help_text:
        pytest.skip("stampvet built without HDF5/jansson: no Keras import")
    model = tmp_path / "acai.fits"
    run_cli("import-keras", tmp_path / "acai.h5", "--task", "class", "--classes", classes,
            "--norm", "l2", "--features", names, "--name", "acai-like", "-o", model)
    m = stampvet.Model(model)
    assert m.features == tuple(names.split(","))
    expected = {l.split()[0]: np.array(l.split()[1:], float)
                for l in (tmp_path / "expected.txt").read_text().splitlines() if l.strip()}
    from astropy.table import Table
    feats = Table.read(tmp_path / "features.fits")
    ids = [str(i) for i in feats["candid"]]
    lst = {l.split()[0]: l.split()[1:] for l in (tmp_path / "list.txt").read_text().splitlines()
           if l.strip() and not l.startswith("#")}
    trip = {i: [fits.getdata(tmp_path / lst[i][k]) for k in range(3)] for i in ids}
    # one at a time, features as a dict of scalars
    worst = 0.0
    for j, i in enumerate(ids):
        p = m.score(*trip[i], features={n: float(feats[n][j]) for n in feats.colnames})
        assert p.shape == (len(classes.split(",")),)
        worst = max(worst, float(np.max(np.abs(p - expected[i]))))
    assert worst <= 1e-5, worst
    # the triplets of the commonest shape stacked, features as a structured
    # array (with extra columns) and as a dict of arrays
    shape = max({trip[i][0].shape for i in ids}, key=lambda sh: sum(trip[i][0].shape == sh
                                                                    for i in ids))
    rows = [j for j, i in enumerate(ids) if trip[ids[j]][0].shape == shape]
    assert len(rows) >= 2
    stamps = [np.stack([trip[ids[j]][k] for j in rows]) for k in range(3)]
    p = m.score(*stamps, features=feats.as_array()[rows])
    for r, j in zip(p, rows):
        assert np.max(np.abs(r - expected[ids[j]])) <= 1e-5
    as_dict = {n: np.asarray(feats[n])[rows] for n in feats.colnames}
    assert np.array_equal(m.score(*stamps, features=as_dict), p)
    with pytest.raises(ValueError, match="missing 'sgscore2'"):
        m.score(*stamps, features={k: v for k, v in as_dict.items() if k != "sgscore2"})
    with pytest.raises(ValueError, match="needs features"):
        m.score(*stamps)


def test_bad_inputs(rb_model_path, tmp_path):
    m = stampvet.Model(rb_model_path)
    s = np.zeros((63, 63), np.float32)
    with pytest.raises(ValueError, match="ref: 1 stamps of 40 x 63, but sci has 1 of 63 x 63"):
        m.score(s, s[:40], s)
    with pytest.raises(ValueError, match="sci: 1-D array"):
        m.score(s[0], s, s)
    with pytest.raises(ValueError, match="4-D"):
        m.score(s[None, None], s, s)
    with pytest.raises(TypeError, match="diff: dtype <U1: wanted float32 or float64"):
        m.score(s, s, np.full((63, 63), "x"))
    with pytest.raises(TypeError, match="ref: dtype complex128: wanted float32 or float64"):
        m.score(s, s.astype(complex), s)
    with pytest.raises(TypeError, match="sci: dtype bool"):
        m.score(s > 0, s, s)
    with pytest.raises(ValueError, match="model 'rb-ztf' needs this stamp"):
        m.score(s, None, s)
    with pytest.raises(ValueError, match="takes no features"):
        m.score(s, s, s, features={"a": 1.0})
    with pytest.raises(ValueError, match="threads"):
        m.score(s, s, s, threads=0)
    with pytest.raises(OSError, match="no-such-model.fits"):
        stampvet.Model(tmp_path / "no-such-model.fits")
    junk = tmp_path / "junk.fits"
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(junk)
    with pytest.raises(ValueError, match="junk.fits"):
        stampvet.Model(junk)


def test_threads_give_single_thread_scores(rb_model_path):
    """One Model scored from several Python threads at once, and with
    threads=2, gives the single-threaded scores bit for bit."""
    m = stampvet.Model(rb_model_path)
    s = np.random.default_rng(4).normal(size=(3, 200, 63, 63)).astype(np.float32)
    want = m.score(*s)
    assert np.array_equal(m.score(*s, threads=2), want)
    got = [None] * 4

    def work(i):
        got[i] = m.score(*s)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for g in got:
        assert np.array_equal(g, want)


def test_gil_released(rb_model_path):
    """Python code runs while the network scores in another thread."""
    m = stampvet.Model(rb_model_path)
    s = np.random.default_rng(5).normal(size=(3, 1500, 63, 63)).astype(np.float32)
    ticks = []
    done = threading.Event()

    def score():
        m.score(*s)
        done.set()

    t = threading.Thread(target=score)
    t.start()
    time.sleep(0.01)
    while not done.is_set():
        ticks.append(time.monotonic())
        time.sleep(0.001)
    t.join()
    assert len(ticks) >= 5, f"only {len(ticks)} ticks while scoring: the GIL was held"
