#!/bin/sh
# mkman.sh STAMPVET OUTDIR — the man pages, from the --help texts: stampvet.1
# (the command list) and stampvet-CMD.1 for every command `stampvet --help`
# lists.  The text is the --help text itself (one source), set in roff;
# run at build time (make man), installed by make install.  stampvet-run.1
# also lists the stage's parameters (run --dump-config).
set -eu
sv=$1 out=$2
mkdir -p "$out"
version=$("$sv" --version | sed -n '1s/^stampvet \([^ ]*\).*/\1/p')
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
commands=$("$sv" --help | sed -n '/^commands:/,$s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
page() { # name summary helptext-file
    name=$1 summary=$2 text=$3
    up=$(echo "$name" | tr 'a-z' 'A-Z')
    {
        echo ".TH $up 1 \"\" \"stampvet $version\" \"stampvet manual\""
        echo ".SH NAME"
        echo "$name \\- $summary" | esc
        echo ".SH SYNOPSIS"
        echo ".nf"
        sed -n '/^usage:/,/^$/p' "$text" | sed -e '/^$/d' -e 's/^usage: //' -e 's/^       //' | esc
        echo ".fi"
        echo ".SH DESCRIPTION"
        echo ".nf"
        sed '1,/^$/d' "$text" | esc
        echo ".fi"
        if [ "$name" = stampvet-run ]; then
            # the stage's parameters, each with its help and default: the
            # text --dump-config prints (the same table the stage parses)
            echo ".SH PARAMETERS"
            echo "Set with --config FILE or --set KEY=VALUE; the defaults:"
            echo ".nf"
            "$sv" run --dump-config | esc
            echo ".fi"
        fi
        grep -q '^exit status:' "$text" || {
            echo ".SH EXIT STATUS"
            echo "0 success; 1 a data or processing failure (the message names the file and"
            echo "the problem); 2 a usage error."
        }
        echo ".SH SEE ALSO"
        if [ "$name" = stampvet ]; then
            echo "$commands" | sed 's/^/stampvet-/; s/$/(1)/' | paste -sd, - | sed 's/,/, /g'
        else
            echo "stampvet(1)"
        fi
    } >"$out/$name.1"
}
tmp=$(mktemp) && trap 'rm -f "$tmp"' EXIT
"$sv" --help >"$tmp"
page stampvet "real/bogus scoring and classification of difference-image detections" "$tmp"
for c in $commands; do
    "$sv" "$c" --help >"$tmp"
    summary=$("$sv" --help | sed -n "s/^  $c  *//p")
    page "stampvet-$c" "$summary" "$tmp"
done
