# example_env.sh — sourced by the survey examples (ztf.sh, ilmt.sh), not run
# by itself: the stampvet command, a scratch folder, run(), the real/bogus
# model to score with, and the check of the scored table.
#
#   example=ztf; . "$(dirname "$0")/example_env.sh"
#
# Sets sv (the stampvet command, from SV_BUILDDIR), src (the source tree,
# SV_SRCDIR), tmp (removed on exit) and py (SV_PYTHON).
sv="${SV_BUILDDIR:-.}/stampvet"
src="${SV_SRCDIR:-.}"
py="${SV_PYTHON:-}"
tmp=$(mktemp -d "/tmp/sv_${example}_example.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
run() { "$@" || { echo "FAILED: $*"; exit 1; }; }

# The configurations leave rb_model empty: the stage's default, ZTF's braai
# d6_m7 (braai-d6_m7.fits), from the installed $(pkgdatadir)/models or from
# STAMPVET_MODELS; run from a source tree, the examples use its models/.
# Sets model to "" when the default is there, else to "rb_model=PATH" of a
# small real/bogus model trained here on simulated ZTF stamps.
STAMPVET_MODELS=${STAMPVET_MODELS:-$src/models}
export STAMPVET_MODELS
fallback_model() {
    model=""
    [ -f "$STAMPVET_MODELS/braai-d6_m7.fits" ] && return 0
    run "$sv" simulate --stamps 300 --scheme rb --survey ztf --seed 4 -q -o "$tmp/train.fits"
    run "$sv" train --data "$tmp/train.fits" --arch mini --epochs 2 --quiet \
        --out "$tmp/rb-small.fits" >/dev/null
    model="rb_model=$tmp/rb-small.fits"
}

# 0 when $py is a python with astropy (the scored table is then checked
# with tests/python/stage_check.py), else 1 (stampvet inspect summarises).
have_astropy() {
    [ -n "$py" ] && "$py" -c 'import astropy' 2>/dev/null
}
