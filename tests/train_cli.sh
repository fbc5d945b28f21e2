#!/bin/sh
# train_cli.sh — `stampvet train`, `evaluate`, `finetune` and `compare` end to
# end on small synthetic labelled-stamps tables (tests/python/make_stamps.py):
# a model learns, a fixed seed gives the same weights for 1 and 2 threads,
# the report files (CSV, FITS) hold the figures, fine-tuning from real/bogus
# to 4 classes replaces the head, keeps frozen layers and records its
# provenance, and compare prints and writes its table.
set -u
builddir=${SV_BUILDDIR:-.}
srcdir=${SV_SRCDIR:-.}
py=${SV_PYTHON:-/usr/bin/python3}
sv="$builddir/stampvet"
if [ ! -x "$py" ] || ! "$py" -c 'import numpy, astropy' 2>/dev/null; then
    echo "SKIP: $py with numpy and astropy is needed to write the test tables"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv_train_cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mk="$srcdir/tests/python/make_stamps.py"

"$py" "$mk" "$tmp/rb_train.fits" 400 21 bogus,real 1 || fail "make_stamps rb_train"
"$py" "$mk" "$tmp/rb_test.fits" 200 21 bogus,real 2 || fail "make_stamps rb_test"
"$py" "$mk" "$tmp/c4_train.fits" 320 21 transient,variable,asteroid,bogus 3 || fail "make_stamps c4"
"$py" "$mk" "$tmp/c4_test.fits" 200 21 transient,variable,asteroid,bogus 4 || fail "make_stamps c4t"

# ---- train: progress lines, a model file; same seed, 1 vs 2 threads ----
"$sv" train --data "$tmp/rb_train.fits" --out "$tmp/rb.fits" --arch mini --epochs 6 \
    --seed 2 --threads 2 > "$tmp/train.out" 2>&1 || { cat "$tmp/train.out"; fail "train"; }
cat "$tmp/train.out"
grep -q '^epoch   1/6 *loss' "$tmp/train.out" || fail "no progress line per epoch"
grep -q 'labels : bogus 200 real 200' "$tmp/train.out" || fail "real/bogus labels not detected"
"$sv" train --data "$tmp/rb_train.fits" --out "$tmp/rb1.fits" --arch mini --epochs 6 \
    --seed 2 --threads 1 --quiet > /dev/null 2>&1 || fail "train (1 thread)"
"$py" - "$tmp/rb.fits" "$tmp/rb1.fits" <<'PY' || fail "1 and 2 threads differ"
import sys
from astropy.io import fits
a, b = (fits.getheader(p, 0) for p in sys.argv[1:3])
assert a["WTSUM"] == b["WTSUM"], (a["WTSUM"], b["WTSUM"])
assert a["TASK"] == "realbogus" and a["TRDATA"] == "rb_train.fits"
# MODVERS always filled (issue 11): NAME_<first 8 hex digits of WTSUM>
assert a["MODVERS"] == "rb_" + a["WTSUM"][:8], (a["MODVERS"], a["WTSUM"])
print("same weights for 1 and 2 threads:", a["WTSUM"])
PY

# ---- evaluate: text, CSV and FITS reports ----
"$sv" evaluate "$tmp/rb.fits" "$tmp/rb_test.fits" --out "$tmp/ev.csv" > "$tmp/ev.out" 2>&1 \
    || { cat "$tmp/ev.out"; fail "evaluate"; }
cat "$tmp/ev.out"
grep -q '^accuracy' "$tmp/ev.out" || fail "no accuracy line"
grep -q 'FPR = FNR' "$tmp/ev.out" || fail "no equal-error line"
"$sv" evaluate --model "$tmp/rb.fits" --data "$tmp/rb_test.fits" --out "$tmp/ev.fits" \
    --scores-out "$tmp/scores.csv" > /dev/null 2>&1 || fail "evaluate (FITS report, --scores-out)"
"$sv" evaluate "$tmp/rb.fits" "$tmp/rb_test.fits" --scores-out "$tmp/s.txt" > /dev/null 2>&1 \
    && fail "--scores-out accepted a name that is not .fits or .csv"
# the per-sample scores: one row per stamp, the table's labels, and the
# report's AUC recomputed from them
"$py" - "$tmp/scores.csv" "$tmp/ev.csv" "$tmp/rb_test.fits" <<'PY' || fail "--scores-out content"
import csv, sys
from astropy.io import fits
s = list(csv.DictReader(l for l in open(sys.argv[1]) if not l.startswith("#")))
t = fits.getdata(sys.argv[3], "STAMPS")
assert len(s) == len(t) == 200, len(s)
assert all(t["LABELNAM"][int(r["row"])].strip() == r["label_name"] for r in s)
pos = [float(r["score"]) for r in s if r["label_name"] != "bogus"]
neg = [float(r["score"]) for r in s if r["label_name"] == "bogus"]
auc = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / len(pos) / len(neg)
rep = {r[0]: float(r[3]) for r in csv.reader(l for l in open(sys.argv[2]) if not l.startswith("#"))
       if r[1] == "" and r[0] != "metric"}
assert abs(auc - rep["auc"]) < 1e-6, (auc, rep["auc"])
print("--scores-out: 200 rows, AUC from the scores %.4f = report %.4f" % (auc, rep["auc"]))
PY
"$py" - "$tmp/ev.csv" "$tmp/ev.fits" <<'PY' || fail "report content"
import csv, sys
from astropy.io import fits
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if not l.startswith("#"))]
assert rows[0] == ["metric", "class", "predicted", "value"], rows[0]
v = {(r[0], r[1], r[2]): float(r[3]) for r in rows[1:]}
assert v[("n", "", "")] == 200
assert v[("accuracy", "", "")] > 0.8, v[("accuracy", "", "")]
conf = sum(v[("confusion", t, p)] for t in ("bogus", "real") for p in ("bogus", "real"))
assert conf == 200
h = fits.open(sys.argv[2])
t = h["METRICS"].data
acc = [r["VALUE"] for r in t if r["METRIC"] == "accuracy"][0]
assert abs(acc - v[("accuracy", "", "")]) < 1e-9
assert abs(h[0].header["ACCURACY"] - acc) < 1e-6 and "EERTHR" in h[0].header
print("reports agree: accuracy %.4f" % acc)
PY

# ---- finetune: real/bogus -> 4 classes, conv frozen, provenance ----
"$sv" finetune --from "$tmp/rb.fits" --data "$tmp/c4_train.fits" --out "$tmp/c4.fits" \
    --freeze conv --epochs 4 --seed 5 > "$tmp/ft.out" 2>&1 || { cat "$tmp/ft.out"; fail "finetune"; }
cat "$tmp/ft.out"
grep -q 'head   : replaced' "$tmp/ft.out" || fail "head not replaced"
"$py" - "$tmp/rb.fits" "$tmp/c4.fits" <<'PY' || fail "fine-tuned model"
import sys
import numpy as np
from astropy.io import fits
b, f = fits.open(sys.argv[1]), fits.open(sys.argv[2])
h = f[0].header
assert h["TASK"] == "class" and h["NCLASS"] == 4, (h["TASK"], h["NCLASS"])
assert [h["CLASS%d" % i] for i in range(1, 5)] == ["transient", "variable", "asteroid", "bogus"]
assert h["PARENT"] == b[0].header["MODNAME"] and h["PARENTCK"] == b[0].header["CHECKSUM"]
assert h["FTDATA"] == "c4_train.fits" and h["FTFREEZE"] == "conv" and h["FTNLAB"] == "320"
# its own version, not the parent's (issue 11)
assert h["MODVERS"] == "c4_" + h["WTSUM"][:8], (h["MODVERS"], b[0].header["MODVERS"])
for ext in ("conv1.kernel", "conv1.bias", "conv2.kernel"):
    assert np.array_equal(b[ext].data, f[ext].data), ext
assert not np.array_equal(b["fc_1.kernel"].data, f["fc_1.kernel"].data)
assert f["fc_out.kernel"].data.shape == (32, 4)
print("fine-tuned: head (32,4), conv layers identical, parent", h["PARENT"])
PY
"$sv" evaluate "$tmp/c4.fits" "$tmp/c4_test.fits" > "$tmp/ev4.out" 2>&1 \
    || { cat "$tmp/ev4.out"; fail "evaluate 4-class"; }
grep -q 'asteroid' "$tmp/ev4.out" || fail "4-class report lacks a class"

# ---- an explicit --version is the MODVERS card and the stage's RBMVERS ----
"$sv" finetune --from "$tmp/rb.fits" --data "$tmp/rb_train.fits" --out "$tmp/rbv.fits" \
    --epochs 1 --seed 5 --version rb-2026b --quiet > /dev/null 2>&1 || fail "finetune --version"
"$sv" inspect "$tmp/rbv.fits" | grep -q "^ *MODVERS = 'rb-2026b'" || fail "--version not in MODVERS"

# ---- compare: transfer vs scratch, 2 sizes x 2 seeds ----
"$sv" compare --base "$tmp/rb.fits" --train "$tmp/c4_train.fits" --test "$tmp/c4_test.fits" \
    --runs 2 --sizes 80,160 --epochs 3 --out "$tmp/cmp.csv" --runs-out "$tmp/runs.csv" \
    > "$tmp/cmp.out" 2>&1 || { cat "$tmp/cmp.out"; fail "compare"; }
cat "$tmp/cmp.out"
grep -q 'p Student' "$tmp/cmp.out" || fail "no t-test columns"
"$py" - "$tmp/cmp.csv" "$tmp/runs.csv" <<'PY' || fail "compare tables"
import csv, sys
s = list(csv.DictReader(l for l in open(sys.argv[1]) if not l.startswith("#")))
sizes = sorted({int(r["n_labels"]) for r in s})
assert sizes == [80, 160], sizes
acc = [r for r in s if r["metric"] == "accuracy"]
assert len(acc) == 2 and all(r["n_runs"] == "2" for r in acc)
for r in acc:
    p = float(r["p_student"])
    assert 0 <= p <= 1 or p != p
assert open(sys.argv[2]).readline().startswith("# scratch arm: base ")
runs = list(csv.DictReader(l for l in open(sys.argv[2]) if not l.startswith("#")))
assert len({(r["size"], r["arm"], r["run"]) for r in runs}) == 8
print("compare: %d summary rows, %d run rows" % (len(s), len(runs)))
PY

# ---- compare --scratch-from: another freeze policy against the same scratch runs ----
"$sv" compare --base "$tmp/rb.fits" --train "$tmp/c4_train.fits" --test "$tmp/c4_test.fits" \
    --runs 2 --sizes 80,160 --epochs 3 --freeze none --scratch-from "$tmp/runs.csv" \
    --out "$tmp/cmp2.csv" > "$tmp/cmp2.out" 2>&1 || { cat "$tmp/cmp2.out"; fail "compare --scratch-from"; }
[ "$(grep -c 'scratch .* reused$' "$tmp/cmp2.out")" = 4 ] || fail "--scratch-from did not reuse 4 runs"
"$py" - "$tmp/cmp.csv" "$tmp/cmp2.csv" <<'PY' || fail "--scratch-from figures"
import csv, sys
def rows(p):
    return {(r["size"], r["metric"]): r for r in
            csv.DictReader(l for l in open(p) if not l.startswith("#"))}
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert a.keys() == b.keys()
for k in a:  # the scratch arm read back exactly; the transfer arm trained anew
    assert (a[k]["scratch_mean"], a[k]["scratch_std"]) == (b[k]["scratch_mean"], b[k]["scratch_std"]), k
assert any(a[k]["transfer_mean"] != b[k]["transfer_mean"] for k in a)
print("compare --scratch-from: scratch figures identical, transfer retrained")
PY
"$sv" compare --base "$tmp/rb.fits" --train "$tmp/c4_train.fits" --test "$tmp/c4_test.fits" \
    --runs 2 --sizes 80,120 --epochs 3 --scratch-from "$tmp/runs.csv" > "$tmp/err.out" 2>&1 \
    && fail "--scratch-from of other sizes accepted"
grep -q 'runs.csv: made by another scratch arm' "$tmp/err.out" || { cat "$tmp/err.out"; fail "--scratch-from mismatch message"; }

# ---- errors: clear messages, usage status ----
"$sv" evaluate "$tmp/rb.fits" "$tmp/nosuch.fits" > "$tmp/err.out" 2>&1 && fail "missing data accepted"
grep -q 'nosuch.fits' "$tmp/err.out" || fail "error does not name the file"
"$sv" train --data "$tmp/rb_train.fits" --out "$tmp/x.fits" --arch nosuch > /dev/null 2>&1
[ $? -eq 2 ] || fail "unknown architecture is not a usage error"
"$sv" evaluate "$tmp/rb.fits" "$tmp/rb_test.fits" --out "$tmp/r.txt" > /dev/null 2>&1 \
    && fail "unknown report extension accepted"
echo "PASS: train_cli"
exit 0
