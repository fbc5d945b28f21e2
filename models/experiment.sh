#!/bin/sh
# experiment.sh — the transfer-learning experiment of the ILMT papers, on
# simulated ILMT stamps: fine-tuning a ZTF model (transfer) against training
# the same network from scratch, for real/bogus, 3-class and 4-class, at
# several training-set sizes, over N seeds, with Student's and Welch's
# unpaired t-tests (`stampvet compare`), for each base model and each
# freezing policy.
#
#   make experiment                     (from a build tree)
#   models/experiment.sh [OUTDIR]       (OUTDIR defaults to this folder)
#
# Writes OUTDIR/experiment$TAG.md (the table, the run time and every compare
# output) and OUTDIR/experiment$TAG.csv (every compare --out summary row,
# prefixed with task, base, freeze policy and resample).
#
# Environment (defaults = the experiment of the issue; see models/README.md):
#   STAMPVET   the stampvet binary (default: ./stampvet, else PATH)
#   BASES      base models, space-separated file names in this folder or
#              paths (braai-d6_m7.fits rb-ztf.fits: real ZTF weights, and
#              the simulation-trained ZTF model)
#   FREEZES    transfer arm's freeze policies (none conv all-but-head)
#   SIZES      training-set sizes, one row each (100,300,1000,3000)
#   RUNS       seeds per arm (10)
#   POOL       simulated ILMT labels each size is drawn from (max of SIZES)
#   TEST       held-out simulated ILMT stamps per task (600)
#   EPOCHS PATIENCE   (12, 3)
#   BODY_LR    transfer arm's body learning-rate multiplier (default 1: the
#              whole network at the same rate, as the ILMT papers)
#   RESAMPLES  no: both arms on native ILMT stamps (63 px, 0.33"/px); yes:
#              on wide ILMT stamps resampled to the base's 1.01"/px and 63 px
#              (compare --resample; the filters were learnt at ZTF's scale)
#   TAG        suffix of the output names (empty)
#   TASKS      any of rb 3class 4class (all three)
#   THREADS    threads of each compare (1)
#   JOBS       compares at a time, one per base (2: on a 2-core machine two
#              1-thread trainings give 1.3x the stamps/s of one 2-thread one)
#   WORK       scratch folder (default: mktemp, removed unless KEEP=1).  Give
#              a folder to make the run resumable: its simulated tables and
#              every finished arm are kept and reused by the next run
#   TABLE_ONLY 1: run nothing, write the table of the arms finished in WORK
#              (the table says which of the asked arms are missing)
# The scratch arm is the base's architecture and preprocessing from fresh
# weights, so each base has its own scratch arm (braai d6_m7 normalises
# stamps by rows, rb-ztf by the whole stamp).
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
BASES=${BASES:-braai-d6_m7.fits rb-ztf.fits}
FREEZES=${FREEZES:-none conv all-but-head}
RESAMPLES=${RESAMPLES:-no yes}
TABLE_ONLY=${TABLE_ONLY:-0}
base_path() { case $1 in */*) echo "$1" ;; *) echo "$here/$1" ;; esac; }
for b in $BASES; do
    [ -f "$(base_path "$b")" ] || { echo "experiment.sh: base model $(base_path "$b") not found" >&2; exit 1; }
done
SIZES=${SIZES:-100,300,1000,3000}
RUNS=${RUNS:-10}
POOL=${POOL:-$(echo "$SIZES" | tr ',' '\n' | sort -n | tail -1)}
TEST=${TEST:-600}
EPOCHS=${EPOCHS:-12}
PATIENCE=${PATIENCE:-3}
BODY_LR=${BODY_LR:-1}
TAG=${TAG:-}
TASKS=${TASKS:-rb 3class 4class}
THREADS=${THREADS:-1}
JOBS=${JOBS:-2}
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

# the simulated tables of a task: native ILMT stamps (63 px at 0.33"/px),
# and wide ones (193 px) for the resampled arms (cut to ZTF's 63 px at
# 1.01"/px by --resample)
simulate_task() { # task part size seed stamp_size suffix
    f="$WORK/ilmt_$1_$2$6.fits"
    # stampvet writes whole files or none, and the same seed gives the same
    # table: one that exists is reused on resume
    [ -s "$f" ] && return 0
    log "$SV simulate --survey ilmt --scheme $1 --stamps $3 --seed $4${5:+ --stamp-size $5} --threads $((THREADS * JOBS)) -o $(basename "$f")"
    "$SV" simulate --survey ilmt --scheme "$1" --stamps "$3" --seed "$4" ${5:+--stamp-size "$5"} \
        --threads $((THREADS * JOBS)) -o "$f" 2>/dev/null
}
touch "$WORK/arms"
missing=
# the arms of one base for one task and scale, one compare per freeze
# policy: the first policy's compare trains the scratch arm, the others
# reuse its scratch runs (compare --scratch-from: same base, data, sizes,
# seeds and scratch recipe, so the same figures, trained once)
base_arms() { # task resample sfx flag base
    bn=$(basename "$5" .fits)
    ref=
    for freeze in $FREEZES; do
        arm="$1@$bn@$freeze@$2"
        # an arm done by an earlier run with this WORK is kept (resume)
        if [ ! -s "$WORK/summary_$arm.csv" ]; then
            t_arm=$(date +%s)
            log "$SV compare --base $bn.fits --train ilmt_$1_pool$3.fits --test ilmt_$1_test$3.fits${4:+ $4} --runs $RUNS --sizes $SIZES --freeze $freeze --body-lr-scale $BODY_LR --epochs $EPOCHS --patience $PATIENCE --seed 1 --threads $THREADS${ref:+ --scratch-from runs_$ref.csv}"
            "$SV" compare --base "$(base_path "$5")" --train "$WORK/ilmt_$1_pool$3.fits" \
                --test "$WORK/ilmt_$1_test$3.fits" $4 --runs "$RUNS" --sizes "$SIZES" \
                --freeze "$freeze" --body-lr-scale "$BODY_LR" --epochs "$EPOCHS" \
                --patience "$PATIENCE" --seed 1 --threads "$THREADS" \
                ${ref:+--scratch-from "$WORK/runs_$ref.csv"} \
                --out "$WORK/summary_$arm.csv" --runs-out "$WORK/runs_$arm.csv" \
                > "$WORK/compare_$arm.txt" || { cat "$WORK/compare_$arm.txt"; return 1; }
            echo $(( $(date +%s) - t_arm )) > "$WORK/seconds_$arm"
        fi
        [ -n "$ref" ] || ref=$arm
    done
}
for task in $TASKS; do
    s=$(seed_of "$task")
    [ -n "$s" ] || { echo "experiment.sh: unknown task '$task' (rb 3class 4class)" >&2; exit 1; }
    for resample in $RESAMPLES; do
        case $resample in
        no) sfx=; size=; flag= ;;
        yes) sfx=_wide; size=193; flag=--resample ;;
        *) echo "experiment.sh: RESAMPLES takes no and yes, not '$resample'" >&2; exit 1 ;;
        esac
        if [ "$TABLE_ONLY" != 1 ]; then
            simulate_task "$task" pool "$POOL" "$s" "$size" "$sfx"
            simulate_task "$task" test "$TEST" $((s + 1)) "$size" "$sfx"
            # the bases side by side, JOBS at a time
            pids= n=0 failed=0
            for base in $BASES; do
                base_arms "$task" "$resample" "$sfx" "$flag" "$base" &
                pids="$pids $!"
                n=$((n + 1))
                if [ $n -ge "$JOBS" ]; then
                    for p in $pids; do wait "$p" || failed=1; done
                    pids= n=0
                fi
            done
            for p in $pids; do wait "$p" || failed=1; done
            [ $failed = 0 ] || { echo "experiment.sh: a compare failed (above)" >&2; exit 1; }
        fi
        for base in $BASES; do
            bn=$(basename "$base" .fits)
            for freeze in $FREEZES; do
                arm="$task@$bn@$freeze@$resample"
                if [ ! -s "$WORK/summary_$arm.csv" ]; then missing="$missing $arm"; continue; fi
                [ "$TABLE_ONLY" = 1 ] || cat "$WORK/compare_$arm.txt"
                grep -qx "$arm" "$WORK/arms" || echo "$arm" >> "$WORK/arms"
            done
        done
    done
done
# wall-clock time of every invocation with this WORK (resumed runs add up)
[ "$TABLE_ONLY" = 1 ] || echo $(( $(date +%s) - t_start )) >> "$WORK/wall_seconds"
[ -s "$WORK/arms" ] || { echo "experiment.sh: no arm done yet in $WORK" >&2; exit 1; }
t_wall=$(awk '{ s += $1 } END { print s + 0 }' "$WORK/wall_seconds" 2>/dev/null || echo 0)
# the compare time of every arm in the table, whichever run made it
t_arms=$(while read -r arm; do cat "$WORK/seconds_$arm" 2>/dev/null || echo 0; done < "$WORK/arms" |
    awk '{ s += $1 } END { print s + 0 }')

# ---------------------------------------------------------------- the table
name_of() { case $1 in rb) echo "real/bogus" ;; 3class) echo "3-class" ;; 4class) echo "4-class" ;; esac; }
# the summaries as one CSV: task, base, freeze, resample, then compare's columns
{
    echo "task,base,freeze,resample,$(grep -v '^#' "$WORK/summary_$(head -1 "$WORK/arms").csv" | head -1)"
    while read -r arm; do
        set -- $(echo "$arm" | tr '@' ' ')
        grep -v '^#' "$WORK/summary_$arm.csv" | tail -n +2 | sed "s|^|$1,$2,$3,$4,|"
    done < "$WORK/arms"
} > "$OUT/experiment$TAG.csv"
base_list=$(for b in $BASES; do printf '`%s` ' "$(basename "$b")"; done)
{
cat <<EOF
# The transfer-learning experiment, on simulated ILMT stamps

Produced by \`models/experiment.sh\` (\`make experiment\`) in ${t_wall} s of wall-clock
time (the compare runs of the arms below: ${t_arms} s, $JOBS at a time with $THREADS
thread(s) each; each base's first freeze policy trains the scratch arm, the others
reuse it, \`compare --scratch-from\`) with
$("$SV" --version 2>/dev/null | head -1) on this machine ($(nproc 2>/dev/null || echo '?') cores). Bases: $base_list (transfer =
\`finetune --freeze POLICY --body-lr-scale $BODY_LR\` from the base, head replaced for
3/4-class; scratch = the base's architecture and preprocessing from fresh weights;
resample yes: both arms and the test on 193-px ILMT stamps resampled to the base's
1.01"/px and 63 px, \`compare --resample\`);
$RUNS seeds per arm; training-set sizes $SIZES drawn (stratified, once) from a pool of
$POOL simulated ILMT labels per task; every run scored on the same $TEST held-out
simulated ILMT stamps. Both arms: Adam lr 1e-3, batch 64, <= $EPOCHS epochs, early
stopping (patience $PATIENCE) on a 10 % validation split. p = two-sided p-value of
the unpaired two-sample t-test on the $RUNS accuracies per arm (Student: pooled
variance; Welch: unequal variances). Mean +- standard deviation over seeds.
$( [ -z "$missing" ] || printf '\n**Not run yet** (resume with the same WORK):%s.\n' "$missing")

| task | base | freeze | resample | labels | transfer accuracy | scratch accuracy | p (Student) | p (Welch) | transfer / scratch AUC | transfer / scratch macro-F1 |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
EOF
awk -F, -v names="rb=real/bogus,3class=3-class,4class=4-class" '
    BEGIN { n = split(names, a, ","); for (i = 1; i <= n; i++) { split(a[i], kv, "="); nm[kv[1]] = kv[2] } }
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4 SUBSEP $(c["size"]); m = $(c["metric"])
      tm[k, m] = $(c["transfer_mean"]); ts[k, m] = $(c["transfer_std"])
      sm[k, m] = $(c["scratch_mean"]); ss[k, m] = $(c["scratch_std"])
      ps[k, m] = $(c["p_student"]); pw[k, m] = $(c["p_welch"])
      if (!(k in seen)) { seen[k] = 1; order[++nk] = k; row[k] = $1 "|" $2 "|" $3 "|" $4 "|" $(c["size"]) } }
    END { for (i = 1; i <= nk; i++) { k = order[i]; split(row[k], r, "|")
            printf "| %s | %s | %s | %s | %s | %.3f +- %.3f | %.3f +- %.3f | %.3g | %.3g | %.3f / %.3f | %.3f / %.3f |\n",
                   nm[r[1]], r[2], r[3], r[4], r[5], tm[k, "accuracy"], ts[k, "accuracy"],
                   sm[k, "accuracy"], ss[k, "accuracy"], ps[k, "accuracy"], pw[k, "accuracy"],
                   tm[k, "auc"], sm[k, "auc"], tm[k, "macro_f1"], sm[k, "macro_f1"] } }' \
    "$OUT/experiment$TAG.csv"
echo
echo "## Every compare run"
while read -r arm; do
    echo
    echo "### $arm"
    echo
    echo '```'
    sed -e "s|$WORK/||g" -e "s|$here/||g" "$WORK/compare_$arm.txt"
    echo '```'
done < "$WORK/arms"
echo
echo "Figures (\`stampvet report --compare\`, doc/report.md; the whole page: [report_experiment$TAG/index.html](report_experiment$TAG/index.html)), one per arm, in the order of the table:"
echo
i=0; while read -r arm; do i=$((i + 1)); printf '![%s](report_experiment%s/compare_%d.png) ' "$arm" "$TAG" "$i"; done < "$WORK/arms"; echo
} > "$OUT/experiment$TAG.md"
log "wrote $OUT/experiment$TAG.md and experiment$TAG.csv"
# the figures beside the table: OUT/report_experiment$TAG/, one per arm
"$SV" report --compare "$OUT/experiment$TAG.csv" --title "The transfer-learning experiment$TAG" -o "$OUT/report_experiment$TAG" ||
    echo "experiment.sh: no report (stampvet without cairo?)"
