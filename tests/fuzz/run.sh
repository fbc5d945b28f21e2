#!/bin/sh
# run.sh HARNESS SEEDS SECONDS [READERS] — run the libFuzzer harness over
# each reader for SECONDS seconds (one process, one core, one reader after
# the other), starting from the seeds in SEEDS/<reader>/ and the corpus
# grown by earlier runs (fuzz-corpus/<reader>/ in the current folder).
# Findings go to fuzz-findings/<reader>/; a table of executions and
# findings per reader is printed and written to fuzz-report.txt.
# Exit status 1 when any reader has a finding.
set -u
harness=$1 seeds=$2 secs=$3 readers=${4:-}
[ -n "$readers" ] || readers=$(SV_FUZZ_READER=list "$harness") || exit 2
: >fuzz-report.txt
printf '%-12s %8s %12s %10s %9s\n' reader seconds executions exec/s findings | tee -a fuzz-report.txt
bad=0
for r in $readers; do
    mkdir -p "fuzz-corpus/$r" "fuzz-findings/$r"
    log="fuzz-findings/$r.log"
    # -rss_limit_mb / -malloc_limit_mb: a reader that allocates what a
    # header claims instead of what the file holds is a finding
    # keras: LeakSanitizer finds 56 bytes lost inside libhdf5 (not
    # instrumented, no symbols) after some damaged files: an open finding,
    # see tests/fuzz/README.md; leaks are not checked for that reader
    # avro: libavro leaks on its error paths (suppressed: alert_sanitizer.h),
    # and a leak, even suppressed, makes libFuzzer run LeakSanitizer after
    # every input: one input a second and an RSS that grows to the limit;
    # the reader's own good paths are leak-checked by tests/alert_score.sh
    # under the sanitizers
    leaks=1
    [ "$r" = keras ] || [ "$r" = avro ] && leaks=0
    SV_FUZZ_READER=$r "$harness" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
        -detect_leaks=$leaks \
        -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="fuzz-findings/$r/" "fuzz-corpus/$r" "$seeds/$r" >"$log" 2>&1
    st=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    n=$(ls "fuzz-findings/$r" | wc -l)
    [ $st -eq 0 ] || [ "$n" -gt 0 ] || n="?"   # died without an artifact: see the log
    rate=$(( ${runs:-0} / secs ))
    printf '%-12s %8s %12s %10s %9s\n' "$r" "$secs" "${runs:-?}" "$rate" "$n" | tee -a fuzz-report.txt
    # keras: HDF5 1.10 (Debian 12's libhdf5) has defects of its own in
    # decoding damaged files (tests/fuzz/README.md, open findings).  With
    # FUZZ_KNOWN_HDF5=1 (CI's smoke) a keras finding whose stack starts
    # inside libhdf5 (past the sanitizer's interceptors, allocators and
    # libc: a crash, a timeout, or a leak allocated there) is
    # reported, not failed on; a finding in our own code always fails.
    known=0
    if [ "$r" = keras ] && [ "${FUZZ_KNOWN_HDF5:-0}" = 1 ] && [ "$n" != 0 ]; then
        top=$(grep -E '^ *#[0-9]+ 0x' "$log" |
            grep -vE '__interceptor_|__asan|__sanitizer|__lsan| in (malloc|calloc|realloc|strdup) |libc\.so|libFuzzer|fuzzer::' |
            head -1)
        case $top in
        *libhdf5*)
            known=1
            echo "    $n finding(s) inside libhdf5 (tests/fuzz/README.md), not failed on:"
            echo "    $top" ;;
        esac
    fi
    if [ "$n" != 0 ] && [ $known = 0 ]; then
        bad=1
        grep -m3 -E 'ERROR|SUMMARY|leak|timeout|out-of-memory' "$log" | sed 's/^/    /'
    fi
done
exit $bad
