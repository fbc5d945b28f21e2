#!/bin/sh
# experiment.sh — the transfer-learning experiment of the ILMT papers, on
# simulated ILMT stamps: fine-tuning the shipped ZTF model (transfer) against
# training the same network from scratch, for real/bogus, 3-class and
# 4-class, at a few training-set sizes, over N seeds, with Student's and
# Welch's unpaired t-tests (`stampvet compare`).
#
#   make experiment                     (from a build tree)
#   models/experiment.sh [OUTDIR]       (OUTDIR defaults to this folder)
#
# Writes OUTDIR/experiment$TAG.md (the table and every compare output) and
# OUTDIR/experiment$TAG_<task>.csv (compare --out summaries).
#
# Environment (defaults = the table in models/README.md):
#   STAMPVET   the stampvet binary (default: ./stampvet, else PATH)
#   BASE       the base model (default: rb-ztf.fits next to this script)
#   SIZES      training-set sizes, one row each (300,1000)
#   RUNS       seeds per arm (3)
#   POOL       simulated ILMT labels each size is drawn from (max of SIZES)
#   TEST       held-out simulated ILMT stamps per task (600)
#   EPOCHS PATIENCE   (12, 3)
#   FREEZE     transfer arm's freeze policy (conv)
#   BODY_LR    transfer arm's body learning-rate multiplier (compare's
#              default: 0.1 with FREEZE=none, else 1)
#   TAG        suffix of the output names: experiment$TAG.md,
#              experiment$TAG_<task>.csv (empty)
#   TASKS      any of rb 3class 4class (all three)
#   THREADS    (2)
#   WORK       scratch folder (default: mktemp, removed unless KEEP=1)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$here}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -z "${STAMPVET:-}" ]; then
    if [ -x ./stampvet ]; then STAMPVET=$(pwd)/stampvet
    else STAMPVET=$(command -v stampvet || true); fi
fi
[ -n "${STAMPVET:-}" ] && [ -x "$STAMPVET" ] || { echo "experiment.sh: no stampvet binary (set STAMPVET=...)" >&2; exit 1; }
BASE=${BASE:-$here/rb-ztf.fits}
[ -f "$BASE" ] || { echo "experiment.sh: base model $BASE not found (make models)" >&2; exit 1; }
SIZES=${SIZES:-300,1000}
RUNS=${RUNS:-3}
POOL=${POOL:-$(echo "$SIZES" | tr ',' '\n' | sort -n | tail -1)}
TEST=${TEST:-600}
EPOCHS=${EPOCHS:-12}
PATIENCE=${PATIENCE:-3}
FREEZE=${FREEZE:-conv}
BODY_LR=${BODY_LR:-}
TAG=${TAG:-}
TASKS=${TASKS:-rb 3class 4class}
THREADS=${THREADS:-2}
KEEP=${KEEP:-0}
if [ -z "${WORK:-}" ]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/sv-experiment-XXXXXX")
    [ "$KEEP" = 1 ] || trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
SV=$STAMPVET
t_start=$(date +%s)
log() { echo "== $(date +%H:%M:%S) $*"; }

# seeds: 3001/3002 rb pool/test, 3003/3004 3class, 3005/3006 4class (not the
# seeds of the shipped models' data)
seed_of() { case $1 in rb) echo 3001 ;; 3class) echo 3003 ;; 4class) echo 3005 ;; esac; }

for task in $TASKS; do
    s=$(seed_of "$task")
    [ -n "$s" ] || { echo "experiment.sh: unknown task '$task' (rb 3class 4class)" >&2; exit 1; }
    for part in pool test; do
        n=$POOL; seed=$s
        [ $part = test ] && { n=$TEST; seed=$((s + 1)); }
        log "$SV simulate --survey ilmt --scheme $task --stamps $n --seed $seed --threads $THREADS -o ilmt_${task}_$part.fits"
        "$SV" simulate --survey ilmt --scheme "$task" --stamps "$n" --seed "$seed" --threads "$THREADS" \
            -o "$WORK/ilmt_${task}_$part.fits" 2>/dev/null
    done
    log "$SV compare --base $(basename "$BASE") --train ilmt_${task}_pool.fits --test ilmt_${task}_test.fits --runs $RUNS --sizes $SIZES --freeze $FREEZE${BODY_LR:+ --body-lr-scale $BODY_LR} --epochs $EPOCHS --patience $PATIENCE --seed 1 --threads $THREADS --out experiment${TAG}_$task.csv"
    "$SV" compare --base "$BASE" --train "$WORK/ilmt_${task}_pool.fits" --test "$WORK/ilmt_${task}_test.fits" \
        --runs "$RUNS" --sizes "$SIZES" --freeze "$FREEZE" ${BODY_LR:+--body-lr-scale "$BODY_LR"} \
        --epochs "$EPOCHS" --patience "$PATIENCE" \
        --seed 1 --threads "$THREADS" --out "$OUT/experiment${TAG}_$task.csv" \
        --runs-out "$WORK/runs_$task.csv" | tee "$WORK/compare_$task.txt"
done
t_total=$(( $(date +%s) - t_start ))

# ---------------------------------------------------------------- the table
name_of() { case $1 in rb) echo "real/bogus" ;; 3class) echo "3-class" ;; 4class) echo "4-class" ;; esac; }
{
cat <<EOF
# The transfer-learning experiment, on simulated ILMT stamps

Produced by \`models/experiment.sh\` (\`make experiment\`) in ${t_total} s with
$("$SV" --version 2>/dev/null | head -1): base model \`$(basename "$BASE")\`, $RUNS seeds per arm,
training-set sizes $SIZES drawn (stratified, once) from a pool of $POOL simulated ILMT
labels per task, each run scored on $TEST held-out simulated ILMT stamps. Transfer =
\`finetune --freeze $FREEZE${BODY_LR:+ --body-lr-scale $BODY_LR}\` from the base model (head replaced for 3/4-class);
scratch = the same architecture from fresh weights. Both: Adam lr 1e-3, batch 64,
<= $EPOCHS epochs, early stopping (patience $PATIENCE) on a 10 % validation split.
p = two-sided p-value of the unpaired two-sample t-test on the $RUNS accuracies per arm
(Student: pooled variance; Welch: unequal variances). Epochs = best validation epoch.

| task | labels | transfer accuracy | scratch accuracy | p (Student) | p (Welch) | transfer AUC | scratch AUC | epochs transfer / scratch |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
EOF
for task in $TASKS; do
    awk -F, -v task="$(name_of "$task")" '
        /^#/ || $1 == "size" { next }
        { k = $2 SUBSEP $3; tm[k] = $4; ts[k] = $5; sm[k] = $6; ss[k] = $7; ps[k] = $9; pw[k] = $12
          if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
        END { for (i = 1; i <= n; i++) { s = order[i]
                a = s SUBSEP "accuracy"; u = s SUBSEP "auc"; e = s SUBSEP "epochs"
                printf "| %s | %s | %.3f +- %.3f | %.3f +- %.3f | %.3g | %.3g | %.3f | %.3f | %.1f / %.1f |\n",
                       task, s, tm[a], ts[a], sm[a], ss[a], ps[a], pw[a], tm[u], sm[u], tm[e], sm[e] } }' \
        "$OUT/experiment${TAG}_$task.csv"
done
echo
echo "## Every compare run"
for task in $TASKS; do
    echo
    echo "### $(name_of "$task")"
    echo
    echo '```'
    sed -e "s|$WORK/||g" -e "s|$(dirname "$BASE")/||g" "$WORK/compare_$task.txt"
    echo '```'
done
echo
echo "Figures (\`stampvet report --compare\`, doc/report.md; the whole page: [report_experiment$TAG/index.html](report_experiment$TAG/index.html) after \`make experiment\`):"
echo
i=0; for task in $TASKS; do i=$((i + 1)); printf '![%s](report_experiment%s/compare_%d.png) ' "$(name_of "$task")" "$TAG" "$i"; done; echo
} > "$OUT/experiment$TAG.md"
log "wrote $OUT/experiment$TAG.md"
# the figures beside the table: OUT/report_experiment$TAG/
set --
for task in $TASKS; do set -- "$@" --compare "$OUT/experiment${TAG}_$task.csv"; done
"$SV" report "$@" --title "The transfer-learning experiment$TAG" -o "$OUT/report_experiment$TAG" ||
    echo "experiment.sh: no report (stampvet without cairo?)"
