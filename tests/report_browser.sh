#!/bin/sh
# report_browser.sh — `stampvet report` pages opened in a real browser.
#
# Makes the four kinds of page from real stampvet output: an evaluation
# (the shipped rb-ztf on 200 freshly simulated ZTF stamps, through
# `evaluate --scores-out`), a compare page (the shipped
# models/experiment.csv) and a stage-output page (`stampvet run` on a
# simulated exposure with save_stamps = extension) and a light-curve page
# (a small GRU trained here on simulated ZTF light curves, on 150 others).
# Each page must:
#   - be self-contained: no <script>, nothing fetched over the network
#     (no src/href to http:, https: or //), every figure a data: URI, and
#     the PNG/PDF files it links present beside it;
#   - load in headless Chromium (Debian `chromium`) with every image
#     decoded: the three pages' bodies in one document (one browser start)
#     with a small inline check (written by this test, not part of the
#     product) that reports images.length and the number with naturalWidth
#     0 into the DOM (--dump-dom), and no console error or failed load in
#     Chromium's log;
#   - the light-curve page draws a probability-against-time figure per
#     candidate and the confusion matrix;
#   - a report that fails leaves no folder (nor a hidden temporary one), and
#     a report over an existing folder replaces its files;
#   - the evaluation page gives a screenshot that is not blank (pixel
#     standard deviation, via ImageMagick's identify, above 0.03 of full
#     scale); SV_KEEP_SCREENSHOT=FILE keeps it.
# Skips (exit 77, saying why) without chromium, a cairo build or the
# shipped model.  Each browser call has a 60 s timeout.
set -u
B="${SV_BUILDDIR:-.}/stampvet"
S="${SV_SRCDIR:-.}"
[ -x "$B" ] || { echo "SKIP: no stampvet binary at $B"; exit 77; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium not installed (apt-get install -y chromium)"; exit 77; }
command -v identify > /dev/null || { echo "SKIP: ImageMagick's identify not installed (apt-get install -y imagemagick)"; exit 77; }
[ -f "$S/models/rb-ztf.fits" ] || { echo "SKIP: shipped model models/rb-ztf.fits absent"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-report-browser-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
if ! "$B" report --eval /nonexistent.csv -o "$tmp/x" 2> "$tmp/probe.txt"; then
    if grep -q "without cairo" "$tmp/probe.txt"; then
        echo "SKIP: stampvet built without cairo (configure --with-cairo)"; exit 77
    fi
fi
fail=0
die() { echo "FAIL: $*"; fail=1; }
run() { "$@" > "$tmp/log.txt" 2>&1 || { cat "$tmp/log.txt"; echo "FAIL: $*"; exit 1; }; }

# ---- the three pages
run "$B" simulate --survey ztf --scheme rb --stamps 200 --seed 1002 --threads 2 -o "$tmp/ztf.fits"
run "$B" evaluate --model "$S/models/rb-ztf.fits" --data "$tmp/ztf.fits" --threads 2 \
    --scores-out "$tmp/scores.fits"
run "$B" report --eval "$tmp/scores.fits" --gallery 4 -o "$tmp/eval"
run "$B" report --compare "$S/models/experiment.csv" -o "$tmp/compare"
run "$B" simulate --exposure --survey ztf --size 512 --detections 60 --seed 11 -q -o "$tmp/exp"
run "$B" run --config "$S/pipeline_examples/ztf.conf" --sci "$tmp/exp_sci.fits" \
    --ref "$tmp/exp_ref.fits" --diff "$tmp/exp_diff.fits" --detections "$tmp/exp_det.fits" \
    -o "$tmp/exp_scored.fits"
run "$B" report --catalog "$tmp/exp_scored.fits" --gallery 4 -o "$tmp/catalog"
run "$B" simulate --lightcurves 400 --survey ztf --seed 5 --threads 2 -q -o "$tmp/lc_train.fits"
run "$B" simulate --lightcurves 150 --survey ztf --seed 8 --threads 2 -q -o "$tmp/lc_test.fits"
run "$B" train --data "$tmp/lc_train.fits" --out "$tmp/lc_gru.fits" --lc-prep irregular,steps=24 \
    --units 8 --dense-units 8 --meta-units 4 --epochs 2 --seed 3 --threads 2
run "$B" report --model "$tmp/lc_gru.fits" --data "$tmp/lc_test.fits" -o "$tmp/lc"
grep -q 'lc_[0-9]*\.png' "$tmp/lc/index.html" || die "lc: no probability-against-time figure"
grep -qi 'confusion' "$tmp/lc/index.html" || die "lc: no confusion matrix"

# ---- whole or nothing: a failed report leaves no folder, a new one replaces files
printf 'not,a,summary\n1,2,3\n' > "$tmp/bad.csv"
"$B" report --compare "$S/models/experiment.csv" --compare "$tmp/bad.csv" -o "$tmp/failed" \
    > "$tmp/log.txt" 2>&1 && die "report accepted a file that is not a compare summary"
grep -q "bad.csv" "$tmp/log.txt" || die "the error does not name the bad file: $(cat "$tmp/log.txt")"
[ ! -e "$tmp/failed" ] || die "a failed report left its folder"
if ls -A "$tmp" | grep -q '^\.svtmp-'; then die "a failed report left a temporary folder"; fi
touch -d '2000-01-01' "$tmp/compare/index.html"
run "$B" report --compare "$S/models/experiment.csv" -o "$tmp/compare"
[ "$tmp/compare/index.html" -nt "$tmp/bad.csv" ] || die "a report over its old folder kept the old page"

# the inline check appended to a copy of each page
check_js='<script>window.addEventListener("load",function(){var im=document.images,bad=0;for(var i=0;i<im.length;i++)if(!im[i].complete||im[i].naturalWidth<1)bad++;var d=document.createElement("pre");d.id="imgcheck";d.textContent="IMAGES_LOADED "+im.length+" BROKEN "+bad;document.body.appendChild(d);});</script>'

# every page self-contained, its figures embedded, its links present
total=0
for name in eval compare catalog lc; do
    h="$tmp/$name/index.html"
    [ -s "$h" ] || { die "$name: no index.html"; continue; }
    n=$(grep -o 'src="data:image/png;base64,' "$h" | wc -l)
    total=$((total + n))
    case $name in eval) min=9 ;; compare) min=1 ;; catalog) min=5 ;; lc) min=3 ;; esac
    echo "$name: $n embedded figures"
    [ "$n" -ge "$min" ] || die "$name: $n embedded figures, expected at least $min"
    if grep -qi '<script' "$h"; then die "$name: the page holds a script"; fi
    if grep -Eqi '(src|href)="(https?:)?//' "$h"; then die "$name: the page refers to the network"; fi
    for f in $(grep -o 'href="[^"]*"' "$h" | sed 's/href="//; s/"$//'); do
        [ -s "$tmp/$name/$f" ] || die "$name: linked file $f missing"
    done
done

# One browser load for the images of all four pages (a browser start
# costs seconds): their bodies in one document, with the check.
{
    sed -n '1,/<body>/p' "$tmp/eval/index.html"
    for name in eval compare catalog lc; do
        sed -n '/<body>/,/<\/body>/p' "$tmp/$name/index.html" | grep -v '</\?body>'
    done
    echo "$check_js</body></html>"
} > "$tmp/check.html"
chrome() { timeout 60 "$CHROMIUM" --headless --disable-gpu --no-sandbox --no-first-run \
    --disable-extensions --user-data-dir="$tmp/profile" "$@"; }
if chrome --virtual-time-budget=10000 --enable-logging=stderr --v=0 \
        --dump-dom "file://$tmp/check.html" > "$tmp/dom.txt" 2> "$tmp/chromium.log"; then
    got=$(grep -o 'IMAGES_LOADED [0-9]* BROKEN [0-9]*' "$tmp/dom.txt" | tail -1)
    echo "browser: ${got:-no answer from the check}"
    [ "$got" = "IMAGES_LOADED $total BROKEN 0" ] || die "images did not all load (expected $total)"
    if grep -E 'CONSOLE|Uncaught|Failed to load|net::ERR' "$tmp/chromium.log"; then
        die "the browser reported errors"
    fi
else
    die "chromium --dump-dom failed or timed out"; tail -5 "$tmp/chromium.log"
fi
# the evaluation page as a user sees it
if chrome --hide-scrollbars --window-size=1200,1600 --screenshot="$tmp/shot.png" \
        "file://$tmp/eval/index.html" > /dev/null 2>&1; then
    sd=$(identify -format '%[fx:standard_deviation]' "$tmp/shot.png" 2>/dev/null)
    echo "screenshot $(identify -format '%wx%h' "$tmp/shot.png"), pixel std $sd"
    awk -v s="${sd:-0}" 'BEGIN { exit !(s + 0 > 0.03) }' || die "the screenshot is blank (std $sd)"
else
    die "chromium --screenshot failed or timed out"
fi
[ -z "${SV_KEEP_SCREENSHOT:-}" ] || cp "$tmp/shot.png" "$SV_KEEP_SCREENSHOT"
exit $fail
