#!/bin/sh
# One command line: every command prints its help with --help (exit 0) and
# its usage errors with exit 2; every command, on the shared option table
# (stage/cli/cli_opts.h), takes -o/-q/-v/-h, say the exit statuses in --help,
# refuse usage errors in one style ("stampvet CMD: problem (see stampvet CMD
# --help)", no doubled prefix) and print numeric ranges in full; a man page per command and the bash completion are
# generated from the --help texts and name every command and option.
set -u
sv="$SV_BUILDDIR/stampvet"
tmp=$(mktemp -d /tmp/sv_cli_common.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
commands=$("$sv" --help | sed -n '/^commands:/,$s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
[ "$(echo "$commands" | wc -w)" -ge 10 ] || { echo "too few commands: $commands"; exit 1; }
for c in $commands; do
    "$sv" "$c" --help >"$tmp/help" 2>&1 || { echo "$c --help: status $?"; exit 1; }
    grep -q "^usage: stampvet $c" "$tmp/help" || { echo "$c --help: no usage line"; exit 1; }
    "$sv" "$c" --no-such-option >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ $st -eq 2 ] || { echo "$c --no-such-option: status $st (wanted 2)"; exit 1; }
done
table_commands=$commands # every command is on the table now (issue 11)
for c in $table_commands; do
    "$sv" "$c" -h >"$tmp/help" || { echo "$c -h failed"; exit 1; }
    for o in "-o, --output" "-q, --quiet" "-v, --verbose" "-h, --help" "exit status:"; do
        grep -q -- "$o" "$tmp/help" || { echo "$c --help lacks '$o'"; exit 1; }
    done
    "$sv" "$c" --no-such-option >/dev/null 2>"$tmp/err"
    grep -q "^stampvet $c: unknown option --no-such-option (see stampvet $c --help)$" "$tmp/err" ||
        { echo "$c: unexpected usage message:"; cat "$tmp/err"; exit 1; }
    "$sv" "$c" -q -v >/dev/null 2>"$tmp/err"
    [ $? -eq 2 ] && grep -q "^stampvet $c: --quiet and --verbose together" "$tmp/err" ||
        { echo "$c -q -v accepted"; cat "$tmp/err"; exit 1; }
    "$sv" "$c" -o >/dev/null 2>"$tmp/err"
    [ $? -eq 2 ] && grep -q "^stampvet $c: option -o needs an argument" "$tmp/err" ||
        { echo "$c -o without FILE:"; cat "$tmp/err"; exit 1; }
done
# numeric arguments: out-of-range values are usage errors naming the range,
# bounds printed in full (not 4.29497e+09)
for args in "demo --size 1x" "batch --threads 0 m" "bench --runs 0" "clean --older-than -3 ."; do
    "$sv" $args >/dev/null 2>"$tmp/err"
    st=$?
    c=${args%% *}
    [ $st -eq 2 ] && grep -q "^stampvet $c: --[a-z-]*: '[^']*' is not an* [a-z]* in \[[0-9.]*, [0-9.]*\] (see stampvet $c --help)$" "$tmp/err" ||
        { echo "$args: status $st, message:"; cat "$tmp/err"; exit 1; }
done
"$sv" run --dump-config >"$tmp/dump" || { echo "run --dump-config failed"; exit 1; }
grep -q '^# .*mask bits.*(int: \[0, 4294967295\])$' "$tmp/dump" ||
    { echo "run --dump-config: mask_bits range not in full"; grep mask_bits "$tmp/dump"; exit 1; }
! grep -q '[0-9]e+[0-9]' "$tmp/dump" || { echo "run --dump-config: exponent in a range"; exit 1; }
"$sv" run --set mask_bits=5000000000 --dump-config >/dev/null 2>"$tmp/err"
grep -q "^stampvet run: --set: parameter 'mask_bits': 5000000000 is outside the allowed range \[0, 4294967295\]$" "$tmp/err" ||
    { echo "run: out-of-range parameter message:"; cat "$tmp/err"; exit 1; }
# inspect -o writes the summary into a file, nothing on stdout
"$sv" simulate --exposure --size 64 --detections 1 -q -o "$tmp/e" >/dev/null || exit 1
"$sv" inspect -o "$tmp/report.txt" "$tmp/e_det.fits" >"$tmp/stdout" || { echo "inspect -o failed"; exit 1; }
[ ! -s "$tmp/stdout" ] && grep -q "HDU 2" "$tmp/report.txt" || { echo "inspect -o: no report"; exit 1; }
"$sv" inspect -q -v x.fits 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "quiet and --verbose" "$tmp/err" || { echo "inspect -q -v accepted"; exit 1; }
# generated man pages and completion
man="$SV_BUILDDIR/man"
comp="$SV_BUILDDIR/stampvet.bash"
[ -f "$man/stampvet.1" ] || { echo "no generated man pages in $man (make all)"; exit 1; }
for c in $commands; do
    f="$man/stampvet-$c.1"
    [ -f "$f" ] || { echo "no man page for $c"; exit 1; }
    grep -q "^\.SH EXIT STATUS\|^exit status:" "$f" || { echo "$f: no exit status"; exit 1; }
    grep -q "stampvet $c" "$f" || { echo "$f: no synopsis"; exit 1; }
done
grep -q -- '--dump-config' "$man/stampvet-run.1" || { echo "run page lacks --dump-config"; exit 1; }
# the run page lists every stage parameter --dump-config prints
grep -q '^\.SH PARAMETERS' "$man/stampvet-run.1" || { echo "run page lacks PARAMETERS"; exit 1; }
for k in $("$sv" run --dump-config | sed -n 's/^\([a-z_][a-z0-9_]*\) *=.*/\1/p'); do
    grep -q "^$k *=" "$man/stampvet-run.1" || { echo "run page lacks parameter $k"; exit 1; }
done
bash -n "$comp" || { echo "$comp is not valid bash"; exit 1; }
for c in $commands; do
    grep -q "^    $c) opts=" "$comp" || { echo "completion lacks $c"; exit 1; }
done
out=$(bash -c ". '$comp'; COMP_WORDS=(stampvet run --dump); COMP_CWORD=2; _stampvet; echo \${COMPREPLY[*]}")
[ "$out" = "--dump-config" ] || { echo "completion of 'run --dump': '$out'"; exit 1; }
echo ok
