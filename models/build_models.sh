#!/bin/sh
# build_models.sh — rebuild the shipped default models and their cards.
#
#   make models                        (from a build tree: runs this script
#                                       with the freshly built stampvet and
#                                       writes into the SOURCE tree's models/)
#   models/build_models.sh [OUTDIR]    (by hand; OUTDIR defaults to the
#                                       folder holding this script)
#
# What it does, every step with a fixed seed (the output is the same on every
# run on the same build; training is bit-identical for any thread count):
#   1. simulates the data with `stampvet simulate` (ZTF real/bogus; ILMT
#      real/bogus, 3-class and 4-class; a held-out set for each, from its own
#      seed);
#   2. trains rb-ztf (real/bogus, simulated ZTF, 1.01"/px) from scratch;
#   3. fine-tunes rb-ilmt, cls3-ilmt and cls4-ilmt from FT_BASE (braai,
#      ZTF's real-data model) on small simulated ILMT sets (0.33"/px;
#      cls3/cls4 replace the head);
#   4. evaluates each model on its held-out set (`stampvet evaluate`);
#   5. scores the real ZTF alerts of the fixtures (ztf-alerts, ztf-alerts-dev)
#      with rb-ztf and compares with ZTF's drb (models/ztf_alerts_check.sh);
#   6. writes OUTDIR/<model>.fits and the model card OUTDIR/<model>.md.
#
# Sizes and the recipe are environment variables (defaults = the shipped
# models); tests/models_recipe.sh runs a miniature with tiny values:
#   STAMPVET        the stampvet binary (default: ./stampvet, else PATH)
#   WORK            scratch folder for the simulated tables (default: a
#                   fresh mktemp folder, removed at the end unless KEEP=1)
#   ARCH            network of rb-ztf (braai)
#   FT_BASE         base model of the ILMT fine-tunes (default: braai-d6_m7.fits
#                   in this folder, the base the transfer experiment favours:
#                   models/experiment.md; rb-ztf = the model trained in step 2)
#   ZTF_TRAIN ZTF_TEST                    (10000, 2000)
#   ZTF_BANDS       bands of the ZTF stamps (g,r: each stamp's drawn uniformly)
#   ILMT_RB_TRAIN ILMT_CLS3_TRAIN ILMT_CLS4_TRAIN ILMT_TEST   (400, 600, 800, 1000)
#   ZTF_EPOCHS FT_EPOCHS                  (10, 60)
#   PATIENCE FT_PATIENCE                  early stopping of train / finetune (3, 5)
#   THREADS         (2)
#   FIXTURES        real-data fixtures folder (default: ../shared/fixtures
#                   next to the source tree); absent = step 5 skipped
#   CARDS           1 = write the model cards (default 1)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$here}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ -z "${STAMPVET:-}" ]; then
    if [ -x ./stampvet ]; then STAMPVET=$(pwd)/stampvet
    else STAMPVET=$(command -v stampvet || true); fi
fi
[ -n "${STAMPVET:-}" ] && [ -x "$STAMPVET" ] || { echo "build_models.sh: no stampvet binary (set STAMPVET=...)" >&2; exit 1; }

ARCH=${ARCH:-braai}
ZTF_TRAIN=${ZTF_TRAIN:-10000}
ZTF_TEST=${ZTF_TEST:-2000}
ZTF_BANDS=${ZTF_BANDS:-g,r}
ILMT_RB_TRAIN=${ILMT_RB_TRAIN:-400}
ILMT_CLS3_TRAIN=${ILMT_CLS3_TRAIN:-600}
ILMT_CLS4_TRAIN=${ILMT_CLS4_TRAIN:-800}
ILMT_TEST=${ILMT_TEST:-1000}
ZTF_EPOCHS=${ZTF_EPOCHS:-10}
FT_EPOCHS=${FT_EPOCHS:-60}
PATIENCE=${PATIENCE:-3}
FT_PATIENCE=${FT_PATIENCE:-5}
THREADS=${THREADS:-2}
CARDS=${CARDS:-1}
FT_BASE=${FT_BASE:-$here/braai-d6_m7.fits}
case $FT_BASE in rb-ztf | rb-ztf.fits) FT_BASE=$OUT/rb-ztf.fits ;; esac
FT_NAME=$(basename "$FT_BASE" .fits)
# The cards' reasons for the base and the freeze policy, quoted from the
# transfer-learning experiment's table (models/experiment.csv, written by
# `make experiment`) when it has the rows.
exp_csv=$here/experiment.csv
# mean ROC AUC of one arm, by training-set size ("0.880 / 0.945 / ..."), or
# with `size` as the last argument the sizes themselves
exp_auc() { # task base freeze resample [transfer|scratch|size]
    [ -f "$exp_csv" ] || return 0
    awk -F, -v t="$1" -v b="$2" -v f="$3" -v r="$4" -v want="${5:-transfer}" '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $1 == t && $2 == b && $3 == f && $(c["resample"]) == r && $(c["metric"]) == "auc" {
            v = want == "size" ? $(c["size"]) : sprintf("%.3f", $(c[want "_mean"]))
            printf "%s%s", n++ ? " / " : "", v }' "$exp_csv"
}
why_task() { # task label: one sentence on the bases for that task, if the table has it
    tb=$(exp_auc "$1" braai-d6_m7 none no) tz=$(exp_auc "$1" rb-ztf none no)
    [ -n "$tb" ] && [ -n "$tz" ] || return 0
    printf '%s: braai %s, rb-ztf %s, the braai network from scratch %s at %s labels. ' \
        "$2" "$tb" "$tz" \
        "$(exp_auc "$1" braai-d6_m7 none no scratch)" "$(exp_auc "$1" braai-d6_m7 none no size)"
}
rb_conv=$(exp_auc rb braai-d6_m7 conv no) rb_head=$(exp_auc rb braai-d6_m7 all-but-head no)
case $FT_NAME in
braai-d6_m7) why_base="The base is ZTF's braai (real ZTF stamps), not the simulation-trained rb-ztf.
Evidence, the transfer-learning experiment (models/experiment.md: simulated ILMT stamps at
their native scale, every layer trained, mean ROC AUC over the seeds):
$(why_task rb real/bogus)$(why_task 3class 3-class)$(why_task 4class 4-class)" ;;
*) why_base="The base is \`$FT_NAME\` (FT_BASE); the transfer-learning experiment comparing bases is
models/experiment.md." ;;
esac
if [ -n "$rb_conv" ]; then
    why_freeze="Why not frozen layers: in the same experiment braai fine-tuned on ILMT real/bogus with
its convolutions frozen (filters used at a pixel scale 3x finer than they were learnt at)
reached ROC AUC $rb_conv, and with all but the head frozen $rb_head."
else
    why_freeze="The freeze policies are compared in models/experiment.md."
fi
FIXTURES=${FIXTURES:-$here/../../shared/fixtures}
KEEP=${KEEP:-0}

if [ -z "${WORK:-}" ]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/sv-models-XXXXXX")
    [ "$KEEP" = 1 ] || trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
SV=$STAMPVET
t_start=$(date +%s)
log() { echo "== $(date +%H:%M:%S) $*"; }
# run a command, echo it, keep its output in $WORK/<tag>.txt
run() {
    tag=$1; shift
    log "$*"
    "$@" > "$WORK/$tag.txt" 2>&1 || { cat "$WORK/$tag.txt"; echo "build_models.sh: FAILED: $*" >&2; exit 1; }
    cat "$WORK/$tag.txt"
}
# seconds taken, per step, for the cards
stamp() { date +%s; }

# ---------------------------------------------------------------- 1. data
# seeds: 1001/1002 ZTF rb train/test; 2001..2006 ILMT rb, 3class, 4class
# train/test.  Classes balanced (simulate's default); reals of the rb sets
# are 1:1:1 transient:variable:asteroid.
# ZTF stamps in g and r (ZTF_BANDS; each stamp's band drawn uniformly:
# ZTF's surveys observe both, and half of the real alerts are g band).
sim() { # tag survey scheme n seed [band]
    run "sim_$1" "$SV" simulate --survey "$2" --scheme "$3" --stamps "$4" --seed "$5" \
        ${6:+--band "$6"} --threads "$THREADS" -o "$WORK/$1.fits"
}
sim ztf_rb_train   ztf  rb     "$ZTF_TRAIN"       1001 "$ZTF_BANDS"
sim ztf_rb_test    ztf  rb     "$ZTF_TEST"        1002 "$ZTF_BANDS"
sim ilmt_rb_train  ilmt rb     "$ILMT_RB_TRAIN"   2001
sim ilmt_rb_test   ilmt rb     "$ILMT_TEST"       2002
sim ilmt_3c_train  ilmt 3class "$ILMT_CLS3_TRAIN" 2003
sim ilmt_3c_test   ilmt 3class "$ILMT_TEST"       2004
sim ilmt_4c_train  ilmt 4class "$ILMT_CLS4_TRAIN" 2005
sim ilmt_4c_test   ilmt 4class "$ILMT_TEST"       2006

# ---------------------------------------------------------------- 2-3. models
t0=$(stamp)
run train_rb-ztf "$SV" train --data "$WORK/ztf_rb_train.fits" --out "$OUT/rb-ztf.fits" \
    --arch "$ARCH" --epochs "$ZTF_EPOCHS" --patience "$PATIENCE" --seed 1 --threads "$THREADS"
t_rbztf=$(( $(stamp) - t0 ))

ft() { # name data extra-args...
    name=$1; data=$2; shift 2
    t0=$(stamp)
    run "train_$name" "$SV" finetune --from "$FT_BASE" --data "$WORK/$data.fits" \
        --out "$OUT/$name.fits" --freeze none --body-lr-scale 1 --epochs "$FT_EPOCHS" --patience "$FT_PATIENCE" \
        --seed 1 --threads "$THREADS" "$@"
    eval "t_$(echo "$name" | tr -c 'a-z0-9\n' '_')=$(( $(stamp) - t0 ))"
}
ft rb-ilmt   ilmt_rb_train
ft cls3-ilmt ilmt_3c_train
ft cls4-ilmt ilmt_4c_train

# ---------------------------------------------------------------- 4. held-out figures
ev() { # name test
    run "eval_$1" "$SV" evaluate --model "$OUT/$1.fits" --data "$WORK/$2.fits" --threads "$THREADS" \
        --scores-out "$WORK/scores_$1.fits"
    # the figures (doc/report.md) beside the model: OUT/report_<name>/
    "$SV" report --eval "$WORK/scores_$1.fits" --data "$WORK/$2.fits" --gallery 4 \
        -o "$OUT/report_$1" > /dev/null || echo "build_models.sh: no report for $1 (stampvet without cairo?)"
}
ev rb-ztf    ztf_rb_test
ev rb-ilmt   ilmt_rb_test
ev cls3-ilmt ilmt_3c_test
ev cls4-ilmt ilmt_4c_test
# context for rb-ilmt: the base applied to native ILMT stamps without fine-tuning
run eval_base-on-ilmt "$SV" evaluate --model "$FT_BASE" --data "$WORK/ilmt_rb_test.fits" \
    --threads "$THREADS"

# ---------------------------------------------------------------- 5. real ZTF alerts
# rb-ztf against ZTF's production braai (drb) on the fixtures' real alerts
real_ok=0
if [ -f "$FIXTURES/ztf-alerts/alerts.csv" ] && [ -f "$FIXTURES/ztf-alerts-dev/alerts.csv" ]; then
    run real_check env STAMPVET="$SV" sh "$here/ztf_alerts_check.sh" "$OUT/rb-ztf.fits" \
        "$FIXTURES/ztf-alerts" "$FIXTURES/ztf-alerts-dev"
    real_ok=1
else
    log "real ZTF alerts not found in $FIXTURES: step 5 skipped"
fi

t_total=$(( $(stamp) - t_start ))
log "models written to $OUT in ${t_total} s"
[ "$CARDS" = 1 ] || exit 0

# ---------------------------------------------------------------- 6. cards
ver=$("$SV" --version 2>/dev/null | head -1 || echo stampvet)
simcmd() { echo "stampvet simulate --survey $2 --scheme $3 --stamps $4 --seed $5${6:+ --band $6} --threads $THREADS -o $1.fits"; }
# outputs as printed, with the scratch folders left out of the file names
fence() { echo '```'; sed -e "s|$WORK/||g" -e "s|$OUT/||g" -e "s|$here/||g" "$1"; echo '```'; }
figs() { # tag cmd...
    echo "Printed by \`$2\`:"
    echo
    fence "$WORK/$1.txt"
    r="report_${1#eval_}"
    [ -f "$OUT/$r/index.html" ] || return 0
    echo
    echo "Figures (\`stampvet report\`, doc/report.md; the whole page with the stamp gallery: [$r/index.html]($r/index.html) after \`make models\`):"
    echo
    echo "![ROC]($r/roc.png) ![score histograms]($r/score_histograms.png) ![reliability]($r/reliability.png) ![confusion matrix]($r/confusion.png)"
}
training_log() { fence "$WORK/train_$1.txt"; }
# the provenance keywords naming the base, as `stampvet inspect` prints them
parent_of() {
    "$SV" inspect "$1" | awk '$1 == "PARENT" || $1 == "PARENTCK" { printf "%s%s = %s", n++ ? ", " : "", $1, $2 }'
}
# the model's version card, as the writer filled it
version_section() {
    v=$("$SV" inspect "$OUT/$1.fits" | sed -n "s/^ *MODVERS = '\([^ ']*\) *'.*/\1/p")
    cat <<EOF

## Version (MODVERS)

\`$v\` (\`<name>_<first 8 hex digits of WTSUM>\`, what the writer derives when no
\`--version\` is given).
EOF
}
common_rebuild() {
    cat <<EOF
## Rebuild

\`make models\` (in a build tree) reruns \`models/build_models.sh\`, which rebuilds all
four shipped models and their cards with the commands above; every step is seeded,
and training is bit-identical for any thread count, so the same build gives the same
weights (only the DATE header keywords differ). Rebuilt on this machine (2 cores shared with other jobs) in ${t_total} s by
$ver; sizes: ZTF_TRAIN=$ZTF_TRAIN ZTF_TEST=$ZTF_TEST ILMT_RB_TRAIN=$ILMT_RB_TRAIN
ILMT_CLS3_TRAIN=$ILMT_CLS3_TRAIN ILMT_CLS4_TRAIN=$ILMT_CLS4_TRAIN ILMT_TEST=$ILMT_TEST
ZTF_EPOCHS=$ZTF_EPOCHS FT_EPOCHS=$FT_EPOCHS PATIENCE=$PATIENCE FT_PATIENCE=$FT_PATIENCE ARCH=$ARCH.

Checked by \`make check\`: \`tests/models_shipped.sh\` loads this file (\`stampvet
inspect\`), re-simulates 300 stamps with the held-out seed and requires an accuracy of
at least this card's held-out accuracy minus 0.08; \`tests/models_recipe.sh\` runs this
recipe in miniature (tiny sets, the \`mini\` network, a few epochs) and requires
valid models that beat chance.

Caveat: every figure here is measured on *simulated* stamps (doc/simulation.md)
drawn from the same simulator as the training data, with a different seed; they
say how well the model learnt the simulator, not how it performs on a survey's
real stream.
EOF
}

{
cat <<EOF
# rb-ztf — real/bogus, trained on simulated ZTF stamps only

**A simulation-trained model, not ZTF's production model.** The stage's default is
ZTF's own braai (\`braai-d6_m7.fits\`, its card \`braai-d6_m7.md\`); rb-ztf is what
stampvet's simulator alone can teach the same network, and the base that shows what
simulated pre-training is worth in the transfer-learning experiment. P(real) for a
63x63 science/reference/difference triplet at ZTF's 1.01"/pixel, channels SCI,REF,DIFF,
each stamp divided by its L2 norm (\`--norm l2\`, as braai d6_m9). Architecture
\`$ARCH\` (\`stage/model/arch.h\`; braai = ZTF's VGG6 real/bogus network, 312,081 parameters)
trained from scratch.

## Data

Simulated ZTF g- and r-band stamps (doc/simulation.md; band drawn per stamp, negative
detections shown positive as in ZTF's cutouts), classes balanced (bogus : real
= 1 : 1; reals 1 : 1 : 1 transient : variable : asteroid; bogus of the seven default
sub-types), S/N from the detection threshold 5 up, Euclidean counts:

    $(simcmd ztf_rb_train ztf rb "$ZTF_TRAIN" 1001 "$ZTF_BANDS")      # training (10 % stratified validation split)
    $(simcmd ztf_rb_test ztf rb "$ZTF_TEST" 1002 "$ZTF_BANDS")        # held-out test

## Recipe

    stampvet train --data ztf_rb_train.fits --out rb-ztf.fits --arch $ARCH --epochs $ZTF_EPOCHS --patience $PATIENCE --seed 1 --threads $THREADS

(Adam lr 1e-3, batch 64, class-weighted cross-entropy, flip/rot90 augmentation,
early stopping on validation loss, best epoch kept.) Training log (${t_rbztf} s):

$(training_log rb-ztf)

## Held-out figures (simulated ZTF, seed 1002)

$(figs eval_rb-ztf "stampvet evaluate --model rb-ztf.fits --data ztf_rb_test.fits")

EOF
if [ "$real_ok" = 1 ]; then
    cat <<EOF
## On real ZTF alerts, against ZTF's braai

The real ZTF alerts of the project's fixtures (\`../shared/fixtures/ztf-alerts\`, 5,
and \`ztf-alerts-dev\`, 149: the cutouts exactly as ZTF packed them, 63x63 at
1.01"/pixel, the model's own geometry) scored and compared with ZTF's production
score \`drb\` (braai d6_m7; label real = drb >= 0.5). drb is a machine score, not a
human label: the figures say how close a model that never saw a real stamp comes
to ZTF's production model. The dev alerts are a yardstick only: never trained on.

$(figs real_check "models/ztf_alerts_check.sh models/rb-ztf.fits")

EOF
fi
common_rebuild
version_section rb-ztf
} > "$OUT/rb-ztf.md"

ilmt_card() { # name title task-text train-tag test-tag n-train seed-train seed-test scheme extra-recipe
    name=$1; title=$2; task=$3; trt=$4; tet=$5; ntr=$6; str=$7; ste=$8; scheme=$9; extra=${10}
    tvar=t_$(echo "$name" | tr -c 'a-z0-9\n' '_')
    eval "tsec=\$$tvar"
    cat <<EOF
# $name — $title

$task

Works on ILMT stamps at their native 0.33"/pixel (the model's PIXSCALE = 0.33): 63x63
science/reference/difference triplets (21" on a side), channels SCI,REF,DIFF, with the
base's normalisation (\`stampvet inspect $name.fits\`).
Fine-tuned from \`$FT_NAME\` (1.01"/pixel): the network starts from the ZTF weights and
every layer is trained on ILMT stamps at the same learning rate (\`--freeze none
--body-lr-scale 1\`). $why_base
$why_freeze For a stage running on ILMT images, configure this model
without resampling (\`resample = false\`, ILMT images are already at its scale).
\`rb-ztf\` itself is applied to ILMT images by resampling each stamp through the
WCS to 1.01"/pixel (\`resample = true\`, \`pipeline_examples/ilmt.conf\`).

## Data

Simulated ILMT i'-band stamps (zenith drift scan, 0.33"/pixel; doc/simulation.md),
classes balanced:

    $(simcmd "$trt" ilmt "$scheme" "$ntr" "$str")      # training: $ntr labels (10 % stratified validation split)
    $(simcmd "$tet" ilmt "$scheme" "$ILMT_TEST" "$ste")      # held-out test

## Recipe

    stampvet finetune --from $FT_NAME.fits --data $trt.fits --out $name.fits --freeze none --body-lr-scale 1 --epochs $FT_EPOCHS --patience $FT_PATIENCE --seed 1 --threads $THREADS$extra

(Adam lr 1e-3, batch 64, class-weighted cross-entropy, flip/rot90 augmentation,
early stopping on validation loss, best epoch kept; parent model and data recorded
in the model's provenance: \`stampvet inspect $name.fits\` shows
$(parent_of "$OUT/$name.fits").) Training log (${tsec} s):

$(training_log "$name")

## Held-out figures (simulated ILMT, seed $ste)

$(figs "eval_$name" "stampvet evaluate --model $name.fits --data $tet.fits")

EOF
}

{
ilmt_card rb-ilmt "real/bogus, simulated ILMT (fine-tuned from $FT_NAME)" \
    "P(real) for ILMT detections, fine-tuned from \`$FT_NAME\` on a few hundred simulated ILMT labels (real/bogus, one sigmoid output)." \
    ilmt_rb_train ilmt_rb_test "$ILMT_RB_TRAIN" 2001 2002 rb ""
cat <<EOF
For comparison, \`$FT_NAME\` applied to the same native 0.33"/pixel ILMT stamps without
fine-tuning (and without resampling; not how the stage runs it):

$(figs eval_base-on-ilmt "stampvet evaluate --model $FT_NAME.fits --data ilmt_rb_test.fits")

The transfer-learning experiment (fine-tuned against trained from scratch over
several seeds and training-set sizes) is in models/README.md.

EOF
common_rebuild
version_section rb-ilmt
} > "$OUT/rb-ilmt.md"

{
ilmt_card cls3-ilmt "3-class (transient / variable / asteroid), simulated ILMT" \
    "Class probabilities P_TRANSIENT, P_VARIABLE, P_ASTEROID (softmax) for ILMT detections that are real: supernova-like new sources, variable stars and AGN, moving objects. Fine-tuned from \`$FT_NAME\` with its one-output head replaced by a new 3-way softmax head (the table's classes differ from the base model's)." \
    ilmt_3c_train ilmt_3c_test "$ILMT_CLS3_TRAIN" 2003 2004 3class ""
common_rebuild
version_section cls3-ilmt
} > "$OUT/cls3-ilmt.md"

{
ilmt_card cls4-ilmt "4-class (transient / variable / asteroid / bogus), simulated ILMT" \
    "Class probabilities P_TRANSIENT, P_VARIABLE, P_ASTEROID, P_BOGUS (softmax) for any ILMT detection. Fine-tuned from \`$FT_NAME\` with its one-output head replaced by a new 4-way softmax head." \
    ilmt_4c_train ilmt_4c_test "$ILMT_CLS4_TRAIN" 2005 2006 4class ""
common_rebuild
version_section cls4-ilmt
} > "$OUT/cls4-ilmt.md"

log "cards written: $OUT/rb-ztf.md rb-ilmt.md cls3-ilmt.md cls4-ilmt.md"
