#!/bin/sh
# report_shipped.sh — the report pages (doc/report.md) of the shipped models
# on their held-out sets and of the shipped experiment tables, into
# models/report_<name>/ and models/report_experiment/, without
# retraining anything: the held-out sets are re-simulated with the seeds and
# sizes models/build_models.sh uses (the same stamps, so the same figures as
# the cards), and the compare pages read the committed experiment CSVs.
# (`make models` / `make experiment` write the same folders as they go.)
#
#   doc/report_shipped.sh            (STAMPVET=path/to/stampvet; THREADS=2)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
SV=${STAMPVET:-$here/build/stampvet}
THREADS=${THREADS:-2}
M="$here/models"
work=$(mktemp -d "${TMPDIR:-/tmp}/sv-report-shipped-XXXXXX")
trap 'rm -rf "$work"' EXIT
# name survey scheme stamps seed (build_models.sh, steps 1 and 4)
one() {
    "$SV" simulate --survey "$2" --scheme "$3" --stamps "$4" --seed "$5" --threads "$THREADS" \
        -o "$work/$1_test.fits" > /dev/null 2>&1
    "$SV" evaluate --model "$M/$1.fits" --data "$work/$1_test.fits" --threads "$THREADS" \
        --scores-out "$work/scores_$1.fits" | sed -n '/^accuracy/p;/^ROC AUC/p'
    "$SV" report --eval "$work/scores_$1.fits" --data "$work/$1_test.fits" --gallery 4 \
        --title "$1 on its held-out set: $4 simulated $2 $3 stamps, seed $5" -o "$M/report_$1"
}
one rb-ztf    ztf  rb     2000 1002
# braai (real ZTF weights) on the same simulated ZTF held-out set: how far the
# simulation is from real stamps, as the card says
one braai-d6_m7 ztf rb    2000 1002
one rb-ilmt   ilmt rb     1000 2002
one cls3-ilmt ilmt 3class 1000 2004
one cls4-ilmt ilmt 4class 1000 2006
"$SV" report --compare "$M/experiment.csv" --title "The transfer-learning experiment" -o "$M/report_experiment"
