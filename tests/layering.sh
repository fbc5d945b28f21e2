#!/bin/sh
# layering.sh — the one-way rule of stage/ (issue 12), checked on the
# sources and, when the build tree is there, on the built folder libraries.
#
# Levels (stage/<folder>; nn/ops is part of nn, model/import/onnx of
# model/import):
#   0 core include   1 fits nn   2 nn/fast   3 model   4 data model/import
#   5 infer   6 pipeline train sim   7 batch   8 cli
# A file includes only from its own folder and lower levels, always as
# "folder/name.h"; folders on the same level never include each other.
# plugin_api/ (dia_stage.h, dia_host.h), the public stampvet.h and config.h
# may be included anywhere.  Besides:
#   batch reaches stages only through dia_host.h (no pipeline/, train/, sim/);
#   HDF5 and jansson only in model/import, BLAS only in nn/, Avro only in
#   data/alert_packet.c, cairo only in train/, MPI only in batch/ and cli/.
# Link check: every folder builds its own library
# (stage/<folder>/libsv_<name>.la); a symbol a library needs must come from
# its own folder or a lower level, never from a higher or same-level one.
#
# Usage: tests/layering.sh [srcdir [builddir]] (default: $SV_SRCDIR,
# $SV_BUILDDIR).  Prints every violation; exit 1 if there is any.
set -eu
src=${1:-${SV_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}}
build=${2:-${SV_BUILDDIR:-}}
[ -z "$build" ] || build=$(cd "$build" && pwd)
cd "$src/stage"

levels='core 0
include 0
fits 1
nn 1
nn/fast 2
model 3
data 4
model/import 4
infer 5
pipeline 6
train 6
sim 6
batch 7
cli 8'

# folder of a path under stage/: the longest folder of the table it is in
# (printed with its level)
folder_awk='
function folder(p,   best, f) {
    best = ""
    for (f in lv)
        if ((p == f || index(p, f "/") == 1) && length(f) > length(best))
            best = f
    return best
}'

bad=$(
    find . -name '*.[ch]' | sed 's|^\./||' | sort | while read -r f; do
        grep -n '^[[:space:]]*#[[:space:]]*include' "$f" | sed "s|^|$f:|"
    done | awk -v levels="$levels" "$folder_awk"'
    BEGIN {
        n = split(levels, L, "\n")
        for (i = 1; i <= n; i++) { split(L[i], w, " "); lv[w[1]] = w[2] }
    }
    {
        file = $0; sub(/:.*/, "", file)
        line = $0; sub(/^[^:]*:[0-9]*:/, "", line)
        lno = $0; sub(/^[^:]*:/, "", lno); sub(/:.*/, "", lno)
        where = file ":" lno
        own = folder(file)
        if (own == "") { print where ": file outside the level table"; next }
        if (match(line, /<[^>]*>/)) {
            sys = substr(line, RSTART + 1, RLENGTH - 2)
            if ((sys ~ /^(hdf5|H5)/ || sys == "jansson.h") && own != "model/import")
                print where ": <" sys "> outside model/import"
            if (sys == "cblas.h" && own !~ /^nn/)
                print where ": <cblas.h> (BLAS) outside nn/"
            if (sys == "avro.h" && file != "data/alert_packet.c")
                print where ": <avro.h> outside data/alert_packet.c"
            if (sys ~ /^cairo/ && own != "train")
                print where ": <" sys "> (cairo) outside train/"
            if (sys == "mpi.h" && own != "batch" && own != "cli")
                print where ": <mpi.h> outside batch/ and cli/"
            next
        }
        if (!match(line, /"[^"]*"/)) next
        inc = substr(line, RSTART + 1, RLENGTH - 2)
        if (inc ~ /^(config|dia_stage|dia_host|stampvet)\.h$/) next
        if (inc !~ /\//) {
            if (inc == "onnx.pb-c.h" && own == "model/import") next
            print where ": \"" inc "\" does not name its folder"
            next
        }
        to = folder(inc)
        if (to == "") { print where ": \"" inc "\" is outside the level table"; next }
        top_own = own; sub(/\/.*/, "", top_own)
        top_to = to; sub(/\/.*/, "", top_to)
        if (own == "batch" && (to == "pipeline" || to == "train" || to == "sim"))
            print where ": batch includes \"" inc "\" (stages only through dia_host.h)"
        else if (lv[to] > lv[own])
            print where ": " own " (level " lv[own] ") includes \"" inc "\" (level " lv[to] ")"
        else if (lv[to] == lv[own] && to != own && !(own ~ "^" to "/" || to ~ "^" own "/"))
            print where ": " own " includes \"" inc "\" on its own level"
    }'
)

# the link check: undefined symbols of each folder library against the
# symbols the others define
if [ -n "$build" ] && ls "$build"/stage/*/.libs/libsv_*.a >/dev/null 2>&1; then
    linkbad=$(
        for a in $(find "$build/stage" -path '*/.libs/libsv_*.a' | sort); do
            d=${a%/.libs/*}
            f=${d#"$build"/stage/}
            nm -g --defined-only "$a" 2>/dev/null | awk -v f="$f" 'NF == 3 { print "D", f, $3 }'
            nm -g --undefined-only "$a" 2>/dev/null | awk -v f="$f" '{ print "U", f, $NF }'
        done | awk -v levels="$levels" "$folder_awk"'
        BEGIN {
            n = split(levels, L, "\n")
            for (i = 1; i <= n; i++) { split(L[i], w, " "); lv[w[1]] = w[2] }
        }
        $1 == "D" { def[$3] = $2; next }
        { need[++nn] = $2 " " $3 }
        END {
            for (i = 1; i <= nn; i++) {
                split(need[i], w, " ")
                own = folder(w[1]); sym = w[2]
                if (!(sym in def)) continue
                to = folder(def[sym])
                if (to == own) continue
                if (lv[to] > lv[own] || (lv[to] == lv[own] && own !~ "^" to "/" && to !~ "^" own "/"))
                    print "link: " w[1] " uses " sym " from " def[sym] " (level " lv[to] ")"
            }
        }' | sort -u
    )
    bad=$(printf '%s\n%s' "$bad" "$linkbad" | sed '/^$/d')
    checked="includes and folder libraries"
else
    checked="includes (no folder libraries built: link check skipped)"
fi

if [ -n "$bad" ]; then
    echo "layering: violations of the one-way rule (tests/layering.sh explains it):"
    echo "$bad"
    exit 1
fi
echo "layering: $checked follow the one-way rule"
