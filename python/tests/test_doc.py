"""The examples of doc/python.md, run as doctests from the source folder."""
import doctest
import os

import pytest

from conftest import CLI, FIXTURES, SRCDIR


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
