#!/bin/sh
# train_bench.sh — training throughput of the braai network: stampvet
# (bench/train_bench: its training loop and engine on the training fast
# path, and the reference engine it used before) against PyTorch
# (bench/train_torch.py) in the same run, same network, minibatch 64, at 1
# and 2 threads; prints stamps/s, the ratios and the share of the measured
# FMA peak that the fast path reaches.
#
# usage: bench/train_bench.sh [BUILDDIR]      (default: $SV_BUILDDIR or .)
# environment: SV_PYTHON (default /usr/bin/python3), THREADS ("1 2"),
#              BATCH (64), STAMPS (1024 per epoch), EPOCHS (3, the first is
#              warm-up), STEPS (30 timed torch and engine steps; the
#              reference engine runs a third of them)
# Not a test: the figures depend on the machine and on its load; all sides
# are measured back to back so that they see the same machine.  Per
# CPU-second figures (all threads of the process) are the robust ones on a
# shared machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-${SV_BUILDDIR:-.}}
py=${SV_PYTHON:-/usr/bin/python3}
threads_list=${THREADS:-1 2}
batch=${BATCH:-64}
stamps=${STAMPS:-1024}
epochs=${EPOCHS:-3}
steps=${STEPS:-30}
bin="$build/bench/train_bench"
if [ ! -x "$bin" ]; then
    echo "train_bench.sh: $bin not found: run make in the build folder first" >&2
    exit 1
fi
summary=""
for threads in $threads_list; do
    echo "== stampvet (bench/train_bench), $threads thread(s) =="
    out=$("$bin" --threads "$threads" --batch "$batch" --stamps "$stamps" --epochs "$epochs" \
          --steps "$steps")
    echo "$out"
    get() { echo "$out" | awk -v k="$1" '$1 == k {print $2}'; }
    sv=$(get loop_stamps_per_s); svc=$(get loop_stamps_per_cpu_s)
    eng=$(get engine_stamps_per_s); engc=$(get engine_stamps_per_cpu_s)
    ref=$(get reference_loop_stamps_per_s); refc=$(get reference_loop_stamps_per_cpu_s)
    share=$(get peak_share); sharec=$(get peak_share_cpu)
    echo
    echo "== PyTorch (bench/train_torch.py), $threads thread(s) =="
    tv=0; tvc=0
    if tout=$("$py" "$here/train_torch.py" --threads "$threads" --batch "$batch" \
              --steps "$steps"); then
        echo "$tout"
        tv=$(echo "$tout" | awk '/^torch_stamps_per_s/ {print $2}')
        tvc=$(echo "$tout" | awk '/^torch_stamps_per_cpu_s/ {print $2}')
    else
        echo "train_bench.sh: torch is not available for $py: no comparison" >&2
    fi
    echo
    summary="$summary$(awk -v n="$threads" -v s="$sv" -v sc="$svc" -v e="$eng" -v ec="$engc" \
        -v r="$ref" -v rc="$refc" -v t="$tv" -v tc="$tvc" -v p="$share" -v pc="$sharec" 'BEGIN {
        printf "%d thread(s), batch '"$batch"'   wall stamps/s  per CPU-s\n", n;
        printf "  stampvet training loop : %8.1f  %8.1f\n", s, sc;
        printf "  stampvet engine (fast) : %8.1f  %8.1f   FMA peak: %.1f %% (wall), %.1f %% (CPU-s)\n", e, ec, p, pc;
        printf "  loop, reference engine : %8.1f  %8.1f   (STAMPVET_ISA=reference: before)\n", r, rc;
        printf "  torch                  : %8.1f  %8.1f\n", t, tc;
        printf "  loop fast / reference  : %.2fx wall, %.2fx per CPU-s (goal >= 10x)\n", s / r, sc / rc;
        if (t > 0)
            printf "  loop / torch           : %.2fx wall, %.2fx per CPU-s (goal >= 5x)\n", s / t, sc / tc;
    }')
"
done
echo "== summary =="
printf "%s" "$summary"
uptime | sed 's/^/load: /'
