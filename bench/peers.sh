#!/bin/sh
# peers.sh — stampvet against ONNX Runtime and PyTorch on the same braai
# network (same weights), in one session, with the ratios.
#
# usage: bench/peers.sh [--stampvet PATH] [--rounds N] [--seconds S]
#                       [--threads 1,2] [--batch 1,16,256] [--skip-torch]
#
#   --stampvet PATH  the stampvet program (default: $STAMPVET, else ./stampvet,
#                    else stampvet on PATH); build it first
#   --rounds N       rounds (default 5); each round runs every engine once per
#                    (threads, batch), engines in a rotating order, so that a
#                    load change on a shared machine hits all of them; the
#                    table shows the median over the rounds
#   --seconds S      length of one timed run (default 1)
#
# What it installs when missing (a fresh Debian machine, as root or with sudo):
# nodejs + npm, python3-torch, python3-onnx (apt), and onnxruntime-node from
# npm into bench/node_modules (ONNXRUNTIME_NODE_INSTALL=skip: the npm package
# bundles the CPU library; the variable only skips the optional GPU download).
#
# Engines, all float32 on CPU:
#   stampvet  `stampvet bench --tsv`: the inference fast path (nn_plan)
#   ORT       onnxruntime-node, intraOpNumThreads = threads, sequential
#             execution, graph optimisation "all" (bench/ort_bench.js)
#   torch     Debian's PyTorch, set_num_threads(threads) (bench/torch_bench.py)
# The network and weights come from `stampvet bench --dump`; the ONNX file
# and the torch module are made from them by bench/export_onnx.py, and each
# engine's scores are checked against stampvet's reference engine (1e-5)
# before anything is timed.  ORT and torch get NCHW input (their native
# layout), stampvet channels-last (its own).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
rounds=5
seconds=1
threads=1,2
batches=1,16,256
skip_torch=0
sv=${STAMPVET:-}
while [ $# -gt 0 ]; do
    case "$1" in
    --stampvet) sv=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batches=$2; shift 2 ;;
    --skip-torch) skip_torch=1; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "peers.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$sv" ]; then
    if [ -x ./stampvet ]; then sv=./stampvet
    elif command -v stampvet >/dev/null 2>&1; then sv=$(command -v stampvet)
    else echo "peers.sh: no stampvet program: build it and pass --stampvet PATH" >&2; exit 1
    fi
fi

# ---- dependencies --------------------------------------------------------
. "$here/peer_deps.sh"

# ---- the network -----------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/sv-peers.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
"$sv" bench --dump "$work"
$PY "$here/export_onnx.py" "$work" "$work/braai.onnx"

# ---- rounds ----------------------------------------------------------------
run_sv() { "$sv" bench --no-models --tsv --runs 1 --seconds "$seconds" --threads "$threads" --batch "$batches"; }
run_ort() { node "$here/ort_bench.js" "$work/braai.onnx" "$work" "$threads" "$batches" 1 "$seconds"; }
run_torch() { [ $skip_torch = 1 ] || $PY "$here/torch_bench.py" "$work" "$threads" "$batches" 1 "$seconds"; }
res="$work/results.txt"
: > "$res"
r=1
while [ $r -le "$rounds" ]; do
    echo "peers.sh: round $r of $rounds" >&2
    case $((r % 3)) in
    1) order="sv ort torch" ;;
    2) order="ort torch sv" ;;
    0) order="torch sv ort" ;;
    esac
    for e in $order; do
        "run_$e" | tee -a "$res" | grep parity >&2 || true
    done
    r=$((r + 1))
done

# ---- table -----------------------------------------------------------------
cpu=$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
ncpu=$(nproc 2>/dev/null || echo '?')
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
$PY - "$res" "$rounds" "$seconds" "$ortver" "$torchver" "$cpu" "$ncpu" "$load" <<'EOF'
import re, statistics, sys
path, rounds, seconds, ortver, torchver, cpu, ncpu, load = sys.argv[1:9]
data = {}
isa = "?"
for line in open(path):
    m = re.match(r"(\w+) threads=(\d+) batch=(\d+) stamps_per_s=([\d.]+)", line)
    if not m:
        continue
    e, t, b, v = m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4))
    data.setdefault((e, t, b), []).append(v)
    m2 = re.search(r"isa=(\w+)", line)
    if m2:
        isa = m2.group(1)
keys = sorted({(t, b) for (_, t, b) in data})
med = {k: statistics.median(v) for k, v in data.items()}
print(f"\nbraai (38.1 MFLOP/stamp, float32), stamps/s, median of {rounds} rounds of {seconds} s;")
print(f"CPU: {cpu} ({ncpu} CPUs), load average at the end {load}")
print(f"stampvet fast path ({isa}), ONNX Runtime {ortver} (onnxruntime-node), PyTorch {torchver}\n")
print(f"{'threads':>7} {'batch':>5} {'stampvet':>9} {'ORT':>9} {'torch':>9} {'sv/ORT':>7} {'sv/torch':>8}")
ok = True
for t, b in keys:
    s, o, p = med.get(("stampvet", t, b)), med.get(("ort", t, b)), med.get(("torch", t, b))
    f = lambda x: f"{x:9.0f}" if x else f"{'-':>9}"
    r1 = s / o if s and o else None
    r2 = s / p if s and p else None
    print(f"{t:7d} {b:5d} {f(s)} {f(o)} {f(p)} {r1 and f'{r1:7.2f}' or '      -'} {r2 and f'{r2:8.2f}' or '       -'}")
    if r1 is not None:
        goal = 1.1 if b >= 16 else 0.9
        ok = ok and r1 >= goal
print("\ngoal (issue 6): stampvet/ORT >= 1.1 at batch >= 16, >= 0.9 at batch 1:",
      "met" if ok else "NOT met")
EOF
