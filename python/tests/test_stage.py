"""stampvet.Stage: a whole simulated exposure through Stage.process equals
`stampvet run` row for row; input forms; bad inputs; threads."""
import threading

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

import stampvet
from conftest import run_cli

STAGE_COLS = ["drb", "drbversion", "REAL", "FLAGS", "BADFRAC", "XPIX", "YPIX"]  # preset ztf


def load(exposure):
    sci, hdr = fits.getdata(exposure["sci"], header=True)
    ref = fits.getdata(exposure["ref"])
    diff = fits.getdata(exposure["diff"])
    det = Table.read(exposure["det"])
    return sci, ref, diff, det, hdr


def same_column(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "SU" or b.dtype.kind in "SU":  # FITS gives bytes, the stage str;
        def text(col):  # trailing blanks are not significant in FITS strings
            return [(str(v, "utf-8") if isinstance(v, bytes) else str(v)).rstrip() for v in col]
        return text(a) == text(b)
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def assert_same_table(got, want):
    assert got.colnames == want.colnames
    assert len(got) == len(want)
    for c in want.colnames:
        assert same_column(got[c], want[c]), f"column {c} differs"


@pytest.fixture(scope="module")
def cli_run(exposure, rb_model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out.fits"
    run_cli("run", "--sci", exposure["sci"], "--ref", exposure["ref"], "--diff",
            exposure["diff"], "--detections", exposure["det"], "--set",
            f"rb_model={rb_model_path}", "-o", out)
    return Table.read(out)


def test_exposure_equals_stampvet_run(exposure, rb_model_path, cli_run):
    sci, ref, diff, det, hdr = load(exposure)
    stage = stampvet.Stage(model=rb_model_path)
    t = stage.process(sci, ref, diff, det, header=hdr)
    # every input row, in input order, with its columns, then the stage's
    assert t.colnames == det.colnames + STAGE_COLS
    assert np.array_equal(t["candid"], det["candid"])
    assert_same_table(t, cli_run)
    assert np.isfinite(t["drb"]).sum() > 0
    m = stampvet.Model(rb_model_path)
    assert t.meta["RBMODEL"] == m.name and t.meta["RBMCKSUM"] == m.checksum
    assert t.meta["SVCFGHSH"] == cli_run.meta["SVCFGHSH"]
    assert stage.rb_model["checksum"] == m.checksum and stage.class_model is None


def test_nan_images_and_class_model_equal_stampvet_run(exposure, rb_model_path,
                                                       class_model_path, tmp_path):
    """Images with NaN (no data) around some detections, a class model and
    two threads: Stage.process equals `stampvet run` on the same images
    written to FITS, row for row."""
    sci, ref, diff, det, hdr = load(exposure)
    sci = sci.copy()
    for k in (0, 3):
        x, y = int(round(det["xpos"][k])) - 1, int(round(det["ypos"][k])) - 1
        sci[max(0, y - 3):y + 3, max(0, x - 3):x + 3] = np.nan
    nan_sci = tmp_path / "nan_sci.fits"
    fits.PrimaryHDU(sci, hdr).writeto(nan_sci)
    out = tmp_path / "out.fits"
    run_cli("run", "--sci", nan_sci, "--ref", exposure["ref"], "--diff", exposure["diff"],
            "--detections", exposure["det"], "--set", f"rb_model={rb_model_path}", "--set",
            f"class_model={class_model_path}", "--set", "threads=2", "-o", out)
    want = Table.read(out)
    stage = stampvet.Stage(model=rb_model_path, class_model=class_model_path, threads=2)
    got = stage.process(sci, ref, diff, det, header=hdr)
    assert_same_table(got, want)
    assert len(got) == len(det) and np.any(got["BADFRAC"][[0, 3]] > 0)


def test_input_forms_agree(exposure, rb_model_path):
    sci, ref, diff, det, hdr = load(exposure)
    stage = stampvet.Stage(model=stampvet.Model(rb_model_path), preset="ztf", threads=2)
    want = stage.process(sci, ref, diff, det, header=hdr)
    as_dict = {c: np.asarray(det[c]) for c in det.colnames}
    assert_same_table(stage.process(sci, ref, diff, as_dict, header=hdr), want)
    assert_same_table(stage.process(sci, ref, diff, det.as_array(), header=hdr), want)
    assert_same_table(stage.process(sci, ref, diff, det, header=WCS(hdr)), want)
    f8 = [a.astype(np.float64) for a in (sci, ref, diff)]
    assert_same_table(stage.process(*f8, det, header=hdr), want)
    # rows keep the caller's order
    perm = np.random.default_rng(1).permutation(len(det))
    shuffled = stage.process(sci, ref, diff, det[perm], header=hdr)
    assert_same_table(shuffled, want[perm])
    try:
        import pandas
    except ImportError:
        return
    assert_same_table(stage.process(sci, ref, diff, det.to_pandas(), header=hdr), want)


def test_class_model_and_mask(exposure, rb_model_path, class_model_path):
    sci, ref, diff, det, hdr = load(exposure)
    stage = stampvet.Stage(model=rb_model_path, class_model=class_model_path)
    t = stage.process(sci, ref, diff, det, header=hdr)
    for c in stampvet.Model(class_model_path).classes:
        assert f"P_{c.upper()}" in t.colnames
    assert "CLASS" in t.colnames
    # mask every pixel around detection 0: it is flagged, the others not more
    mask = np.zeros(sci.shape, np.int32)
    x, y = int(round(det["xpos"][0])) - 1, int(round(det["ypos"][0])) - 1
    mask[max(0, y - 40):y + 40, max(0, x - 40):x + 40] = 1
    tm = stage.process(sci, ref, diff, det, mask=mask, header=hdr)
    assert tm["FLAGS"][0] & 4 and not t["FLAGS"][0] & 4


def test_bad_inputs(exposure, rb_model_path):
    sci, ref, diff, det, hdr = load(exposure)
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        stampvet.Stage(model=rb_model_path, nope=1)
    with pytest.raises(ValueError, match="threads"):
        stampvet.Stage(model=rb_model_path, threads=0)
    with pytest.raises(ValueError, match="preset"):
        stampvet.Stage(model=rb_model_path, preset="hst")
    with pytest.raises(OSError, match="missing.fits"):
        stampvet.Stage(model="missing.fits")
    with pytest.raises(ValueError, match="xpos"):
        stampvet.Stage(model=rb_model_path, coords="pixel").process(
            sci, ref, diff, det[[c for c in det.colnames if c != "xpos"]], header=hdr)
    with pytest.raises(ValueError, match="WCS"):
        stampvet.Stage(model=rb_model_path, coords="sky").process(sci, ref, diff, det)
    stage = stampvet.Stage(model=rb_model_path)
    with pytest.raises(ValueError):
        stage.process(sci, ref[:-1], diff, det, header=hdr)
    with pytest.raises(ValueError, match="sci: 3-D"):
        stage.process(sci[None], ref, diff, det, header=hdr)
    with pytest.raises(ValueError, match="mask"):
        stage.process(sci, ref, diff, det, mask=np.zeros((3, 3), np.uint8), header=hdr)
    with pytest.raises(TypeError, match="detections column 'bad'"):
        stage.process(sci, ref, diff, {"xpos": det["xpos"], "ypos": det["ypos"],
                                       "bad": np.zeros(len(det), complex)}, header=hdr)
    with pytest.raises(ValueError, match="'ypos': 3 rows, others have"):
        stage.process(sci, ref, diff, {"xpos": det["xpos"], "ypos": det["ypos"][:3]}, header=hdr)
    with pytest.raises(TypeError, match="detections: expected an astropy Table"):
        stage.process(sci, ref, diff, [1, 2, 3], header=hdr)
    with pytest.raises(ValueError, match="80-character"):
        stage.process(sci, ref, diff, det, header="SIMPLE")
    # the stage is still usable after errors
    assert len(stage.process(sci, ref, diff, det, header=hdr)) == len(det)


def test_two_stages_in_two_threads(exposure, rb_model_path, class_model_path):
    """Two Stage objects used from two Python threads at once give the
    single-thread tables."""
    sci, ref, diff, det, hdr = load(exposure)
    configs = [dict(model=rb_model_path), dict(model=rb_model_path, class_model=class_model_path,
                                               threads=2)]
    want = [stampvet.Stage(**c).process(sci, ref, diff, det, header=hdr) for c in configs]
    stages = [stampvet.Stage(**c) for c in configs]
    got = [[], []]
    errors = []

    def work(i):
        try:
            for _ in range(5):
                got[i].append(stages[i].process(sci, ref, diff, det, header=hdr))
        except Exception as e:  # reported below, in the main thread
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for i in range(2):
        assert len(got[i]) == 5
        for t in got[i]:
            assert_same_table(t, want[i])


def test_params_table():
    keys = [p["key"] for p in stampvet.params()]
    for k in ("rb_model", "class_model", "preset", "threads", "batch", "rb_threshold"):
        assert k in keys
