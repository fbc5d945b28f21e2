#!/bin/sh
# python_pkg.sh — the Python package's pytest suite (python/tests) and the
# tested examples of doc/python.md, against the package in the build tree
# (build/python: the extension beside the package's .py files).  Skips
# (exit 77) with the reason when the package is not built or pytest is
# missing.  In a sanitizer build the extension needs the ASan/UBSan
# runtimes loaded before python3's own libraries: they are preloaded.
set -u
PY="${SV_PYTHON:-}"
PKG="$SV_BUILDDIR/python"
if [ ! -e "$PKG/stampvet/_stampvet.so" ]; then
    echo "SKIP: the Python package is not built (configure: python3-dev and python3-numpy)"
    exit 77
fi
if [ -z "$PY" ] || ! "$PY" -c 'import pytest, astropy' 2>/dev/null; then
    echo "SKIP: needs python3 with pytest and astropy (Debian: python3-pytest python3-astropy)"
    exit 77
fi
if ldd "$SV_BUILDDIR/.libs/libstampvet.so" 2>/dev/null | grep -q libasan; then
    cc=${CC:-cc}
    LD_PRELOAD="$($cc -print-file-name=libasan.so) $($cc -print-file-name=libubsan.so)"
    # the interpreter's own allocations are not freed at exit: no leak check
    # (the last setting wins, so it goes after CI's detect_leaks=1)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    export LD_PRELOAD ASAN_OPTIONS
fi
PYTHONPATH="$PKG${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
    exec "$PY" -m pytest -q -p no:cacheprovider -rs "$SV_SRCDIR/python/tests"
