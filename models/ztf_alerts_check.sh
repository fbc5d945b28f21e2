#!/bin/sh
# ztf_alerts_check.sh — a real/bogus model against ZTF's production braai
# score (drb, drbversion d6_m7) on folders of real ZTF alerts.
#
#   models/ztf_alerts_check.sh MODEL.fits [ALERTS_DIR ...]
#
# ALERTS_DIR (default: ../shared/fixtures/ztf-alerts and ztf-alerts-dev next
# to the source tree) holds <candid>_{sci,ref,diff}.fits.gz and alerts.csv
# with candid, drb and known_mismatch (../shared/fixtures/README.md).  For
# each folder it scores every alert with `stampvet score` and prints
#   alerts, how many braai calls real (drb >= 0.5) and bogus;
#   max and median |score - drb| over the alerts not marked known_mismatch
#     (exactness: ~1e-7 for the shipped braai-d6_m7.fits);
#   ROC AUC of the score against braai's label drb >= 0.5 (ties count
#     half), and the agreement of the labels at 0.5, over all alerts.
# drb is ZTF's machine score, not a human label: these figures say how
# close a model comes to ZTF's production model on real stamps.
#   STAMPVET   the stampvet binary (default: ./stampvet, else PATH)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: ztf_alerts_check.sh MODEL.fits [ALERTS_DIR ...]" >&2; exit 2; }
model=$1; shift
[ $# -ge 1 ] || set -- "$here/../../shared/fixtures/ztf-alerts" "$here/../../shared/fixtures/ztf-alerts-dev"
if [ -z "${STAMPVET:-}" ]; then
    if [ -x ./stampvet ]; then STAMPVET=$(pwd)/stampvet
    else STAMPVET=$(command -v stampvet || true); fi
fi
[ -n "$STAMPVET" ] && [ -x "$STAMPVET" ] || { echo "ztf_alerts_check.sh: no stampvet (set STAMPVET=...)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-alerts-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

for dir in "$@"; do
    dir=$(cd "$dir" && pwd)
    [ -f "$dir/alerts.csv" ] || { echo "ztf_alerts_check.sh: $dir/alerts.csv not found" >&2; exit 1; }
    awk -F, -v d="$dir" 'NR > 1 && $1 != "" { printf "%s %s/%s_sci.fits.gz %s/%s_ref.fits.gz %s/%s_diff.fits.gz\n", $1, d, $1, d, $1, d, $1 }' \
        "$dir/alerts.csv" > "$tmp/list"
    "$STAMPVET" score --model "$model" --list "$tmp/list" > "$tmp/scores"
    # score, drb, known_mismatch per alert (quote-aware CSV: drb_source has commas)
    awk '
    function csvsplit(line, f,    n, i, c, q, cur) {
        n = 0; q = 0; cur = ""
        for (i = 1; i <= length(line); i++) {
            c = substr(line, i, 1)
            if (c == "\"") { q = !q; continue }
            if (c == "," && !q) { f[++n] = cur; cur = ""; continue }
            cur = cur c
        }
        f[++n] = cur
        return n
    }
    { sub(/\r$/, "") }
    FILENAME == ARGV[1] { s[$1] = $2; next }
    FNR == 1 { n = csvsplit($0, h); for (i = 1; i <= n; i++) col[h[i]] = i; next }
    { csvsplit($0, f); id = f[col["candid"]]
      if (!(id in s)) { print "no score for " id > "/dev/stderr"; exit 1 }
      print s[id], f[col["drb"]], f[col["known_mismatch"]] + 0 }' \
        "$tmp/scores" "$dir/alerts.csv" | sort -g > "$tmp/joined"
    awk -v name="$(basename "$dir")" -v model="$(basename "$model")" '
    function abs(x) { return x < 0 ? -x : x }
    { sc[NR] = $1; lab[NR] = ($2 >= 0.5); np += lab[NR]
      agree += ((sc[NR] >= 0.5) == lab[NR])
      if (!$3) { d[++nd] = abs($1 - $2) } }
    END {
        n = NR; nn = n - np
        # rank sum of the drb-real alerts (input sorted by score; ties share the mean rank)
        for (i = 1; i <= n; i = j) {
            for (j = i; j <= n && sc[j] == sc[i]; j++) ;
            r = (i + j - 1) / 2
            for (k = i; k < j; k++) if (lab[k]) rs += r
        }
        auc = (np && nn) ? (rs - np * (np + 1) / 2) / (np * nn) : -1
        # sort the differences (insertion sort; a few hundred values)
        for (i = 2; i <= nd; i++) { v = d[i]; for (k = i - 1; k >= 1 && d[k] > v; k--) d[k + 1] = d[k]; d[k + 1] = v }
        med = nd ? (nd % 2 ? d[(nd + 1) / 2] : (d[nd / 2] + d[nd / 2 + 1]) / 2) : -1
        printf "%s on %s: %d alerts (braai: %d real, %d bogus)\n", model, name, n, np, nn
        printf "  |score - drb| over %d alerts not known_mismatch: max %.3g, median %.3g\n", nd, d[nd], med
        if (auc >= 0) printf "  ROC AUC vs drb >= 0.5: %.4f\n", auc
        printf "  agreement at 0.5: %d of %d = %.4f\n", agree, n, agree / n
    }' "$tmp/joined"
done
