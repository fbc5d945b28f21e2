"""The examples of doc/python.md, run as doctests from the source folder,
and the README's Python one-liners."""
import doctest
import os
import re
import subprocess
import sys

import pytest

from conftest import BUILDDIR, CLI, FIXTURES, SRCDIR


def test_python_md(monkeypatch):
    if not os.path.isdir(os.path.join(FIXTURES, "ztf-alerts")):
        pytest.skip(f"doc/python.md reads real alerts from {FIXTURES}/ztf-alerts: not found")
    # the doc's paths are relative to the source folder; its fixtures path
    # is ../shared/fixtures, or SV_FIXTURES through a symlink-free rewrite
    monkeypatch.chdir(SRCDIR)
    text = open(os.path.join(SRCDIR, "doc", "python.md")).read()
    text = text.replace("../shared/fixtures", FIXTURES)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"STAMPVET": CLI}, "doc/python.md", "doc/python.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 20
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in doc/python.md failed"


def test_readme_one_liners():
    """Each `PYTHONPATH=build/python python3 -c ...` of the README runs from
    the source folder and prints scores."""
    if not all(os.path.isdir(os.path.join(FIXTURES, d)) for d in ("alert-packets", "ztf-alerts")):
        pytest.skip(f"the README's one-liners read {FIXTURES}: not found")
    text = open(os.path.join(SRCDIR, "README.md")).read().replace("\\\n", "")
    lines = re.findall(r"^PYTHONPATH=build/python python3 -c (.*)$", text, re.M)
    assert len(lines) >= 2
    env = dict(os.environ, PYTHONPATH=os.path.join(BUILDDIR, "python"))
    for line in lines:
        code = line.strip()
        assert code[0] == code[-1] == '"', code
        code = code[1:-1].replace("../shared/fixtures", FIXTURES)
        p = subprocess.run([sys.executable, "-c", code], cwd=SRCDIR, env=env, capture_output=True,
                           text=True)
        assert p.returncode == 0, f"README: {code}: {p.stderr}"
        assert re.search(r"0\.99\d+", p.stdout), p.stdout
