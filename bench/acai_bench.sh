#!/bin/sh
# acai_bench.sh — a two-input network of ACAI's shape (Duev & van der Walt
# 2021: separable convolutions over a 63x63 triplet, dense layers over 25
# candidate features, concatenated, five sigmoid heads; the network of
# tests/keras_acai.sh) through stampvet's fast path, stampvet's reference
# engine, ONNX Runtime and PyTorch, same weights, in one session.
#
# usage: bench/acai_bench.sh [--stampvet PATH] [--rounds N] [--seconds S]
#                            [--threads 1,2] [--batch 1,16,256]
#   (defaults: $STAMPVET else ./stampvet, 5 rounds of 1 s, threads 1,2,
#   batches 1,16,256).  Each round runs every engine once per (threads,
#   batch), engines in a rotating order; the table shows medians over the
#   rounds and the ratios.  Installs what it needs as bench/peers.sh does
#   (bench/peer_deps.sh).
#
# The model: tests/python/acai_case.py writes the Keras HDF5 file, `stampvet
# import-keras` imports it; bench/acai_torch.py builds the PyTorch module
# from the same weights, checks it against the case's numpy reference
# scores (the ones keras_acai.sh holds stampvet to) and exports the ONNX
# file; ONNX Runtime is checked against torch's scores before timing.
# Not a test: the figures depend on the machine and its load.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
rounds=5
seconds=1
threads=1,2
batches=1,16,256
sv=${STAMPVET:-}
while [ $# -gt 0 ]; do
    case "$1" in
    --stampvet) sv=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batches=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "acai_bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$sv" ] || { [ -x ./stampvet ] && sv=./stampvet; } || sv=$(command -v stampvet || true)
[ -n "$sv" ] && [ -x "$sv" ] || { echo "acai_bench.sh: no stampvet program: pass --stampvet PATH" >&2; exit 1; }
sv=$(cd "$(dirname "$sv")" && pwd)/$(basename "$sv")

. "$here/peer_deps.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/sv-acai-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
# the model and the peers' files (torch's parity check printed)
$PY "$here/acai_torch.py" "$work" "$threads" "$batches" 1 0.01 | grep parity >&2
"$sv" import-keras "$work/acai.h5" --task class --classes "$(cat "$work/classes.txt")" \
    --norm l2 --features "$(cat "$work/features_names.txt")" --name acai-like \
    -o "$work/acai.fits" > /dev/null

run_sv() { (cd "$work" && "$sv" bench --model acai.fits --no-braai --tsv --runs 1 --seconds "$seconds" --threads "$threads" --batch "$batches" --isa auto); }
run_ref() { (cd "$work" && "$sv" bench --model acai.fits --no-braai --tsv --runs 1 --seconds "$seconds" --threads "$threads" --batch "$batches" --isa reference) | sed 's/^stampvet /reference /'; }
run_ort() { node "$here/ort_acai.js" "$work" "$threads" "$batches" 1 "$seconds"; }
run_torch() { $PY "$here/acai_torch.py" "$work/t" "$threads" "$batches" 1 "$seconds" | grep -v parity; }
res="$work/results.txt"
: > "$res"
r=1
while [ "$r" -le "$rounds" ]; do
    echo "acai_bench.sh: round $r of $rounds" >&2
    case $((r % 4)) in
    1) order="sv ref ort torch" ;;
    2) order="ref ort torch sv" ;;
    3) order="ort torch sv ref" ;;
    0) order="torch sv ref ort" ;;
    esac
    for e in $order; do
        "run_$e" | tee -a "$res" | grep parity >&2 || true
    done
    r=$((r + 1))
done

cpu=$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
$PY - "$res" "$rounds" "$seconds" "$ortver" "$torchver" "$cpu" "$load" <<'EOF'
import re, statistics, sys
path, rounds, seconds, ortver, torchver, cpu, load = sys.argv[1:8]
data, isa = {}, "?"
for line in open(path):
    m = re.match(r"(\w+) threads=(\d+) batch=(\d+) stamps_per_s=([\d.]+)", line)
    if not m:
        continue
    e, t, b, v = m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4))
    data.setdefault((e, t, b), []).append(v)
    m2 = re.search(r"isa=(\w+)", line)
    if m2 and e == "stampvet":
        isa = m2.group(1)
med = {k: statistics.median(v) for k, v in data.items()}
print(f"\nACAI-shaped network (63x63x3 triplet + 25 features), stamps/s, median of {rounds} rounds of {seconds} s;")
print(f"CPU: {cpu}, load average at the end {load}")
print(f"stampvet fast path ({isa}), stampvet reference engine, ONNX Runtime {ortver}, PyTorch {torchver}\n")
print(f"{'threads':>7} {'batch':>5} {'stampvet':>9} {'reference':>9} {'ORT':>9} {'torch':>9} {'sv/ref':>7} {'sv/ORT':>7} {'sv/torch':>8}")
for t, b in sorted({(t, b) for (_, t, b) in data}):
    g = lambda e: med.get((e, t, b))
    s, r, o, p = g("stampvet"), g("reference"), g("ort"), g("torch")
    f = lambda x: f"{x:9.0f}" if x else f"{'-':>9}"
    q = lambda a, c, w: f"{a / c:{w}.2f}" if a and c else f"{'-':>{w}}"
    print(f"{t:7d} {b:5d} {f(s)} {f(r)} {f(o)} {f(p)} {q(s, r, 7)} {q(s, o, 7)} {q(s, p, 8)}")
EOF
