"""Shared fixtures of the stampvet Python package's tests.

Run by tests/python_pkg.sh (make check) with SV_SRCDIR, SV_BUILDDIR and
SV_FIXTURES set and the build tree's python/ on PYTHONPATH.  Real data
(../shared/fixtures) is read by path; tests that need it skip with a message
when it is absent.
"""
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("SV_SRCDIR", os.path.normpath(os.path.join(HERE, "..", "..")))
BUILDDIR = os.environ.get("SV_BUILDDIR", os.path.join(SRCDIR, "build"))
FIXTURES = os.environ.get("SV_FIXTURES", os.path.join(SRCDIR, "..", "shared", "fixtures"))
CLI = os.path.join(BUILDDIR, "stampvet")


def run_cli(*args, **kw):
    """Run the stampvet command; its stdout as text (fails the test on error)."""
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"stampvet {' '.join(map(str, args))}: {p.stderr}"
    return p.stdout


def fixture_dir(*parts):
    d = os.path.join(FIXTURES, *parts)
    if not os.path.exists(d):
        pytest.skip(f"real-data fixture {d} not found")
    return d


@pytest.fixture(scope="session")
def rb_model_path():
    return os.path.join(SRCDIR, "models", "rb-ztf.fits")


@pytest.fixture(scope="session")
def class_model_path():
    return os.path.join(SRCDIR, "models", "cls3-ilmt.fits")


@pytest.fixture(scope="session")
def braai_path(tmp_path_factory):
    """ZTF's braai d6_m7: the shipped models/braai-d6_m7.fits when there is
    one, else imported here from the fixture's Keras file as ZTF runs it."""
    shipped = os.path.join(SRCDIR, "models", "braai-d6_m7.fits")
    if os.path.exists(shipped):
        return shipped
    h5 = os.path.join(fixture_dir("braai"), "d6_m7.h5")
    if "NOT AVAILABLE" in subprocess.run([CLI, "import-keras", "--help"], capture_output=True,
                                         text=True).stdout:
        pytest.skip("stampvet built without HDF5/jansson: no Keras import")
    out = tmp_path_factory.mktemp("braai") / "braai-d6_m7.fits"
    run_cli("import-keras", h5, "--task", "realbogus", "--norm", "l2-rows", "--pixel-scale",
            "1.01", "--name", "braai-d6_m7", "-o", out)
    return str(out)


@pytest.fixture(scope="session")
def exposure(tmp_path_factory):
    """A simulated ZTF-like exposure (the simulator's files): a dict of the
    four paths by role."""
    d = tmp_path_factory.mktemp("exposure")
    prefix = d / "e"
    run_cli("simulate", "--exposure", "--survey", "ztf", "--size", "320", "--detections", "40",
            "--seed", "11", "-q", "-o", prefix)
    return {k: f"{prefix}_{k}.fits" for k in ("sci", "ref", "diff", "det")}
