#!/bin/sh
# fill_modvers.sh — fill the MODVERS card of the shipped models (issue 11),
# header only: what was run once to make the shipped files, kept so that
# anyone can redo it on the older files (git show <commit>:models/X.fits).
#
#   models/fill_modvers.sh [MODELS_DIR]     (from a build tree; default
#                                            MODELS_DIR: this script's folder)
#
#  - rb-ztf, then rb-ilmt, cls3-ilmt and cls4-ilmt (fine-tuned from rb-ztf,
#    so their PARENTCK follows rb-ztf's new CHECKSUM): models/fill_modvers
#    sets MODVERS = <MODNAME>_<first 8 hex digits of WTSUM>, what the writer
#    now derives, adds one HISTORY line and recomputes the primary CHECKSUM;
#    every other HDU is unchanged byte for byte (the weights, WTSUM, the
#    LAYERS table), so the cards' figures stand;
#  - braai-d6_m7 is not patched: its file is exactly what the import command
#    of models/braai-d6_m7.md makes (tests/braai_drb.sh compares), and the
#    import now writes MODVERS = 'd6_m7' (the model name, braai's drbversion).
# A file whose MODVERS is already set keeps it (its PARENTCK is still
# refreshed), so running the script twice changes nothing the second time.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-$here}
TOOL=${FILL_MODVERS:-./models/fill_modvers}
[ -x "$TOOL" ] || { echo "fill_modvers.sh: no $TOOL (run from a build tree, or set FILL_MODVERS)" >&2; exit 1; }
fill() { # model [parent]
    "$TOOL" "$DIR/$1.fits" "$DIR/$1.fits.new" ${2:+"$DIR/$2.fits"}
    mv "$DIR/$1.fits.new" "$DIR/$1.fits"
}
fill rb-ztf
for m in rb-ilmt cls3-ilmt cls4-ilmt; do fill "$m" rb-ztf; done
