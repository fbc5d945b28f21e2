#!/bin/bash
# `stampvet batch` through faults, with nothing lost, on a stage module
# loaded by path (tests/batch_test_stage.so: the engine needs nothing but the
# ABI).  tests/batch_night.sh runs the same kinds of night on stampvet itself.
#  1. a night with a corrupt exposure in the middle, an output folder that is
#     a regular file (fails for root too) and a full disk (ulimit -f, with
#     SIGXFSZ ignored by the CLI): each fault is reported, the others
#     complete, the exit status is 1, no partial or temporary file is left;
#     a rerun skips what is complete and finishes the rest;
#  2. kill -9 in the middle of a night, then a rerun: it completes the rest,
#     every output verifies, none is partial or duplicated;
#  3. SIGTERM in the middle: exit 143, the summary so far is written, the
#     running exposure is cancelled, no partial file.
set -u
. "$SV_SRCDIR/tests/batch_lib.sh"
need_python
[ -f "$test_stage" ] || fail "test stage module not built: $test_stage"
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT

# one simulated night serves every part (python starts are the slow bit):
# part 1 takes e0000..e0011, parts 2 and 3 the 14 good exposures, each part
# with its own output folder
n="$tmp/n"
make_night "$n" 16 --corrupt 6 --big 9=30000
grep -v '^#' "$n/night.txt" | head -12 >"$n/night1.txt"
grep -v -e '^#' -e e0006 -e e0009 "$n/night.txt" | sed 's# out/# out2/#' >"$n/night2.txt"
sed 's# out2/# out3/#' "$n/night2.txt" >"$n/night3.txt"
mkdir -p "$n/out2" "$n/out3"

echo "== 1. corrupt exposure, unwritable folder, full disk"
touch "$n/blocker"
sed -i 's#out/e0003.fits#blocker/e0003.fits#' "$n/night1.txt"
(
    ulimit -f 300 # KiB in bash: e0009's output (~1.5 MB) cannot be written
    exec "$sv" batch "$n/night1.txt" --stage "$test_stage" --threads 2 \
        --summary "$n/s1.csv" --progress lines
) >"$n/log" 2>&1
rc=$?
cat "$n/log"
[ $rc -eq 1 ] || fail "exit status $rc with failed exposures, expected 1"
verify "$n/night1.txt" "$n/s1.csv" --ok 9 --failed 3 --failed-ids e0003,e0006,e0009 \
    --error e0006=e0006_sci.fits --error e0003=blocker/e0003.fits --error e0009=e0009.fits
grep -q "e0006 failed" "$n/log" || fail "the corrupt exposure is not reported on stderr"
[ ! -e "$n/out/e0009.fits" ] || fail "a truncated output was left for e0009"

echo "== 1b. rerun without the size limit: complete outputs are skipped"
"$sv" batch "$n/night1.txt" --stage "$test_stage" --threads 2 --summary "$n/s2.csv" \
    --progress none >"$n/log2" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "rerun exit status $rc, expected 1 (two exposures still fail)"
verify "$n/night1.txt" "$n/s2.csv" --ok 1 --skipped 9 --failed 2 --failed-ids e0003,e0006
echo "== 1c. --force redoes everything (with the live progress bar)"
"$sv" batch "$n/night1.txt" --stage "$test_stage" --threads 2 --summary "$n/s3.fits" \
    --force --progress bar >"$n/log3" 2>&1
[ $? -eq 1 ] || fail "--force exit status"
tr '\r' '\n' <"$n/log3" | sed 's/\x1b\[K//g' >"$n/log3.lines"
grep -q '^\[=*>* *\] 12/12 100%  2 failed .* det/s  ETA 0:00:00' "$n/log3.lines" ||
    fail "no final progress bar: $(tail -3 "$n/log3.lines")"
grep -q "^e0006: failed: .*e0006_sci.fits" "$n/log3.lines" ||
    fail "failure not printed above the bar"
"$sv" batch --merge-summaries "$n/s3.csv" "$n/s3.fits" >/dev/null
verify "$n/night1.txt" "$n/s3.csv" --ok 10 --skipped 0 --failed 2

echo "== 2. kill -9 in the middle, then rerun"
"$sv" batch "$n/night2.txt" --stage "$test_stage" --set delay_ms=120 --threads 2 \
    --summary "$n/k.csv" --progress none >"$n/log" 2>&1 &
pid=$!
wait_outputs "$n/out2" 5 $pid
kill -9 $pid
wait $pid 2>/dev/null
before=$(count_outputs "$n/out2")
echo "killed with $before of 14 outputs written"
[ "$before" -lt 14 ] || fail "the run ended before the kill; make the night longer"
[ ! -e "$n/k.csv" ] || fail "a killed run wrote a summary"
verify "$n/night2.txt" - --max-temp 2
"$sv" batch "$n/night2.txt" --stage "$test_stage" --set delay_ms=120 --threads 2 \
    --summary "$n/k.csv" --progress none >"$n/log2" 2>&1 || fail "rerun failed: $(cat "$n/log2")"
# the rerun removed the temporary files the killed run left (atomic_file.h)
verify "$n/night2.txt" "$n/k.csv" --skipped "$before" --ok $((14 - before)) --failed 0 \
    --max-temp 0

echo "== 3. SIGTERM in the middle"
"$sv" batch "$n/night3.txt" --stage "$test_stage" --set delay_ms=150 --threads 2 \
    --summary "$n/t.csv" --progress lines >"$n/log" 2>&1 &
pid=$!
wait_outputs "$n/out3" 4 $pid
kill -TERM $pid
start=$(date +%s%N)
wait $pid
rc=$?
took=$((($(date +%s%N) - start) / 1000000))
cat "$n/log"
echo "stopped in $took ms, exit status $rc"
[ $rc -eq 143 ] || fail "exit status $rc after SIGTERM, expected 143"
[ -f "$n/t.csv" ] || fail "no summary after SIGTERM"
[ $took -lt 2000 ] || fail "stopping took $took ms"
ok=$(grep -c ',ok,' "$n/t.csv")
cancelled=$(grep -c ',cancelled,' "$n/t.csv")
[ "$ok" -ge 4 ] && [ "$cancelled" -ge 1 ] && [ $((ok + cancelled)) -eq 14 ] ||
    fail "summary after SIGTERM: $ok ok, $cancelled cancelled"
verify "$n/night3.txt" "$n/t.csv" --failed 0 --max-temp 0
echo "all batch fault checks passed"
