"""pipeline_examples/python/broker_filter.py, run as a user runs it, on the
real ZTF alert packets with braai and a class model: the alerts it keeps
are exactly those `stampvet score --alerts` scores at or above the
threshold, with the same scores and class probabilities, and its summary
counts them."""
import csv
import glob
import os
import subprocess
import sys

import pytest

import stampvet
from conftest import BUILDDIR, SRCDIR, fixture_dir, run_cli

EXAMPLE = os.path.join(SRCDIR, "pipeline_examples", "python", "broker_filter.py")


@pytest.mark.skipif(not stampvet._stampvet.alerts_available,
                    reason="stampvet built without Avro (libavro-dev)")
def test_broker_filter(braai_path, class_model_path, tmp_path):
    folder = fixture_dir("alert-packets", "ztf")
    files = sorted(glob.glob(os.path.join(folder, "*.avro")))
    # the command line's scores of the same packets, both models
    rows = {}
    for model in (braai_path, class_model_path):
        out = tmp_path / f"{os.path.basename(model)}.csv"
        run_cli("score", "--model", model, "--alerts", *files, "-o", out)
        with open(out, newline="") as f:
            for r in csv.DictReader(f):
                rows.setdefault(r["candid"], {}).update(r)
    threshold = 0.5
    want = [c for c, r in rows.items() if float(r["drb"]) >= threshold]
    assert 0 < len(want) < len(rows), "the threshold should keep some alerts, not all"

    kept = tmp_path / "kept.csv"
    env = dict(os.environ, PYTHONPATH=os.path.join(BUILDDIR, "python"))
    p = subprocess.run([sys.executable, EXAMPLE, "--model", braai_path, "--class-model",
                        class_model_path, "--threshold", str(threshold), "-o", str(kept),
                        folder], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert (f"broker_filter: {len(files)} alerts, {len(files)} scored, {len(want)} kept "
            f"(drb >= 0.5), 0 not scored") in p.stderr
    with open(kept, newline="") as f:
        got = list(csv.DictReader(f))
    assert [r["candid"] for r in got] == want  # in input order
    classes = stampvet.Model(class_model_path).classes
    for r in got:
        cli = rows[r["candid"]]
        assert float(r["drb"]) == pytest.approx(float(cli["drb"]), abs=1e-7)
        assert r["objectId"] == cli["objectId"] and r["class"] == cli["class"]
        for c in classes:
            col = f"p_{c.lower()}"
            assert float(r[col]) == pytest.approx(float(cli[col]), abs=1e-7)
        assert "error" not in r and "source" not in r
