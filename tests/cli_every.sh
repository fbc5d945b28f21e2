#!/bin/sh
# cli_every.sh — one command line, command by command (issue 11): for every
# subcommand `stampvet --help` lists, and for the light-curve forms and
# `score --alerts`:
#   -h exits 0 and prints "usage: stampvet CMD" with the common options and
#      the exit statuses;
#   an unknown option exits 2 with "stampvet CMD: unknown option" once, on
#      stderr, and nothing doubled ("stampvet CMD: stampvet");
#   a missing input file exits 1 with one "stampvet CMD: FILE: ..." line
#      naming the file (simulate, which reads nothing: an output folder that
#      does not exist).
set -u
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d /tmp/sv_cli_every.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
commands=$("$sv" --help | sed -n '/^commands:/,$s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
[ "$(echo "$commands" | wc -w)" -ge 15 ] || fail "too few commands: $commands"
nope="$tmp/nope.fits"
# the missing-input case of each command: "CMD ARGS..." with FILE the file
# the message must name
missing() {
    case $1 in
    inspect) echo "inspect $nope" ;;
    demo) echo "demo --model $nope" ;;
    run) echo "run --sci $nope --ref $nope --diff $nope --detections $nope -o $tmp/o.fits" ;;
    import-keras) echo "import-keras $tmp/nope.h5 --task realbogus -o $tmp/m.fits" ;;
    import-onnx) echo "import-onnx $tmp/nope.onnx --task realbogus -o $tmp/m.fits" ;;
    score) echo "score --model $nope --sci $nope --ref $nope --diff $nope" ;;
    batch) echo "batch $tmp/nope.txt" ;;
    train) echo "train --data $nope -o $tmp/m.fits" ;;
    finetune) echo "finetune --from $nope --data $nope -o $tmp/m.fits" ;;
    evaluate) echo "evaluate $nope $nope" ;;
    compare) echo "compare --base $nope --train $nope --test $nope" ;;
    simulate) echo "simulate --stamps 4 -o $tmp/nodir/s.fits" ;;
    report) echo "report --catalog $nope -o $tmp/rep" ;;
    bench) echo "bench --model $nope" ;;
    clean) echo "clean $tmp/nodir" ;;
    *) echo "" ;;
    esac
}
named() { # the file the missing-input message must name
    case $1 in
    import-keras) echo "$tmp/nope.h5" ;;
    import-onnx) echo "$tmp/nope.onnx" ;;
    batch) echo "$tmp/nope.txt" ;;
    simulate) echo "$tmp/nodir/s.fits" ;;
    clean) echo "$tmp/nodir" ;;
    *) echo "$nope" ;;
    esac
}
check_help() { # NAME ARGS...: -h output
    name=$1; shift
    "$sv" "$@" >"$tmp/help" 2>"$tmp/err"
    st=$?
    [ $st -eq 0 ] || fail "$* : status $st"
    [ ! -s "$tmp/err" ] || fail "$* : stderr: $(cat "$tmp/err")"
    grep -q "^usage: stampvet $name" "$tmp/help" || fail "$* : no usage line"
    for o in "-o, --output" "-q, --quiet" "-v, --verbose" "-h, --help" "exit status:" \
        "  2  a usage error"; do
        grep -q -- "$o" "$tmp/help" || fail "$* : help lacks '$o'"
    done
}
check_unknown() { # NAME ARGS...: a usage error
    name=$1; shift
    "$sv" "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ $st -eq 2 ] || fail "$* : status $st (wanted 2)"
    [ "$(grep -c "stampvet $name:" "$tmp/err")" -eq 1 ] || fail "$* : stderr: $(cat "$tmp/err")"
    grep -q "^stampvet $name: unknown option --no-such-option (see stampvet $name --help)$" \
        "$tmp/err" || fail "$* : stderr: $(cat "$tmp/err")"
    [ ! -s "$tmp/out" ] || fail "$* : wrote on stdout"
}
check_missing() { # NAME FILE ARGS...: a data failure naming FILE
    name=$1 file=$2; shift 2
    "$sv" "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ $st -eq 1 ] || fail "$* : status $st (wanted 1): $(cat "$tmp/err")"
    grep -q "^stampvet $name: .*$file" "$tmp/err" || fail "$* : no message naming $file: $(cat "$tmp/err")"
    ! grep -q "stampvet $name: stampvet\|stampvet: stampvet\|^stampvet $name: stampvet:" "$tmp/err" ||
        fail "$* : doubled prefix: $(cat "$tmp/err")"
    ! grep -q "stampvet $name: $file: .*$file: " "$tmp/err" ||
        fail "$* : the file named twice: $(cat "$tmp/err")"
}
for c in $commands; do
    check_help "$c" "$c" -h
    check_unknown "$c" "$c" --no-such-option
    args=$(missing "$c")
    [ -n "$args" ] || fail "no missing-input case for $c (add one to tests/cli_every.sh)"
    check_missing "$c" "$(named "$c")" $args
done
# the light-curve forms and the alert form: their own tables
for c in train finetune compare evaluate; do
    check_help "$c" "$c" --lightcurves -h
    check_unknown "$c" "$c" --lightcurves --no-such-option
done
check_help simulate simulate --lightcurves 1 -h
check_unknown simulate simulate --lightcurves 1 --no-such-option
check_help score score --alerts - -h
check_unknown score score --alerts - --no-such-option
check_missing train "$nope" train --lightcurves --data "$nope" -o "$tmp/m.fits"
check_missing finetune "$nope" finetune --lightcurves --from "$nope" --data "$nope" -o "$tmp/m.fits"
check_missing compare "$nope" compare --lightcurves --base "$nope" --train "$nope" --test "$nope"
check_missing evaluate "$nope" evaluate --lightcurves "$nope" "$nope"
check_missing simulate "$tmp/nodir/l.fits" simulate --lightcurves 3 -o "$tmp/nodir/l.fits"
# -o is --out for the training commands and report: both the same is fine,
# two different files a usage error
"$sv" train --data "$nope" --out "$tmp/a.fits" -o "$tmp/b.fits" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "^stampvet train: -o .* and --out .*: give one of them" "$tmp/err" ||
    fail "train -o and --out: $(cat "$tmp/err")"
# -q: the training commands' former --quiet; score keeps its scores on stdout
"$sv" simulate --stamps 40 --stamp-size 16 -q -o "$tmp/s.fits" >/dev/null 2>"$tmp/err" || fail "simulate"
[ ! -s "$tmp/err" ] || fail "simulate -q wrote on stderr: $(cat "$tmp/err")"
"$sv" train --data "$tmp/s.fits" --arch mini --epochs 2 -q -o "$tmp/m.fits" >"$tmp/out" 2>&1 ||
    fail "train -q: $(cat "$tmp/out")"
! grep -q "^epoch" "$tmp/out" || fail "train -q printed epoch lines"
grep -q "^wrote  : $tmp/m.fits" "$tmp/out" || fail "train -o: $(cat "$tmp/out")"
"$sv" train --data "$tmp/s.fits" --arch mini --epochs 2 --quiet --out "$tmp/m2.fits" >"$tmp/out" 2>&1 ||
    fail "train --quiet --out: $(cat "$tmp/out")"
# the same model either way (the files differ in their dates and names: compare
# what evaluate reports of them)
"$sv" evaluate "$tmp/m.fits" "$tmp/s.fits" -o "$tmp/e1.csv" -q &&
    "$sv" evaluate "$tmp/m2.fits" "$tmp/s.fits" --out "$tmp/e2.csv" --threads 1 -q || fail "evaluate -q -o"
[ -s "$tmp/e1.csv" ] || fail "evaluate -o wrote no report"
grep -v '^#' "$tmp/e1.csv" >"$tmp/e1" && grep -v '^#' "$tmp/e2.csv" >"$tmp/e2"
cmp -s "$tmp/e1" "$tmp/e2" || fail "-o/-q and --out/--quiet gave different models"
echo ok
